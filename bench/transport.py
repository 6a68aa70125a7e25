"""The bus transports side by side: command round trip and receive throughput.

    python bench/transport.py [--quick] [--only virtual|remote|socketcan] [--output PATH]

Round trip: a workstation-side ``CanLink`` sends ``Command(NOP)`` with an increasing ``Seq`` to
one ``SimulatedModule`` in a ``PumpRack`` and times its ``CommandAck`` (p50/p99/max). Receive:
frames/s a ``CanLink`` receives, decodes and checks while a sender blasts pre-encoded Status
frames. Transports: ``virtual`` (one process), ``remote`` (python-can-remote hub on 127.0.0.1;
module and sender in other processes) and ``socketcan`` vcan0 (the same, through
``scripts/vcan/run.py``: the host's vcan0 or a User-Mode Linux guest), else "not measured".
Details in bench/README.md. Never fails on a timing; ~30 s (``--quick`` ~20 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

import can

from bench.harness import REPO, RESULTS, environment, parser, read_results, write_results
from dbc.codec import FrameCodec
from dbc.errors import FrameError
from dbc.frames import Command, CommandAck, Frame
from dbc.link import BusSettings, CanLink
from dbc.vocabulary import CommandCode, ModuleKind
from pumps.module import SimulatedModule
from pumps.rack import PumpRack
from tests.bus.frame_samples import status_stream
from tests.buslab import remote_hub

VCAN_RUNNER = REPO / "scripts" / "vcan" / "run.py"
TRANSPORTS = ("virtual", "remote", "socketcan")
NODE = 1
WARMUP = 50
ACK_TIMEOUT_S = 1.0
SIZES = {False: (2000, 20000), True: (500, 5000)}  # (commands, frames) by --quick
IDLE_END_S = 2.0  # the receive run ends this long after the last frame (lost frames)


# -- round trip ---------------------------------------------------------------------------------
class AckTimer:
    def __init__(self) -> None:
        self.seq = -1
        self.future: asyncio.Future[float] | None = None

    def on_frame(self, frame: Frame) -> None:
        if isinstance(frame, CommandAck) and frame.node == NODE and frame.seq == self.seq \
                and self.future is not None and not self.future.done():
            self.future.set_result(time.perf_counter())


async def round_trips(settings: BusSettings, codec: FrameCodec, count: int) -> dict[str, Any]:
    timer = AckTimer()
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    lost = 0
    async with CanLink(settings, codec, timer.on_frame, name="bench-ws") as link:

        async def command(seq: int) -> float | None:
            timer.seq, timer.future = seq, loop.create_future()
            start = time.perf_counter()
            link.send(Command(node=NODE, seq=seq, command=CommandCode.NOP))
            try:
                return await asyncio.wait_for(timer.future, ACK_TIMEOUT_S) - start
            except TimeoutError:
                return None

        deadline = time.monotonic() + 60  # a module process starting in a slow guest
        while await command(0) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no Ack from node {NODE} on {settings.describe()}")
        for i in range(1, WARMUP + count + 1):
            took = await command(i % 256)
            if i <= WARMUP:
                continue
            if took is None:
                lost += 1
            else:
                samples.append(took * 1000)
    p = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 \
        else [float("nan")] * 99
    return {"commands": count, "answered": len(samples), "lost": lost,
            "p50_ms": statistics.median(samples), "p99_ms": p[98], "max_ms": max(samples),
            "mean_ms": statistics.fmean(samples)}


# -- receive throughput -------------------------------------------------------------------------
class RxCounter:
    def __init__(self) -> None:
        self.accepted = self.rejected = 0
        self.first = self.last = 0.0

    def _seen(self) -> None:
        self.last = time.perf_counter()
        if not self.first:
            self.first = self.last

    def on_frame(self, frame: Frame) -> None:
        self.accepted += 1
        self._seen()

    def on_error(self, exc: FrameError, msg: can.Message) -> None:
        self.rejected += 1
        self._seen()


def send_all(bus: can.BusABC, frames: list[can.Message]) -> float:
    """Send flat out; a full transmit queue (socketcan ENOBUFS) is waited out. Returns s."""
    start = time.perf_counter()
    for msg in frames:
        while True:
            try:
                bus.send(msg)
                break
            except can.CanOperationError:
                time.sleep(0.0005)
    return time.perf_counter() - start


async def receive_rate(settings: BusSettings, codec: FrameCodec, count: int,
                       start_sender: Callable[[], Callable[[], float | None]]
                       ) -> dict[str, Any]:
    """``start_sender()`` starts sending ``count`` frames and returns a function that waits for
    the sender to finish and returns its sending time (None if unknown)."""
    rx = RxCounter()
    async with CanLink(settings, codec, rx.on_frame, on_frame_error=rx.on_error, name="rx"):
        finish = start_sender()
        begun = time.perf_counter()
        while rx.accepted + rx.rejected < count:
            await asyncio.sleep(0.05)
            now = time.perf_counter()
            if (rx.last and now - rx.last > IDLE_END_S) or (not rx.last and now - begun > 60):
                break
        sending_s = await asyncio.to_thread(finish)
    got = rx.accepted + rx.rejected
    span = rx.last - rx.first
    return {"sent": count, "received": got, "accepted": rx.accepted, "rejected": rx.rejected,
            "frames_per_s": (got - 1) / span if got > 1 and span > 0 else 0.0,
            "sender_frames_per_s": count / sending_s if sending_s else None}


# -- transports ---------------------------------------------------------------------------------
async def measure_virtual(codec: FrameCodec, rounds: int, frames: int) -> dict[str, Any]:
    settings = BusSettings("virtual", f"bench-transport-{os.getpid()}")
    async with PumpRack(settings, [SimulatedModule(NODE, ModuleKind.VOLUMETRIC)], codec=codec):
        latency = await round_trips(settings, codec, rounds)
    stream = status_stream(codec, frames)

    def start_sender() -> Callable[[], float | None]:
        result: list[float] = []

        def blast() -> None:
            with can.Bus(interface="virtual", channel=settings.channel) as bus:
                result.append(send_all(bus, stream))

        def finish() -> float | None:
            thread.join()
            return result[0] if result else None

        thread = threading.Thread(target=blast, name="sender")
        thread.start()
        return finish

    receive = await receive_rate(settings, codec, frames, start_sender)
    return {"where": "one process: module rack in the same event loop, sender in a thread",
            "round_trip": latency, "receive": receive}


def spawn(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM its process group (its own session), SIGKILL if needed; returns its output."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return proc.communicate(timeout=5)[0] or ""
    return ""


async def measure_processes(settings: BusSettings, codec: FrameCodec, rounds: int,
                            frames: int) -> dict[str, Any]:
    """The module and the sender in their own processes, this one receiving."""
    pump = spawn([sys.executable, "-m", "icu_ws.cli", "pump", "--node", str(NODE),
                  "--interface", settings.interface, "--channel", settings.channel])
    try:
        latency = await round_trips(settings, codec, rounds)
    finally:
        stop(pump)

    def start_sender() -> Callable[[], float | None]:
        sender = spawn([sys.executable, str(Path(__file__).resolve()), "--sender",
                        settings.interface, settings.channel, str(frames)])

        def finish() -> float | None:
            try:
                out = sender.communicate(timeout=120)[0]
            except subprocess.TimeoutExpired:
                out = stop(sender)
            lines = [line for line in out.splitlines() if line.startswith("sent ")]
            return float(lines[-1].split()[3]) if lines else None
        return finish

    receive = await receive_rate(settings, codec, frames, start_sender)
    return {"round_trip": latency, "receive": receive}


async def measure_remote(codec: FrameCodec, rounds: int, frames: int) -> dict[str, Any]:
    with remote_hub() as channel:
        result = await measure_processes(BusSettings("remote", channel), codec, rounds, frames)
    return {"where": "python-can-remote hub on 127.0.0.1; module and sender in other processes",
            **result}


def measure_socketcan(quick: bool) -> dict[str, Any]:
    """Runs this script with ``--inside-vcan`` through scripts/vcan/run.py."""
    if not VCAN_RUNNER.is_file():
        return {"not_measured": "no vcan: scripts/vcan/run.py is missing"}
    spec = importlib.util.spec_from_file_location("vcan_run", VCAN_RUNNER)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    try:
        where = runner.where()
    except runner.VcanUnavailable as exc:
        return {"not_measured": f"no vcan: {exc}"}
    fragment = RESULTS / f"transport-vcan-{os.getpid()}.tmp"
    command = shlex.join([sys.executable, "bench/transport.py", "--inside-vcan", str(fragment),
                          *(["--quick"] if quick else [])])
    try:
        done = runner.run_in_vcan(command, timeout=150 if quick else 240, cwd=REPO)
        if done.returncode != 0 or not fragment.is_file():
            tail = " | ".join(done.stdout.strip().splitlines()[-4:])
            return {"not_measured": f"vcan run failed (status {done.returncode}): {tail}"}
        result: dict[str, Any] = json.loads(fragment.read_text())
    finally:
        fragment.unlink(missing_ok=True)
    where_text = "this host's vcan0" if where == "host" else \
        "vcan0 in a User-Mode Linux guest (one CPU shared by all processes)"
    return {"where": f"{where_text}; module and sender in other processes", **result}


# -- report -------------------------------------------------------------------------------------
def print_table(report: dict[str, Any]) -> None:
    results = report["transports"]
    names = [t for t in TRANSPORTS if t in results]
    print(f"transports, Python {report['python']}, python-can {report['python_can']}, "
          f"{report['cpu_count']} CPUs{' (quick)' if report['quick'] else ''}")
    print(f"{'':30}" + "".join(f"{n:>16}" for n in names))
    rows: list[tuple[str, str, str, str]] = [
        ("round trip p50 (ms)", "round_trip", "p50_ms", "{:.3f}"),
        ("round trip p99 (ms)", "round_trip", "p99_ms", "{:.3f}"),
        ("round trip max (ms)", "round_trip", "max_ms", "{:.3f}"),
        ("commands lost", "round_trip", "lost", "{}"),
        ("receive (frames/s)", "receive", "frames_per_s", "{:,.0f}"),
        ("sender (frames/s)", "receive", "sender_frames_per_s", "{:,.0f}"),
        ("frames received / sent", "receive", "received", "{}"),
    ]
    for label, part, key, fmt in rows:
        cells = []
        for n in names:
            r = results[n]
            if "not_measured" in r:
                cells.append("not measured")
                continue
            value = r[part].get(key)
            text = "-" if value is None else fmt.format(value)
            if key == "received":
                text += f"/{r[part]['sent']}"
            cells.append(text)
        print(f"{label:30}" + "".join(f"{c:>16}" for c in cells))
    for n in names:
        print(f"  {n}: {results[n].get('where') or results[n]['not_measured']}")


async def measure(only: list[str], quick: bool) -> dict[str, dict[str, Any]]:
    codec = FrameCodec()
    rounds, frames = SIZES[quick]
    out: dict[str, dict[str, Any]] = {}
    if "virtual" in only:
        out["virtual"] = await measure_virtual(codec, rounds, frames)
    if "remote" in only:
        out["remote"] = await measure_remote(codec, rounds, frames)
    if "socketcan" in only:
        out["socketcan"] = await asyncio.to_thread(measure_socketcan, quick)
    return out


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, "transport")
    cli.add_argument("--quick", action="store_true", help="500 commands, 5,000 frames")
    cli.add_argument("--only", action="append", choices=TRANSPORTS,
                     help="measure only this transport (repeatable); the others keep their "
                          "figures in the results file")
    cli.add_argument("--sender", nargs=3, metavar=("INTERFACE", "CHANNEL", "COUNT"),
                     help=argparse.SUPPRESS)  # internal: the blasting process
    cli.add_argument("--inside-vcan", type=Path, metavar="FRAGMENT",
                     help=argparse.SUPPRESS)  # internal: where vcan0 is up
    args = cli.parse_args(argv)
    if args.sender:
        interface, channel, count = args.sender
        stream = status_stream(FrameCodec(), int(count))
        with can.Bus(interface=interface, channel=channel) as bus:
            time.sleep(0.3)
            took = send_all(bus, stream)
            time.sleep(0.5)  # let a remote client flush before it closes
        print(f"sent {len(stream)} in {took:.6f} s", flush=True)
        return 0
    if args.inside_vcan:
        result = asyncio.run(measure_processes(BusSettings("socketcan", "vcan0"), FrameCodec(),
                                               *SIZES[args.quick]))
        args.inside_vcan.write_text(json.dumps(result))
        return 0

    only = args.only or list(TRANSPORTS)
    previous = read_results(args.output).get("transports", {}) if args.only else {}
    report = {
        **environment("python-can", "cantools"), "quick": args.quick,
        "transports": previous | asyncio.run(measure(only, args.quick)),
    }
    print_table(report)
    write_results(args.output, report, before="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
