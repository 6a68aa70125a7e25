"""How many workstations x channels one mosquitto and one central monitor keep up with.

    python bench/monitor_capacity.py [--quick] [--sizes N ...] [--seconds S] [--publishers P]
                                     [--no-app] [--output PATH]

A fresh mosquitto per size; the central monitor's own ``MqttFeed`` and ``MonitorModel`` in this
process (then the Textual ``MonitorApp``, headless); publisher processes simulating workstations
at 1 Hz per channel. Offered/received msg/s, loss, lag, CPU of each part. Goal: 100 x 16 =
1,600 msg/s kept up. See bench/README.md. Never fails on a timing; exit 2 without mosquitto.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

import aiomqtt

from bench.harness import REPO, environment, parser, write_results
from bench.timing import CLK_TCK, proc_cpu_s
from tests.mqttlab import Mosquitto, find_mosquitto
from tui.monitor.app import MonitorApp
from tui.monitor.feed import CONNECTED, MqttFeed
from tui.monitor.model import MonitorModel
from workstation.alarms import Alarm, AlarmChange, AlarmKey, AudioState, ChangeKind, Priority
from workstation.telemetry import payloads as tp
from workstation.telemetry.connection import BrokerAccess
from workstation.telemetry.mapping import TelemetryMapper
from workstation.telemetry.topics import Topics

CHANNELS = 16
GOAL_WORKSTATIONS = 100
ALARM_EVERY_S, ALARM_FOR_S = 30.0, 10.0
WARM_S = 3.0
MAX_LAG_S = 1.0  # kept up: lag p99 under one observation period, and (almost) nothing lost
SENTINEL_ID, SENTINEL_TIME = "f" * 32, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
SENTINEL_TIME_JSON = b'"2000-01-01T00:00:00Z"'


# == the publishers (child processes) ===========================================================
def template(payload: tp.ObservationPayload) -> tuple[bytes, bytes, bytes]:
    """The JSON around the id and the time, to render a fresh message cheaply."""
    head, rest = payload.model_dump_json().encode().split(SENTINEL_ID.encode(), 1)
    middle, tail = rest.split(SENTINEL_TIME_JSON, 1)
    return head, middle, tail


def render(t: tuple[bytes, bytes, bytes], when: bytes) -> bytes:
    return t[0] + uuid.uuid4().hex.encode() + t[1] + when + t[2]


class Station:
    """One simulated workstation: observation templates; status and alarms built by the
    workstation's own ``TelemetryMapper``."""

    def __init__(self, index: int) -> None:
        t = Topics("icu", f"unit-{index // 25 + 1}", f"bed-{index + 1}", f"ws-{index + 1:03d}")
        self.topics, self.mapper = t, TelemetryMapper(t, boot_id="bench")
        self.letters = [chr(ord("A") + i) for i in range(CHANNELS)]
        self.templates = [(t.observation(c), template(tp.ObservationPayload(
            id=SENTINEL_ID, time=SENTINEL_TIME, workstation=t.workstation, unit=t.unit,
            bed=t.bed, channel=c, label="Central line", online=True, state="INFUSING",
            mode="PRIMARY", drug="noradrenaline", concentration="8 mg/50 mL", dose=0.08,
            dose_unit="mcg/kg/min", rate_ml_h=4.2, programmed_rate_ml_h=4.2, vtbi_ml=50.0,
            volume_infused_ml=12.5 + i, volume_remaining_ml=37.5 - i, time_remaining_min=535,
            pressure_mmhg=85, battery_percent=96, on_mains=True)))
            for i, c in enumerate(self.letters)]
        self.seq = 0
        self.alarm: Alarm | None = None

    def status(self, state: str) -> bytes:
        return self.mapper.status(state, channels=self.letters, observation_period_s=1.0
                                  ).model_dump_json().encode()

    def alarm_messages(self) -> list[tuple[str, bytes, bool]]:
        """Raise an alarm on A, or clear the one raised: the change and the active list."""
        self.seq, now = self.seq + 1, time.monotonic()
        if self.alarm is None:
            self.alarm = Alarm(self.seq, AlarmKey("A", "OCCLUSION_DOWNSTREAM"), Priority.HIGH,
                               "Occlusion downstream", True, now, now)
            change = AlarmChange(ChangeKind.RAISED, self.alarm, now)
        else:
            change, self.alarm = AlarmChange(ChangeKind.REMOVED, self.alarm, now), None
        alarm = self.mapper.alarm(change, self.seq)
        active = self.mapper.active_alarms([self.alarm] if self.alarm else [], AudioState.ON,
                                           through_seq=self.seq)
        assert alarm is not None
        return [(self.topics.alarms, alarm.model_dump_json().encode(), False),
                (self.topics.active_alarms, active.model_dump_json().encode(), True)]


