"""Process helpers and transport adapters ("rigs") for the cross-process suite.

A rig runs one workstation and simulated pump modules on one transport and gives the scenarios
the same few operations whatever the transport:

- ``ProcessRig``: the workstation (``ws_driver``: ``icu-ws run --headless`` plus a command
  channel) and the pumps (``icu-ws pump``, one process per group of ``--node``s) are separate
  processes on ``remote`` (a python-can-remote hub on 127.0.0.1) or ``socketcan`` (vcan0).
- ``InProcessRig``: the same ``Workstation`` and ``simulated_racks`` in the test's own event
  loop on python-can ``virtual``: a failure on one transport only is told apart from a bug in
  our code. "Kill a process" is "stop its rack or workstation" there.

Every child runs in its own session; ``close`` (always called, in ``finally``) kills each
process group that is still there.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import importlib.util
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import can

from pumps.module import Fault
from pumps.rack import PumpRack
from tests.buslab import codec
from tests.crossprocess import ws_driver
from workstation.api import Workstation
from workstation.config import WorkstationConfig, load_config
from workstation.demo import simulated_racks
from workstation.eventlog import EventKind, EventLog, LogRow
from workstation.headless import run_headless

ROOT = Path(__file__).resolve().parents[2]
DBC_PATH = ROOT / "dbc" / "infusion.dbc"
SPEED = 60.0  # module clock: an hour of infusion in a minute
STATUS_EVERY_S = 0.5
BACKSTOP_S = 300.0  # pumps stop by themselves after this, should a test runner die
T = TypeVar("T")


def vcan_runner() -> ModuleType:
    """``scripts/vcan/run.py`` (not a package) as a module: ``run_in_vcan``, ``where``..."""
    name = "icu_ws_vcan_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "vcan" / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# -- configuration ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Chan:
    """One configured channel and the simulated module in its slot."""

    letter: str
    slot: int
    kind: str  # "volumetric" or "syringe"
    label: str

    @property
    def status_prefix(self) -> str:
        """The start of this channel's headless status line (``ChannelSnapshot.status_line``)."""
        return f"{self.letter:>2} {self.label[:16]:<16} "


def write_config(path: Path, *, interface: str, channel: str, chans: Sequence[Chan],
                 event_log: Path) -> Path:
    """A workstation config for one bus; modules are declared lost after 2 s (the minimum)."""
    lines = [f"name = \"xp-{interface}\"", f"event_log = {json.dumps(str(event_log))}",
             "[heartbeat]", "module_timeout_s = 2.0",
             "[[buses]]", 'name = "can0"', f"interface = {json.dumps(interface)}",
             f"channel = {json.dumps(channel)}"]
    for c in chans:
        lines += ["[[channels]]", f'letter = "{c.letter}"', f"slot = {c.slot}", 'bus = "can0"',
                  f'kind = "{c.kind}"', f"label = {json.dumps(c.label)}"]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- processes ----------------------------------------------------------------------------------
class Proc:
    """A child process in its own session; stdout and stderr collected line by line."""

    def __init__(self, argv: Sequence[str], *, name: str, stdin: bool = True) -> None:
        self.name = name
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._collect, name=f"{name}-out", daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.on_line(line.rstrip("\n"))

    def on_line(self, line: str) -> None:
        self.lines.append(line)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self, since: int = 0) -> str:
        return "\n".join(self.lines[since:])

    def tail(self, n: int = 40) -> str:
        return f"--- last lines of {self.name} ---\n" + "\n".join(self.lines[-n:])

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None, f"{self.name}: no stdin"
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    async def wait_for(self, text: str, *, since: int = 0, timeout: float = 15.0,
                       count: int = 1) -> int:
        """Wait until ``text`` occurs ``count`` times in lines[since:]; the index after it."""
        deadline = time.monotonic() + timeout
        while True:
            seen = 0
            for i in range(since, len(self.lines)):
                if text in self.lines[i]:
                    seen += 1
                    if seen >= count:
                        return i + 1
            if not self.alive:
                await asyncio.sleep(0.1)  # let the reader catch the last lines
                raise AssertionError(f"{self.name} exited {self.proc.returncode} before "
                                     f"{text!r}\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from {self.name} within {timeout} s\n"
                                     f"{self.tail()}")
            await asyncio.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the whole process group (no clean-up in the child)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._reader.join(2)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; the group is always gone afterwards."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self.kill()  # children left in the group, if any
        return self.proc.returncode


