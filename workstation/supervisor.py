"""The supervisor: the station (controllers, registry, alarms, event log) on real CAN buses.

It owns one ``CanLink`` (one Notifier) per bus, routes every decoded frame into the pure
``Station``, sends the workstation heartbeat and runs the station's clock. Controllers decide;
the station carries their ``Effects`` out; this class only does the I/O and the tasks.
Shutting down never stops the pumps: their programs keep running, unsupervised, and they say so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import can

from channels.events import Event, EventKind
from channels.plan import Plan
from dbc.codec import FrameCodec
from dbc.errors import FrameError
from dbc.frames import Frame, WsHeartbeat
from dbc.link import CanLink
from dbc.shutdown import cancel_and_wait
from dbc.vocabulary import WorkstationState
from workstation.bus_monitor import BusMonitor
from workstation.config import WorkstationConfig
from workstation.eventlog import EventLog
from workstation.station import WS, EventSink, Listener, Notice, Station
from workstation.watchdog import Run, watched

__all__ = ["WS", "EventSink", "Listener", "Notice", "Supervisor"]

TICK_S = 0.1
RESTART_BACKOFF_S = 0.2  # a dead task is restarted after this, doubling up to the max
RESTART_MAX_S = 5.0


class Supervisor(Station):
    def __init__(self, config: WorkstationConfig, event_log: EventLog, *,
                 codec: FrameCodec | None = None, clock: Callable[[], float] = time.monotonic,
                 restored: dict[str, dict[int, Plan]] | None = None) -> None:
        super().__init__(config, event_log, self._send_on_link, clock=clock, restored=restored)
        self.codec = codec or FrameCodec()
        self.links: dict[str, CanLink] = {}
        for bus in config.buses:
            self.links[bus.name] = CanLink(
                bus.settings(), self.codec, self._frame_handler(bus.name),
                on_frame_error=self._frame_error_handler(bus.name),
                on_bus_error=self._bus_error_handler(bus.name),
                on_bus_recovered=self._bus_recovered_handler(bus.name),
                on_handler_error=self._handler_error_handler(bus.name), name=f"bus {bus.name}")
            self.links[bus.name].decoder.on_anomaly = self._anomaly_handler(bus.name)
        self._tasks: list[asyncio.Task[None]] = []
        # Controller state, bus load, receive filters (issue 10, B7/B8).
        self.bus_monitor = BusMonitor.attach(self, self.codec, self.links, clock)

    def _send_on_link(self, bus: str, frame: Frame) -> None:
        self.links[bus].send(frame)

    # -- life cycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Supervisor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self.record(Event(EventKind.SYSTEM, f"workstation {self.config.name} starting",
                          data={"channels": list(self.controllers)}))
        for link in self.links.values():
            await link.open_or_retry()
            self._watch(link.name, link.reopen_forever)
        self._watch("ws-heartbeat", self._heartbeat_loop)
        self._watch("tick", self._tick_loop)

    def _watch(self, name: str, run: Run) -> None:
        """Every background task is watched: if it dies, HIGH alarm, restart (H6)."""
        self._tasks.append(asyncio.create_task(
            watched(name, run, on_failure=self.task_failed, on_recovered=self.task_recovered,
                    backoff_s=RESTART_BACKOFF_S, max_backoff_s=RESTART_MAX_S),
            name=f"watch {name}"))

    async def stop(self) -> None:
        """Stop supervising. Pumps keep their programs running and raise WS_HEARTBEAT_LOST."""
        self._send_heartbeat(WorkstationState.SHUTTING_DOWN)
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        for link in self.links.values():
            await link.close()
        self.record(Event(EventKind.SYSTEM, f"workstation {self.config.name} stopped; pumps "
                                            "keep running their programs"))

    # -- time ------------------------------------------------------------------------------
    def _send_heartbeat(self, state: WorkstationState) -> None:
        wall = time.time()
        beat = WsHeartbeat(state=state, time_s=int(wall), time_ms=int(wall % 1 * 1000),
                           timeout_s=round(self.config.heartbeat.ws_timeout_s, 1))
        for link in self.links.values():
            if link.is_open:
                link.send(beat)

    async def _heartbeat_loop(self) -> None:
        # The first heartbeat says BOOT: modules resynchronise the alive counters of
        # everything the (re)started workstation sends, instead of dropping its first frames.
        state = WorkstationState.BOOT
        while True:
            self._send_heartbeat(state)
            state = WorkstationState.OPERATIONAL
            await asyncio.sleep(self.config.heartbeat.period_s)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.tick()
            self.bus_monitor.tick()

    # -- receive ---------------------------------------------------------------------------
    def _frame_handler(self, bus: str) -> Callable[[Frame], None]:
        def handle(frame: Frame) -> None:
            self.on_frame(bus, frame)
        return handle

    def _frame_error_handler(self, bus: str) -> Callable[[FrameError, can.Message], None]:
        def handle(exc: FrameError, msg: can.Message) -> None:
            self.on_frame_error(bus, exc.kind,
                                self.codec.spec_for_id(msg.arbitration_id) is not None,
                                None if msg.is_extended_id else msg.arbitration_id)
        return handle

    def _anomaly_handler(self, bus: str) -> Callable[[int, int, str], None]:
        def handle(frame_id: int, node: int, what: str) -> None:
            self.on_counter_anomaly(bus, frame_id, node, what)
        return handle

    def _bus_error_handler(self, bus: str) -> Callable[[Exception], None]:
        def handle(exc: Exception) -> None:
            self.on_bus_error(bus, self.links[bus].settings.describe(), exc)
        return handle

    def _handler_error_handler(self, bus: str) -> Callable[[Exception, Frame], None]:
        def handle(exc: Exception, frame: Frame) -> None:
            self.receive_failed(bus, frame, exc)
        return handle

    def _bus_recovered_handler(self, bus: str) -> Callable[[], None]:
        def handle() -> None:
            self.on_bus_recovered(bus)
        return handle