async def run_station(st: Station, client: aiomqtt.Client, start: float, end: float,
                      rng: random.Random, counts: dict[str, Any]) -> None:
    due = start + rng.random()
    alarm_due = start + rng.uniform(0.0, ALARM_EVERY_S)
    while due < end:
        await asyncio.sleep(max(0.0, due - time.time()))
        counts["late"].append(time.time() - due)
        when = f'"{dt.datetime.now(dt.UTC).isoformat()[:-6]}Z"'.encode()
        for topic, t in st.templates:
            await client.publish(topic, render(t, when), qos=0, retain=True)
        counts["observations"] += CHANNELS
        if due >= alarm_due:
            for topic, payload, retain in st.alarm_messages():
                await client.publish(topic, payload, qos=1, retain=retain)
                counts["alarms"] += 1
            alarm_due += ALARM_FOR_S if st.alarm is not None else ALARM_EVERY_S - ALARM_FOR_S
        due += 1.0


async def publisher_main(port: int, first: int, count: int) -> int:
    """Connect ``count`` workstations, say READY, wait for ``GO start end`` on stdin, publish,
    say DONE with the counts, and end at the next line or when stdin closes."""
    stations = [Station(i) for i in range(first, first + count)]
    sample = render(stations[0].templates[0][1], b'"2026-01-02T03:04:05Z"')
    assert isinstance(tp.parse_payload(sample), tp.ObservationPayload)  # the real contract
    counts: dict[str, Any] = {"observations": 0, "alarms": 0, "status": count, "late": []}
    readline = functools.partial(asyncio.get_running_loop().run_in_executor, None,
                                 sys.stdin.readline)
    async with contextlib.AsyncExitStack() as stack:
        pairs = [(st, await stack.enter_async_context(aiomqtt.Client(
            "127.0.0.1", port, identifier=f"bench-{st.topics.workstation}", keepalive=30,
            will=aiomqtt.Will(st.topics.status, st.status("offline"), qos=1, retain=True),
            timeout=10.0))) for st in stations]
        await asyncio.gather(*(c.publish(st.topics.status, st.status("online"), qos=1,
                                         retain=True) for st, c in pairs))
        print("READY", flush=True)
        line = await readline()
        if not line.startswith("GO "):
            return 1
        start, end = (float(x) for x in line.split()[1:3])
        rng = random.Random(first)
        await asyncio.gather(*(run_station(st, c, start, end, rng, counts) for st, c in pairs))
        late = sorted(counts.pop("late")) or [0.0]
        print("DONE " + json.dumps(counts | {"late_p99_s": late[int(0.99 * (len(late) - 1))],
                                             "late_max_s": late[-1]}), flush=True)
        await readline()  # stay measurable until told
    return 0


class Publishers:
    """The publisher processes, each in its own session (``stop()`` kills what is left)."""

    def __init__(self, log: Path) -> None:
        self.log, self.procs = log, list[asyncio.subprocess.Process]()

    async def start(self, port: int, workstations: int, processes: int) -> None:
        first = 0
        with self.log.open("w") as log:
            for i in range(processes):
                n = workstations // processes + (i < workstations % processes)
                self.procs.append(await asyncio.create_subprocess_exec(
                    sys.executable, str(Path(__file__).resolve()), "--publisher", str(port),
                    str(first), str(n), cwd=REPO, stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=log, start_new_session=True))
                first += n
        await self.read("READY", 60)

    async def read(self, prefix: str, timeout: float) -> list[str]:
        out = []
        async with asyncio.timeout(timeout):
            for p in self.procs:
                assert p.stdout is not None
                while not (line := (await p.stdout.readline()).decode()).startswith(prefix):
                    if not line:
                        raise RuntimeError(f"a publisher exited before {prefix}: "
                                           f"{self.log.read_text()[-800:]}")
                out.append(line[len(prefix):].strip())
        return out

    def tell(self, line: str) -> None:
        for p in self.procs:
            p.stdin.write(line.encode())  # type: ignore[union-attr]

    async def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in self.procs:
                if p.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(p.wait() for p in self.procs)), 5)
                return


