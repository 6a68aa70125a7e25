"""The transport adapters ("rigs") of the cross-process suite: what every transport shares.

A rig runs one workstation and simulated pump modules on one transport and gives the scenarios
the same few operations whatever the transport (python-can's back2back pattern: the scenarios
once, a rig each):

- ``virtual.InProcessRig``: the same ``Workstation`` and ``simulated_racks`` in the test's own
  event loop on python-can ``virtual``: a failure on one transport only is told apart from a
  bug in our code. "Kill a process" is "stop its rack or workstation" there.
- ``processes.ProcessRig``: the workstation (``ws_driver``: ``icu-ws run --headless`` plus a
  command channel) and the pumps (``icu-ws pump``, one process per group of ``--node``s) are
  separate processes, on ``remote.RemoteRig`` (a python-can-remote hub on 127.0.0.1) or
  ``socketcan.SocketcanRig`` (vcan0).

This module holds the configuration, the waiting helpers and the ``Rig`` base the scenarios
drive; ``bus`` the frames a foreign node puts on or sees on the bus.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import can

from channels.events import EventKind, LogRow
from tests.crossprocess.bus import RawFrame
from workstation.eventlog import EventLog

ROOT = Path(__file__).resolve().parents[2]
DBC_PATH = ROOT / "dbc" / "infusion.dbc"
SPEED = 60.0  # module clock: an hour of infusion in a minute
STATUS_EVERY_S = 0.5
T = TypeVar("T")


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


# -- waiting and reading back ---------------------------------------------------------------------
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


# -- the rig ----------------------------------------------------------------------------------
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
        # Pumps first, then the workstation: a configured slot not heard within the module
        # timeout (2 s here) is a latched NO_MODULE, and in the one-CPU guest a pump process
        # can take longer than that to come up.
        results = await asyncio.gather(
            *(self.start_pumps(i) for i in range(len(self.groups))), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        await self.start_workstation(driver=driver)

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
