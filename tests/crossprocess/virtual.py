"""The ``virtual`` transport: everything in the test's own event loop on python-can ``virtual``.

The same ``Workstation`` and ``simulated_racks`` as the processes run, so a failure on one
transport only is told apart from a bug in our code. "Kill a process" is "stop its rack or
workstation" here.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import can

from pumps.module import Fault
from pumps.rack import PumpRack
from tests.buslab import codec
from tests.crossprocess import ws_driver
from tests.crossprocess.bus import BusCapture, RawFrame, send_with_python_can
from tests.crossprocess.rig import SPEED, STATUS_EVERY_S, Rig
from workstation.api import Workstation
from workstation.config import WorkstationConfig, load_config
from workstation.demo import simulated_racks
from workstation.headless import run_headless


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
        # One bus: one rack, like one pump process; a restarted rack boots as the next count,
        # as the processes' --nvm does (a random count repeats once in 16: no MODULE_RESTARTED).
        (rack,) = simulated_racks(sub, SPEED, nvm=self.tmp / "nvm")
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