def icu_ws(*args: str) -> list[str]:
    return [sys.executable, "-m", "workstation.cli", *args]


class PumpProc(Proc):
    """``icu-ws pump`` with the given nodes, faults on stdin (``NODE FAULT [VALUE]``)."""

    def __init__(self, chans: Sequence[Chan], *, interface: str, channel: str,
                 speed: float = SPEED) -> None:
        nodes = [a for c in chans for a in ("--node", f"{c.slot}:{c.kind}")]
        super().__init__(icu_ws("pump", *nodes, "--interface", interface, "--channel", channel,
                                "--speed", f"{speed:g}", "--control", "stdin",
                                "--duration", f"{BACKSTOP_S:g}"),
                         name=f"pumps {','.join(str(c.slot) for c in chans)}")
        self.slots = {c.slot for c in chans}


class WsProc(Proc):
    """The workstation process: ``ws_driver`` (headless output plus JSON answers), or with
    ``driver=False`` the shipped ``icu-ws run --headless`` itself (output only)."""

    def __init__(self, config: Path, *, driver: bool = True) -> None:
        self.replies: list[dict[str, Any]] = []
        self.driver = driver
        self._asked = 0
        every = f"{STATUS_EVERY_S:g}"
        argv = [sys.executable, "-m", "tests.crossprocess.ws_driver", "--config", str(config),
                "--status-every", every] if driver else \
            icu_ws("run", "--config", str(config), "--headless", "--status-every", every)
        super().__init__(argv, name="workstation" if driver else "icu-ws run")

    def on_line(self, line: str) -> None:
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                self.replies.append(json.loads(line))
                return
        super().on_line(line)

    async def ready(self, timeout: float = 30.0) -> None:
        if not self.driver:
            await self.wait_for("--- ", timeout=timeout)  # its first status block
            return
        await self._reply(0, timeout)
        self._asked = 1

    async def ask(self, line: str, timeout: float = 15.0) -> dict[str, Any]:
        assert self.driver, f"{self.name} has no command channel"
        index = self._asked
        self._asked += 1
        self.send(line)
        return await self._reply(index, timeout)

    async def _reply(self, index: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while len(self.replies) <= index:
            if not self.alive:
                await asyncio.sleep(0.1)
                raise AssertionError(f"workstation exited {self.proc.returncode} before "
                                     f"answering\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"workstation: no answer within {timeout} s\n{self.tail()}")
            await asyncio.sleep(0.01)
        return self.replies[index]


# -- bus capture and raw frames ------------------------------------------------------------------
@dataclass(frozen=True)
class RawFrame:
    arbitration_id: int
    extended: bool
    data: bytes
    line: str  # as captured, for messages

    @property
    def dlc(self) -> int:
        return len(self.data)


CANDUMP_LINE = re.compile(r"^\(\d+\.\d+\)\s+\S+\s+([0-9A-Fa-f]+)#([0-9A-Fa-f]*)$")


def parse_candump_log(line: str) -> RawFrame:
    """One ``candump -L`` line, e.g. ``(1700000000.000001) vcan0 301#00112233...``.

    Three hex digits are an 11-bit identifier, eight a 29-bit one (as cansend writes them).
    Anything else (remote ``#R``, CAN FD ``##``, error frames) has ``arbitration_id`` -1."""
    m = CANDUMP_LINE.match(line.strip())
    if m is None:
        return RawFrame(-1, False, b"", line)
    ident, data = m.groups()
    return RawFrame(int(ident, 16), len(ident) > 3, bytes.fromhex(data), line)


def cansend_arg(msg: can.Message) -> str:
    ident = f"{msg.arbitration_id:08X}" if msg.is_extended_id else f"{msg.arbitration_id:03X}"
    return f"{ident}#{bytes(msg.data).hex().upper()}"


class BusCapture:
    """Every frame on a python-can bus (``virtual`` or ``remote``), read in a thread."""

    def __init__(self, interface: str, channel: str) -> None:
        self.frames: list[RawFrame] = []
        self._bus = can.Bus(interface=interface, channel=channel)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="capture", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            msg = self._bus.recv(0.05)
            if msg is not None and not msg.is_error_frame:
                frame = RawFrame(msg.arbitration_id, msg.is_extended_id, bytes(msg.data),
                                 str(msg))
                self.frames.append(frame)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._bus.shutdown()


def send_with_python_can(interface: str, channel: str, msgs: Sequence[can.Message]) -> None:
    bus = can.Bus(interface=interface, channel=channel)
    try:
        for msg in msgs:
            bus.send(msg)
        time.sleep(0.1)  # remote: let the client deliver before it disconnects
    finally:
        bus.shutdown()


def read_log(path: Path, *kinds: EventKind, channel: str | None = None) -> list[LogRow]:
    """The workstation's event log, read-only, as another process reads it."""
    with EventLog(path, read_only=True) as log:
        return log.query(kinds=list(kinds) or None, channel=channel)


async def until(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str,
                every: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {what} "
                                 f"(last: {last!r})")
        await asyncio.sleep(every)


# -- rigs -------------------------------------------------------------------------------------
class Rig(abc.ABC):
    """One workstation and its pump modules on one transport, as the scenarios drive them."""

    interface: str

    def __init__(self, tmp: Path, channel: str) -> None:
        self.tmp = tmp
        self.channel = channel
        self.event_log = tmp / "events.db"
        self.config_path = tmp / "ws.toml"
        self.chans: list[Chan] = []
        self.groups: list[list[Chan]] = []

    def configure(self, chans: Sequence[Chan], groups: Sequence[Sequence[int]]) -> None:
        by_slot = {c.slot: c for c in chans}
        self.chans = list(chans)
        self.groups = [[by_slot[s] for s in g] for g in groups]
        assert sorted(c.slot for g in self.groups for c in g) == sorted(by_slot), \
            "every module in exactly one pump group"
        write_config(self.config_path, interface=self.interface, channel=self.channel,
                     chans=chans, event_log=self.event_log)

    def group_of(self, slot: int) -> int:
        return next(i for i, g in enumerate(self.groups) if any(c.slot == slot for c in g))

    async def start(self, chans: Sequence[Chan], groups: Sequence[Sequence[int]], *,
                    driver: bool = True) -> None:
        """Write the config, start every pump group and the workstation; return when ready.

        ``driver=False`` runs the shipped ``icu-ws run --headless`` where the workstation is a
        process: no commands then, only its output and the event log."""
        self.configure(chans, groups)
        results = await asyncio.gather(
            *(self.start_pumps(i) for i in range(len(self.groups))),
            self.start_workstation(driver=driver), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    @abc.abstractmethod
    async def start_pumps(self, group: int) -> None: ...

    @abc.abstractmethod
    async def kill_pumps(self, group: int) -> None:
        """The pump process dies at once (SIGKILL): its modules fall silent."""

    @abc.abstractmethod
    async def fault(self, slot: int, fault: str, value: float = 1.0) -> None:
        """Inject a fault as ``icu-ws pump --control stdin`` reads it."""

    @abc.abstractmethod
    async def start_workstation(self, *, driver: bool = True) -> None: ...

    @abc.abstractmethod
    async def kill_workstation(self) -> None:
        """The workstation process dies (SIGKILL); the pumps keep running."""

    @abc.abstractmethod
    async def ask(self, line: str) -> dict[str, Any]:
        """One ws_driver command; its JSON answer."""

    @abc.abstractmethod
    def output(self) -> list[str]:
        """The current workstation's headless output, line by line."""

    @abc.abstractmethod
    def send_raw(self, msgs: Sequence[can.Message]) -> None:
        """Put frames on the bus from a foreign node."""

    @abc.abstractmethod
    def capture(self) -> contextlib.AbstractAsyncContextManager[list[RawFrame]]:
        """Record every frame on the bus while the context is open."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop everything; always called."""

    def describe(self) -> str:
        return f"{self.interface} {self.channel}"

    async def wait_output(self, text: str, *, since: int = 0, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.output()
            for i in range(since, len(lines)):
                if text in lines[i]:
                    return i + 1
            if time.monotonic() > deadline:
                tail = "\n".join(lines[-30:])
                raise AssertionError(f"no {text!r} in the headless output within {timeout} s "
                                     f"({self.describe()})\n{tail}")
            await asyncio.sleep(0.02)

    async def checked(self, line: str) -> dict[str, Any]:
        answer = await self.ask(line)
        assert answer.get("ok"), f"{line!r} failed: {answer.get('error')}"
        return answer

    async def status(self) -> dict[str, dict[str, Any]]:
        return {c["letter"]: c for c in (await self.checked("status"))["channels"]}

    async def alarms(self) -> list[dict[str, Any]]:
        alarms: list[dict[str, Any]] = (await self.checked("alarms"))["alarms"]
        return alarms

    async def alarm(self, source: str, condition: str) -> dict[str, Any] | None:
        return next((a for a in await self.alarms()
                     if a["source"] == source and a["condition"] == condition), None)

    async def counters(self) -> dict[str, Any]:
        return await self.checked("counters")

    async def channel_until(self, letter: str, ok: Callable[[dict[str, Any]], bool],
                            timeout: float, what: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            snap = (await self.status())[letter]
            return snap if ok(snap) else None
        return await until(probe, timeout, f"channel {letter}: {what}")

    def log(self, *kinds: EventKind, channel: str | None = None) -> list[LogRow]:
        return read_log(self.event_log, *kinds, channel=channel)


class ProcessRig(Rig):
    """Workstation and pumps as separate processes on ``remote`` or ``socketcan``."""

    def __init__(self, tmp: Path, interface: str, channel: str) -> None:
        super().__init__(tmp, channel)
        self.interface = interface
        self.pumps: dict[int, PumpProc] = {}
        self.ws: WsProc | None = None
        self.dead: list[Proc] = []  # killed processes, kept for their output

    async def start_pumps(self, group: int) -> None:
        old = self.pumps.get(group)
        if old is not None and old.alive:
            raise AssertionError(f"pump group {group} is already running")
        proc = PumpProc(self.groups[group], interface=self.interface, channel=self.channel)
        self.pumps[group] = proc
        await proc.wait_for("pumps: nodes", timeout=30)

    async def kill_pumps(self, group: int) -> None:
        proc = self.pumps.pop(group)
        proc.kill()
        self.dead.append(proc)

    async def fault(self, slot: int, fault: str, value: float = 1.0) -> None:
        Fault(fault)  # a typo fails here, not as an "error:" line in the pump's output
        proc = self.pumps[self.group_of(slot)]
        mark = len(proc.lines)
        proc.send(f"{slot} {fault} {value:g}")
        await proc.wait_for(f"ok: node {slot} {fault}", since=mark, timeout=10)

    async def start_workstation(self, *, driver: bool = True) -> None:
        assert self.ws is None or not self.ws.alive, "the workstation is already running"
        if self.ws is not None:
            self.dead.append(self.ws)
        self.ws = WsProc(self.config_path, driver=driver)
        await self.ws.ready()

    async def kill_workstation(self) -> None:
        assert self.ws is not None
        self.ws.kill()

    async def ask(self, line: str) -> dict[str, Any]:
        assert self.ws is not None and self.ws.alive, "no workstation running"
        return await self.ws.ask(line)

    def output(self) -> list[str]:
        return self.ws.lines if self.ws is not None else []

    def send_raw(self, msgs: Sequence[can.Message]) -> None:
        if self.interface == "socketcan":
            for msg in msgs:
                subprocess.run(["cansend", self.channel, cansend_arg(msg)], check=True,
                               timeout=10)
        else:
            send_with_python_can(self.interface, self.channel, msgs)

    @contextlib.asynccontextmanager
    async def capture(self) -> AsyncIterator[list[RawFrame]]:
        frames: list[RawFrame] = []
        if self.interface == "socketcan":
            dump = Proc(["candump", "-L", self.channel], name="candump", stdin=False)
            try:
                await asyncio.sleep(0.3)  # candump has bound its socket
                yield frames
            finally:
                dump.stop()
            frames.extend(parse_candump_log(line) for line in dump.lines if line.strip())
        else:
            cap = await asyncio.to_thread(BusCapture, self.interface, self.channel)
            try:
                await asyncio.sleep(0.2)
                yield frames
            finally:
                cap.close()
            frames.extend(cap.frames)

    def diagnostics(self) -> str:
        procs: list[Proc] = [*self.dead, *self.pumps.values()]
        if self.ws is not None:
            procs.append(self.ws)
        return "\n".join(p.tail(25) for p in procs)

    async def close(self) -> None:
        procs: list[Proc] = list(self.pumps.values())
        if self.ws is not None:
            procs.append(self.ws)
        for proc in procs:
            proc.stop(timeout=3)
        self.pumps.clear()


class LineSink(io.TextIOBase):
    """A text stream that keeps complete lines (the headless printer writes here)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        text = self._partial + s
        *done, self._partial = text.split("\n")
        self.lines.extend(done)
        return len(s)


class InProcessRig(Rig):
    """Everything in the test's event loop on python-can ``virtual``."""

    interface = "virtual"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, f"xp-{uuid.uuid4().hex[:8]}")
        self.racks: dict[int, PumpRack] = {}
        self.ws: Workstation | None = None
        self.sink = LineSink()
        self._stop_headless = asyncio.Event()
        self._headless: asyncio.Task[None] | None = None

    def _config(self) -> WorkstationConfig:
        return load_config(self.config_path)

    async def start_pumps(self, group: int) -> None:
        assert group not in self.racks, f"pump group {group} is already running"
        slots = {c.slot for c in self.groups[group]}
        config = self._config()
        sub = config.model_copy(update={"channels": [c for c in config.channels
                                                     if c.slot in slots]})
        (rack,) = simulated_racks(sub, SPEED)  # one bus: one rack, like one pump process
        await rack.__aenter__()
        self.racks[group] = rack

    async def kill_pumps(self, group: int) -> None:
        await self.racks.pop(group).__aexit__(None, None, None)

    async def fault(self, slot: int, fault: str, value: float = 1.0) -> None:
        self.racks[self.group_of(slot)][slot].inject(Fault(fault), value)

    async def start_workstation(self, *, driver: bool = True) -> None:
        # In-process there is no command channel to leave out: the same headless printer runs.
        assert self.ws is None, "the workstation is already running"
        ws = Workstation(self._config(), codec=codec())
        await ws.__aenter__()
        self.ws = ws
        self.sink = LineSink()
        self._stop_headless = asyncio.Event()
        self._headless = asyncio.create_task(run_headless(
            ws, self._stop_headless, status_every_s=STATUS_EVERY_S,
            out=self.sink))  # type: ignore[arg-type]

    async def kill_workstation(self) -> None:
        # In one process there is nothing to kill: the workstation stops and its bus closes.
        await self._stop_ws()

    async def _stop_ws(self) -> None:
        if self._headless is not None:
            self._stop_headless.set()
            await self._headless
            self._headless = None
        if self.ws is not None:
            ws, self.ws = self.ws, None
            await ws.__aexit__(None, None, None)

    async def ask(self, line: str) -> dict[str, Any]:
        assert self.ws is not None, "no workstation running"
        answer = await ws_driver.handle(self.ws, line)
        parsed: dict[str, Any] = json.loads(json.dumps(answer, default=str))  # same as a pipe
        return parsed

    def output(self) -> list[str]:
        return self.sink.lines

    def send_raw(self, msgs: Sequence[can.Message]) -> None:
        send_with_python_can("virtual", self.channel, msgs)

    @contextlib.asynccontextmanager
    async def capture(self) -> AsyncIterator[list[RawFrame]]:
        frames: list[RawFrame] = []
        cap = BusCapture("virtual", self.channel)
        try:
            yield frames
        finally:
            cap.close()
        frames.extend(cap.frames)

    async def close(self) -> None:
        await self._stop_ws()
        for group in list(self.racks):
            await self.kill_pumps(group)