# == the monitor (this process) =================================================================
class Meter:
    """What the monitor received: a count, and (receive time, lag) of every message."""

    def __init__(self) -> None:
        self.received, self.lags = 0, list[tuple[float, float]]()

    def seen(self, payload: bytes, now: float) -> None:
        self.received += 1
        i = payload.find(b'"time":"')
        if i >= 0:
            sent = dt.datetime.fromisoformat(payload[i + 8:payload.index(b'"', i + 8)].decode())
            self.lags.append((now, now - sent.timestamp()))


@contextlib.asynccontextmanager
async def monitor(broker: Mosquitto, meter: Meter, app: bool, model: MonitorModel
                  ) -> AsyncIterator[Callable[[], bool]]:
    """The monitor (model and feed, or the app), running; yields "is it connected"."""
    feed = MqttFeed(BrokerAccess.build(broker.url), retry_s=0.5)
    if app:  # the app as it is; the meter after its own ingest
        ui = MonitorApp(model, feed=feed)

        def ingest(topic: str, payload: bytes, retained: bool = False) -> None:
            MonitorApp.ingest(ui, topic, payload, retained)
            meter.seen(payload, time.time())

        ui.ingest = ingest  # type: ignore[method-assign]
        async with ui.run_test(headless=True, size=(160, 50)):
            yield lambda: ui.connection == CONNECTED
        return
    states: list[str] = []

    def on_message(topic: str, payload: bytes, retained: bool) -> None:
        now = time.time()
        model.ingest(topic, payload, now, retained=retained)
        meter.seen(payload, now)

    task = asyncio.create_task(feed.run(on_message, states.append))
    try:
        yield lambda: states[-1:] == [CONNECTED]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def cpu_sample(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU s so far: this process, the others' /proc/PID/stat, the machine's /proc/stat."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return {"monitor": ru.ru_utime + ru.ru_stime, "wall": time.time(),
            "machine": (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK,
            **{role: sum(proc_cpu_s(p) for p in ids) for role, ids in pids.items()}}


def summary(values: list[float]) -> dict[str, float | None]:
    v = sorted(values)
    return {k: round(v[int(q * (len(v) - 1))], 4) if v else None
            for k, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))}


async def measure(workstations: int, seconds: float, processes: int, folder: Path,
                  app: bool = False) -> dict[str, Any]:
    label = f"{workstations}{'-app' if app else ''}"
    meter, pubs, model = Meter(), Publishers(folder / f"publishers-{label}.log"), MonitorModel()
    try:
        with Mosquitto(folder / f"broker-{label}") as broker:
            async with monitor(broker, meter, app, model) as connected:
                async with asyncio.timeout(10):
                    while not connected():
                        await asyncio.sleep(0.02)
                await pubs.start(broker.port, workstations, processes)
                start = time.time() + 0.5
                pubs.tell(f"GO {start} {start + seconds}\n")
                assert broker.pid is not None
                pids = {"mosquitto": [broker.pid], "publishers": [p.pid for p in pubs.procs]}
                await asyncio.sleep(start + WARM_S - time.time())
                c0, n0 = cpu_sample(pids), meter.received
                await asyncio.sleep(start + seconds - time.time())
                c1, n1 = cpu_sample(pids), meter.received
                done = [json.loads(line) for line in await pubs.read("DONE", 30)]
                pubs.tell("BYE\n")
                offered = sum(d["observations"] + d["alarms"] + d["status"] for d in done)
                drain0, last = time.time(), -1  # until all arrived, or nothing for 2 s
                while meter.received < offered and meter.received != last \
                        and time.time() - drain0 < 30:
                    last = meter.received
                    await asyncio.sleep(2.0)
                drain_s = time.time() - drain0
    finally:
        await pubs.stop()
    wall = c1["wall"] - c0["wall"]
    lags = summary([lag for t, lag in meter.lags if t >= start + WARM_S])
    lost = offered - meter.received
    offered_s = sum(d["observations"] + d["alarms"] for d in done) / seconds
    cpu = {k: round((c1[k] - c0[k]) / wall * 100.0, 1) for k in c0 if k != "wall"}
    return {
        "workstations": workstations, "channels": CHANNELS, "app": app, "seconds": seconds,
        "target_msgs_per_s": workstations * CHANNELS, "offered_msgs_per_s": round(offered_s, 1),
        "received_msgs_per_s": round((n1 - n0) / wall, 1), "offered_total": offered,
        "received_total": meter.received, "lost": lost, "loss_pct": round(100 * lost / offered, 3),
        "lag_s": lags, "drain_s": round(drain_s, 2), "cpu_pct_of_one_core": cpu,
        "publisher_late_p99_s": max(d["late_p99_s"] for d in done),
        "model": {"workstations": len(model.workstations()), "dropped": dict(model.dropped),
                  "alarms_shown": len(model.alarms(time.time()))},
        "kept_up": lost <= 0.001 * offered and (lags["p99"] or 0.0) < MAX_LAG_S}


