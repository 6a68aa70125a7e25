"""The terminal UI over a demo workstation (simulated modules on in-process virtual buses)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.pilot import Pilot

from icu_ws.fault_panel import demo_simulator
from pumps.module import SimulatedModule
from pumps.rack import PumpRack
from tui.app import InfusionApp
from workstation.api import Workstation
from workstation.config import demo_config
from workstation.demo import demo_workstation, module_for

_prefixes = itertools.count()


@dataclass
class UiBench:
    app: InfusionApp
    pilot: Pilot[None]
    ws: Workstation
    racks: list[PumpRack]

    def module(self, letter: str) -> SimulatedModule:
        module = module_for(self.ws.config, self.racks, letter)
        assert module is not None, f"no simulated module for channel {letter}"
        return module

    async def until(self, predicate: object, timeout: float = 5.0, what: str = "") -> None:
        """Let the app run until ``predicate()`` is true."""
        assert callable(predicate)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout} s: {what}")
            await self.pilot.pause(0.05)


async def make_bench(tmp_path: Path, channels: int = 4, speed: float = 60.0,
                     size: tuple[int, int] = (120, 40), locked: bool = False
                     ) -> AsyncIterator[UiBench]:
    config = demo_config(channels, channel_prefix=f"tui{next(_prefixes)}-")
    async with demo_workstation(config=config, speed=speed,
                                event_log=tmp_path / "events.db") as (ws, racks):
        deadline = asyncio.get_running_loop().time() + 5
        while not all(c.online for c in ws.channels()):
            assert asyncio.get_running_loop().time() < deadline, "modules not discovered"
            await asyncio.sleep(0.05)
        app = InfusionApp(ws, simulator=demo_simulator(ws.config, racks), bell=False,
                          locked=locked)
        async with app.run_test(size=size) as pilot:
            yield UiBench(app, pilot, ws, racks)


@pytest.fixture
async def ui(tmp_path: Path) -> AsyncIterator[UiBench]:
    """Four demo channels (A, C volumetric; B, D syringe), nothing infusing, unlocked."""
    async for bench in make_bench(tmp_path):
        yield bench
