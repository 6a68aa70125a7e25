"""A workstation with simulated modules on in-process virtual buses, for end-to-end tests."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from channels.events import EventKind, LogRow
from pumps.module import SimulatedModule
from pumps.rack import PumpRack
from tests.buslab import codec
from workstation.alarms import Alarm
from workstation.api import Workstation
from workstation.config import WorkstationConfig, demo_config
from workstation.demo import module_for, simulated_racks
from workstation.eventlog import EventLog

_prefixes = itertools.count()


class Bench:
    def __init__(self, config: WorkstationConfig, log_path: Path, speed: float) -> None:
        self.config = config
        self.log_path = log_path
        self.speed = speed
        self.clock = time.monotonic
        self.racks: list[PumpRack] = []
        self.ws: Workstation | None = None

    @property
    def api(self) -> Workstation:
        assert self.ws is not None
        return self.ws

    async def start_pumps(self) -> None:
        self.racks = simulated_racks(self.config, self.speed)
        for rack in self.racks:
            await rack.__aenter__()

    async def start_workstation(self) -> Workstation:
        self.ws = Workstation(self.config, event_log_path=self.log_path, codec=codec(),
                              clock=self.clock)
        await self.ws.__aenter__()
        await self.until(lambda: all(c.online for c in self.api.channels()), 5,
                         "every module discovered")
        return self.ws

    async def stop_workstation(self) -> None:
        if self.ws is not None:
            await self.ws.__aexit__(None, None, None)
            self.ws = None

    async def close(self) -> None:
        await self.stop_workstation()
        for rack in self.racks:
            await rack.__aexit__(None, None, None)

    def module(self, letter: str) -> SimulatedModule:
        module = module_for(self.config, self.racks, letter)
        assert module is not None, f"no simulated module for channel {letter}"
        return module

    async def until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for: {what}")
            await asyncio.sleep(0.02)

    def alarm(self, letter: str, condition: str) -> Alarm | None:
        return next((a for a in self.api.active_alarms()
                     if a.key.source == letter and a.key.condition == condition), None)

    def log_rows(self, *kinds: EventKind, channel: str | None = None) -> list[LogRow]:
        with EventLog(self.log_path, read_only=True) as reader:
            return reader.query(kinds=list(kinds) or None, channel=channel)


def make_config(channels: int, **overrides: Any) -> WorkstationConfig:
    return demo_config(channels, channel_prefix=f"it{next(_prefixes)}-", **overrides)


@pytest.fixture
def bench_factory(tmp_path: Path) -> Callable[..., Bench]:
    def make(channels: int = 2, speed: float = 60.0, **overrides: Any) -> Bench:
        return Bench(make_config(channels, **overrides), tmp_path / "events.db", speed)
    return make


@pytest.fixture
async def bench(bench_factory: Callable[..., Bench]) -> AsyncIterator[Bench]:
    """Two channels (A volumetric, B syringe) at speed 60, workstation running."""
    b = bench_factory()
    try:
        await b.start_pumps()
        await b.start_workstation()
        yield b
    finally:
        await b.close()