# == report =====================================================================================
COLUMNS = (("ws x ch", 12), ("target/s", 8), ("offered/s", 9), ("recv/s", 7), ("lost", 5),
           ("lag p50", 8), ("lag p99", 8), ("lag max", 8), ("mon %", 6), ("mosq %", 6),
           ("pubs %", 6), ("all %", 6), ("kept", 5))


async def bench(sizes: list[int], seconds: float, processes: int, app: bool, folder: Path
                ) -> list[dict[str, Any]]:
    print(" ".join(f"{name:>{w}}" for name, w in COLUMNS))
    results = []
    for n, with_app in [(n, False) for n in sizes] + ([(GOAL_WORKSTATIONS, True)] * app):
        results.append(r := await measure(n, seconds, processes, folder, with_app))
        c, lag = r["cpu_pct_of_one_core"], {k: (v or 0.0) * 1000 for k, v in r["lag_s"].items()}
        cells = (f"{n} x {CHANNELS}{' app' if with_app else ''}", r["target_msgs_per_s"],
                 f"{r['offered_msgs_per_s']:.0f}", f"{r['received_msgs_per_s']:.0f}", r["lost"],
                 f"{lag['p50']:.1f} ms", f"{lag['p99']:.1f} ms", f"{lag['max']:.0f} ms",
                 c["monitor"], c["mosquitto"], c["publishers"], c["machine"],
                 "yes" if r["kept_up"] else "NO")
        print(" ".join(f"{cell:>{w}}" for cell, (_, w) in zip(cells, COLUMNS, strict=True)),
              flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, "monitor_capacity")
    cli.add_argument("--quick", action="store_true", help="25 and 100 workstations, 10 s")
    cli.add_argument("--sizes", type=int, nargs="+", help="default 25 50 100 200 400")
    cli.add_argument("--seconds", type=float, help="per size (default 20)")
    cli.add_argument("--publishers", type=int, default=2, help="processes (default 2)")
    cli.add_argument("--no-app", action="store_true", help="skip the Textual app run")
    cli.add_argument("--publisher", nargs=3, type=int, help=argparse.SUPPRESS)  # internal
    args = cli.parse_args(argv)
    if args.publisher:
        return asyncio.run(publisher_main(*args.publisher))
    if (exe := find_mosquitto()) is None:
        print("monitor_capacity: mosquitto is not installed (PATH, /usr/sbin): apt-get install "
              "mosquitto (scripts/test.sh does)", file=sys.stderr)
        return 2
    sizes = args.sizes or ([25, 100] if args.quick else [25, 50, 100, 200, 400])
    seconds = args.seconds or (10.0 if args.quick else 20.0)
    started, load0 = time.time(), os.getloadavg()
    print(f"monitor capacity: {CHANNELS} channels at 1 Hz per workstation, one aiomqtt client "
          f"each, in {args.publishers} processes; {seconds:g} s per size, {WARM_S:g} s warm-up; "
          f"{os.cpu_count()} CPUs, load {load0[0]:.2f}; CPU in % of one core")
    for sig in (signal.SIGINT, signal.SIGTERM):  # both end it cleanly: tasks cancelled
        signal.signal(sig, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="bench-mc-") as tmp:
        try:
            results = asyncio.run(bench(sizes, seconds, args.publishers, not args.no_app,
                                        Path(tmp)))
        except KeyboardInterrupt:
            print("interrupted: stopped what was started", file=sys.stderr)
            return 130
    report = {
        **environment("aiomqtt", "paho-mqtt", "pydantic", "textual"),
        "load_average_at_start": load0,
        "mosquitto": exe, "publisher_processes": args.publishers, "channels": CHANNELS,
        "goal_msgs_per_s": GOAL_WORKSTATIONS * CHANNELS, "kept_up_means":
        f"loss <= 0.1 % and lag p99 < {MAX_LAG_S:g} s", "results": results,
        "wall_s": round(time.time() - started, 1)}
    write_results(args.output, report, before=f"\n{report['wall_s']:.0f} s; ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
