"""Telemetry alarm latency: a pump's condition -> an MQTT subscriber, through a real mosquitto.

    python bench/telemetry_latency.py [--samples N] [--quick] [--no-load]
                                      [--variant shipped|nagle] [--output PATH]

A demo workstation with telemetry to a real mosquitto and an aiomqtt subscriber on
``icu/+/+/+/alarms``, in this process: pump door opened on infusing channel A -> the
subscriber has the alarm's ``raise``, split into supervisor, outbox, publisher wake-up, MQTT and
subscriber; 8 and 32 channels, as shipped (TCP_NODELAY on both ends) and, for comparison,
with Nagle's algorithm left on at both ends, as before. Goal: p99 < 50 ms. See
bench/README.md. Never fails on a timing; exit status 2 without mosquitto.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

import aiomqtt

import workstation.demo as demo
from bench.harness import environment, parser, write_results
from bench.timing import wait_until
from bench.ws_alarm import acknowledge_all, restart
from pumps.module import Fault
from tests.mqttlab import Mosquitto, find_mosquitto
from workstation.alarms import AlarmKey, ChangeKind
from workstation.api import Workstation
from workstation.config import TelemetryConfig, demo_config
from workstation.supervisor import Notice
from workstation.telemetry.connection import NO_NAGLE, BrokerAccess
from workstation.telemetry.outbox import OutboxMessage

GOAL_P99_MS = 50.0
LETTER = "A"  # volumetric in demo_config
ORDER = demo.DEMO_ORDERS["volumetric"][0]  # what A is (re)started with between samples
CONDITION = "DOOR_OPEN"
TIMEOUT_S = 5.0
LABELS = {"total": "door opened -> subscriber (total)",
          "supervisor": "  CAN + supervisor (+ event log)",
          "outbox": "  outbox put (payload, SQLite commit)",
          "publisher_wakeup": "  publisher wake-up -> _drain",
          "mqtt": "  publish -> mosquitto -> subscriber",
          "subscriber": "  subscriber's queue -> app"}
SEGMENTS = tuple(LABELS)
VARIANTS = ("shipped", "nagle")
NODELAY_CONF = "set_tcp_nodelay true\n"
STALL_S = 0.02  # event-loop lateness counted as a stall
POLL_S = 0.005  # how often a wait for a state (connected, online, infusing) looks
now = time.monotonic


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """n, min, p50, p90, p99 (nearest rank), max, mean in ms."""
    ms = sorted(s * 1000.0 for s in seconds)
    if not ms:
        return {"n": 0}
    out = {"min": ms[0], **{f"p{q}": ms[max(1, math.ceil(q / 100 * len(ms))) - 1]
                            for q in (50, 90, 99)}, "max": ms[-1], "mean": sum(ms) / len(ms)}
    return {"n": len(ms), **{k: round(v, 3) for k, v in out.items()}}


@contextlib.contextmanager
def workstation_nagle(on: bool) -> Iterator[None]:
    """What-if: the workstation's aiomqtt client WITHOUT TCP_NODELAY, as it was before
    (BrokerAccess.client wrapped; aiomqtt sets ``socket_options`` once connected)."""
    original = BrokerAccess.client

    def client(self: BrokerAccess, **kwargs: Any) -> aiomqtt.Client:
        made = original(self, **kwargs)
        made._socket_options = tuple(o for o in made._socket_options if o not in NO_NAGLE)
        return made

    BrokerAccess.client = client if on else original  # type: ignore[method-assign]
    try:
        yield
    finally:
        BrokerAccess.client = original  # type: ignore[method-assign]


async def watch_loop(stalls: list[float]) -> None:
    """Records how late a 5 ms sleep wakes up when over STALL_S: the event loop was busy."""
    while True:
        t = now()
        await asyncio.sleep(0.005)
        late = now() - t - 0.005
        if late > STALL_S:
            stalls.append(late)


# -- the subscriber --------------------------------------------------------------------------
class StampedQueue(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's incoming queue, noting when paho handed each message over."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.stamps: collections.deque[float] = collections.deque()

    def put_nowait(self, item: aiomqtt.Message) -> None:
        self.stamps.append(now())
        super().put_nowait(item)


class AlarmSubscriber:
    """Waits for the ``raise`` of one (channel, condition); records both reception times."""

    def __init__(self, port: int) -> None:
        self.client = aiomqtt.Client("127.0.0.1", port, identifier=f"bench-lat-{os.getpid()}",
                                     queue_type=StampedQueue, timeout=5.0)
        assert isinstance(self.client._queue, StampedQueue)
        self.queue = self.client._queue
        self.want: tuple[str, str] | None = None
        self.got: asyncio.Future[tuple[float, float, int]] | None = None  # paho, app, seq
        self.seen: set[str] = set()  # alarm refs already raised
        self.subscribed = asyncio.Event()
        self.messages = 0

    async def run(self) -> None:
        async with self.client:
            await self.client.subscribe("icu/+/+/+/alarms", qos=1)
            self.subscribed.set()
            async for message in self.client.messages:
                t_app = now()
                t_paho = self.queue.stamps.popleft()
                self.messages += 1
                assert isinstance(message.payload, bytes)
                p = json.loads(message.payload)
                alarm = p["alarm"]
                if p["change"] != "raise" or alarm["ref"] in self.seen:
                    continue
                self.seen.add(alarm["ref"])
                if self.want == (alarm["channel"], alarm["condition"]) and \
                        self.got is not None and not self.got.done():
                    self.got.set_result((t_paho, t_app, int(p["seq"])))


# -- probes in the workstation ---------------------------------------------------------------
class Probes:
    """When the supervisor's first and last listeners hear RAISED (the telemetry publisher's
    listener is in between) and when the publisher takes an alarm from its outbox."""

    def __init__(self, ws: Workstation, key: AlarmKey) -> None:
        self.key, self.raised, self.cleared = key, [0.0, 0.0], asyncio.Event()
        self.dequeued: dict[int, float] = {}
        ws.supervisor.listeners.insert(0, lambda notice: self._heard(notice, 0))
        ws.supervisor.listeners.append(lambda notice: self._heard(notice, 1))
        assert ws.telemetry is not None
        outbox = ws.telemetry.outbox
        pending = outbox.pending

        def timed_pending(limit: int = 100, *, after: int = 0) -> list[OutboxMessage]:
            batch = pending(limit, after=after)
            for m in batch:
                if m.topic.endswith("/alarms"):
                    self.dequeued.setdefault(m.seq, now())
            return batch

        outbox.pending = timed_pending  # type: ignore[method-assign]

    def _heard(self, notice: Notice, which: int) -> None:
        for change in notice.alarm_changes:
            if change.alarm is None or change.alarm.key != self.key:
                continue
            if change.kind is ChangeKind.RAISED and not self.raised[which]:
                self.raised[which] = now()
            elif change.kind is ChangeKind.REMOVED:
                self.cleared.set()


# -- one scenario --------------------------------------------------------------------------------
async def scenario(name: str, channels: int, all_infusing: bool, samples: int,
                   broker: Mosquitto, folder: Path, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    telemetry = TelemetryConfig(enabled=True, url=broker.url, outbox=folder / f"{name}-out.db")
    config = demo_config(channels, channel_prefix=f"bench-tl-{name}-{os.getpid()}",
                         event_log=folder / f"{name}-events.db", telemetry=telemetry)
    sub = AlarmSubscriber(broker.port)
    sub_task = asyncio.create_task(sub.run(), name="subscriber")
    parts: dict[str, list[float]] = {s: [] for s in SEGMENTS}
    failures: list[str] = []
    stalls: list[float] = []
    watcher = asyncio.create_task(watch_loop(stalls), name="loop-watch")
    try:
        await asyncio.wait_for(sub.subscribed.wait(), TIMEOUT_S)
        async with demo.demo_workstation(config=config, event_log=config.event_log
                                         ) as (ws, racks):
            publisher = ws.telemetry
            assert publisher is not None
            controllers = list(ws.supervisor.controllers.values())
            await wait_until(lambda: publisher.connected, TIMEOUT_S, "telemetry connected",
                             POLL_S)
            await wait_until(lambda: all(c.online for c in controllers), 10.0, "modules online",
                             POLL_S)
            if all_infusing:
                problems = await demo.start_demo_infusions(ws, user="bench")
            else:
                problems = []
                await restart(ws, LETTER, ORDER, TIMEOUT_S, POLL_S)
            await wait_until(lambda: sum(c.infusing for c in controllers)
                             >= (channels if all_infusing else 1), 10.0, "infusing", POLL_S)
            module = demo.module_for(config, racks, LETTER)
            assert module is not None
            probes = Probes(ws, AlarmKey(LETTER, CONDITION))
            sub.want = (LETTER, CONDITION)
            loop = asyncio.get_running_loop()
            ru0, wall0 = resource.getrusage(resource.RUSAGE_SELF), now()
            stalls.clear()
            for trial in range(samples):
                try:
                    await asyncio.sleep(rng.uniform(0.0, 0.25))  # random phase to the traffic
                    probes.raised[:] = [0.0, 0.0]
                    probes.cleared.clear()
                    sub.got = loop.create_future()
                    t0 = now()
                    module.inject(Fault.DOOR, 1)
                    t_paho, t_app, seq = await asyncio.wait_for(sub.got, TIMEOUT_S)
                    (t_sup, t_put), t_deq = probes.raised, probes.dequeued.get(seq)
                    if not t_sup or not t_put or t_deq is None:
                        raise RuntimeError(f"a probe missed: {t_sup=} {t_put=} {t_deq=}")
                    for part, value in zip(SEGMENTS, (
                            t_app - t0, t_sup - t0, t_put - t_sup, t_deq - t_put,
                            t_paho - t_deq, t_app - t_paho), strict=True):
                        parts[part].append(value)
                except (TimeoutError, RuntimeError) as exc:
                    failures.append(f"trial {trial}: {type(exc).__name__}: {exc}")
                    if len(failures) > 5:
                        break
                finally:  # close the door, acknowledge (latched: it goes once closed), restart
                    module.inject(Fault.DOOR, 0)
                    acknowledge_all(ws, LETTER)
                    try:
                        await restart(ws, LETTER, ORDER, TIMEOUT_S, POLL_S)
                        await asyncio.wait_for(probes.cleared.wait(), TIMEOUT_S)
                    except Exception as exc:  # noted; the next trial tries again
                        failures.append(f"trial {trial} reset: {type(exc).__name__}: {exc}")
            ru1, wall = resource.getrusage(resource.RUSAGE_SELF), now() - wall0
            cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            infusing = sum(c.infusing for c in controllers)
            sent = publisher.sent
            n_stalls, worst_stall = len(stalls), max(stalls, default=0.0)
    finally:
        for task in (sub_task, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
    total = summary_ms(parts["total"])
    rows = sorted(zip(*(parts[p] for p in SEGMENTS), strict=True), reverse=True)[:5]
    return {
        "scenario": name, "channels": channels,
        "infusing": "all" if all_infusing else LETTER, "infusing_at_end": infusing,
        "samples": samples, "completed": len(parts["total"]), "failures": failures,
        "setup_problems": problems, "seconds": round(wall, 1),
        "process_cpu_pct": round(cpu / wall * 100.0, 1),
        "outbox_messages_sent": sent, "alarm_messages_received": sub.messages,
        "segments_ms": {part: summary_ms(values) for part, values in parts.items()},
        "slowest_ms": [{p: round(v * 1000, 2) for p, v in zip(SEGMENTS, row, strict=True)}
                       for row in rows],
        "loop_stalls": {"over_ms": STALL_S * 1000, "count": n_stalls,
                        "worst_ms": round(worst_stall * 1000, 1)},
        "goal_p99_ms": GOAL_P99_MS,
        "goal_met": bool(parts["total"]) and total["p99"] < GOAL_P99_MS,
    }


# -- report --------------------------------------------------------------------------------------
def print_result(r: dict[str, Any]) -> None:
    print(f"\n{r['variant']}, {r['scenario']}: {r['channels']} channels, infusing "
          f"{r['infusing']}; {r['completed']}/{r['samples']} samples in {r['seconds']:.0f} s, "
          f"process CPU {r['process_cpu_pct']:.0f} % of one core, event loop late > "
          f"{STALL_S * 1000:g} ms {r['loop_stalls']['count']} times (worst "
          f"{r['loop_stalls']['worst_ms']:.0f} ms)")
    print(f"   {'':40} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for part in SEGMENTS:
        s = r["segments_ms"][part]
        if s.get("n"):
            print(f"   {LABELS[part]:40} {s['p50']:>8.2f} {s['p90']:>8.2f} {s['p99']:>8.2f} "
                  f"{s['max']:>8.2f}")
    met = "met" if r["goal_met"] else "MISSED"
    print(f"   goal p99 < {GOAL_P99_MS:g} ms: {met}; slowest: " + ", ".join(
        f"{s['total']:.0f} (wake-up {s['publisher_wakeup']:.0f}, mqtt {s['mqtt']:.0f})"
        for s in r["slowest_ms"][:3]))
    for f in r["failures"] or []:
        print(f"   failure: {f}")


async def measure(samples: int, load: bool, variants: list[str], folder: Path
                  ) -> list[dict[str, Any]]:
    results = []
    plan = [("idle", 8, False)] + ([("loaded", 32, True)] if load else [])
    for variant in variants:
        broker, nagle = Mosquitto(folder / f"mosquitto-{variant}"), variant == "nagle"
        if nagle:  # the lab's config without set_tcp_nodelay: Nagle on at mosquitto's side
            broker.config_file.write_text(
                broker.config_file.read_text().replace(NODELAY_CONF, ""))
        with broker, workstation_nagle(nagle):
            for name, channels, all_infusing in plan:
                r = await scenario(f"{name}-{variant}", channels, all_infusing, samples,
                                   broker, folder)
                r["scenario"], r["variant"] = name, variant
                print_result(r)
                results.append(r)
    return results


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, "telemetry_latency")
    cli.add_argument("--samples", type=int, default=300, help="per scenario (default 300)")
    cli.add_argument("--quick", action="store_true", help="200 samples")
    cli.add_argument("--no-load", action="store_true", help="skip the 32-channel scenario")
    cli.add_argument("--variant", action="append", choices=VARIANTS,
                     help="shipped (TCP_NODELAY both ends) or nagle (both ends without, "
                          "as before); default both")
    args = cli.parse_args(argv)
    if (exe := find_mosquitto()) is None:
        print("telemetry_latency: mosquitto is not installed (PATH, /usr/sbin): apt-get install "
              "mosquitto (scripts/test.sh does)", file=sys.stderr)
        return 2
    samples = 200 if args.quick else max(args.samples, 1)
    started, load0 = now(), os.getloadavg()
    print(f"telemetry latency: Python {platform.python_version()}, aiomqtt "
          f"{version('aiomqtt')}, {os.cpu_count()} CPUs, load average {load0[0]:.2f}")
    for sig in (signal.SIGINT, signal.SIGTERM):  # both end it cleanly: tasks cancelled
        signal.signal(sig, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="bench-tl-") as tmp:
        try:
            results = asyncio.run(measure(samples, not args.no_load,
                                          args.variant or list(VARIANTS), Path(tmp)))
        except KeyboardInterrupt:
            print("interrupted: stopped what was started", file=sys.stderr)
            return 130
    report = {
        **environment("aiomqtt", "paho-mqtt", "python-can"),
        "load_average_at_start": load0,
        "mosquitto": subprocess.run([exe, "-h"], capture_output=True, text=True,
                                    check=False).stdout.split("\n", 1)[0],
        "goal_p99_ms": GOAL_P99_MS,
        "fault": f"{LETTER}: Fault.DOOR while infusing -> {CONDITION} HIGH latching",
        "scenarios": results, "wall_s": round(now() - started, 1)}
    write_results(args.output, report, before=f"\n{report['wall_s']:.0f} s; ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
