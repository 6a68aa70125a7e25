"""The supervisor: buses, channel controllers, the alarm system and the event log, in one loop.

It owns one ``CanLink`` (one Notifier) per bus, routes every frame to the controller of its
(bus, slot), discovers modules from their heartbeats, sends the workstation heartbeat and runs
the controllers' clocks. Controllers decide; the supervisor carries their ``Effects`` out.
Shutting down never stops the pumps: their programs keep running, unsupervised, and they say so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import can

from channels.commands import Completion
from channels.controller import ChannelController
from channels.effects import Effects
from channels.plan import Plan
from workstation.alarm_catalog import condition_info
from workstation.alarms import AlarmChange, AlarmKey, AlarmSystem
from workstation.codec import FrameCodec
from workstation.config import WorkstationConfig
from workstation.errors import FrameError
from workstation.eventlog import Event, EventKind, EventLog, EventLogError
from workstation.frames import Frame, ModuleHeartbeat, WsHeartbeat
from workstation.link import CanLink
from workstation.registry import ModuleEvent, ModuleRegistry
from workstation.shutdown import cancel_and_wait
from workstation.vocabulary import WorkstationState

log = logging.getLogger(__name__)

TICK_S = 0.1
E2E_WINDOW_S = 10.0
E2E_ALARM_COUNT = 20  # corrupted frames of our nodes within the window -> MEDIUM alarm
WS = "WS"


@dataclass(frozen=True)
class Notice:
    """What listeners (UI, telemetry, headless printer) are told, as it happens."""

    alarm_changes: tuple[AlarmChange, ...] = ()
    events: tuple[Event, ...] = ()
    channels: tuple[str, ...] = ()  # letters whose state changed


Listener = Callable[[Notice], None]
EventSink = Callable[[Event], None]


class Supervisor:
    def __init__(self, config: WorkstationConfig, event_log: EventLog, *,
                 codec: FrameCodec | None = None, clock: Callable[[], float] = time.monotonic,
                 restored: dict[str, dict[int, Plan]] | None = None) -> None:
        self.config = config
        self.event_log = event_log
        self.clock = clock
        self.codec = codec or FrameCodec()
        self.alarms = AlarmSystem(audio_pause_s=config.alarms.audio_pause_s,
                                  escalation_s=config.alarms.escalation_s)
        self.registry = ModuleRegistry(config.heartbeat.module_timeout_s)
        restored = restored or {}
        self.controllers: dict[str, ChannelController] = {}
        self._by_slot: dict[tuple[str, int], ChannelController] = {}
        for channel in config.channels:
            plans = restored.get(channel.letter, {})
            controller = ChannelController(
                channel, config.commands, config.supervision, restored=plans,
                first_program_id=max(plans, default=0) + 1)
            self.controllers[channel.letter] = controller
            self._by_slot[(channel.bus, channel.slot)] = controller
        self.links: dict[str, CanLink] = {}
        for bus in config.buses:
            self.links[bus.name] = CanLink(
                bus.settings(), self.codec, self._frame_handler(bus.name),
                on_frame_error=self._frame_error_handler(bus.name),
                on_bus_error=self._bus_error_handler(bus.name),
                on_bus_recovered=self._bus_recovered_handler(bus.name), name=f"bus {bus.name}")
        self.listeners: list[Listener] = []
        self.event_sinks: list[EventSink] = []  # every event recorded (telemetry)
        self.completions: dict[tuple[str, int], asyncio.Future[Completion]] = {}
        self.changed = asyncio.Event()  # set after anything changed; waiters clear it
        self._tasks: list[asyncio.Task[None]] = []
        self._e2e_errors: list[float] = []
        self.frame_errors: Counter[str] = Counter()
        self._log_failed = False

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
            self._tasks.append(asyncio.create_task(link.reopen_forever(), name=link.name))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="ws-heartbeat"))
        self._tasks.append(asyncio.create_task(self._tick_loop(), name="tick"))

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

    def tick(self) -> None:
        now = self.clock()
        for event in self.registry.tick(now):
            self._module_event(event, now)
        for controller in self.controllers.values():
            self.apply(controller.tick(now))
        changes = self.alarms.tick(now)
        if self._e2e_errors and now - self._e2e_errors[-1] > 6 * E2E_WINDOW_S:
            self._e2e_errors.clear()
            changes += self.alarms.clear(AlarmKey(WS, "E2E_ERRORS"), now)
        self.publish(changes, [])

    # -- receive ---------------------------------------------------------------------------
    def _frame_handler(self, bus: str) -> Callable[[Frame], None]:
        def handle(frame: Frame) -> None:
            now = self.clock()
            if isinstance(frame, ModuleHeartbeat):
                for event in self.registry.on_heartbeat(bus, frame, now):
                    self._module_event(event, now)
                return
            controller = self._by_slot.get((bus, frame.node))
            if controller is not None:
                self.apply(controller.on_frame(frame, now))
        return handle

    def _module_event(self, event: ModuleEvent, now: float) -> None:
        controller = self._by_slot.get((event.info.bus, event.info.node))
        if controller is not None:
            self.apply(controller.on_module_event(event, now))
            return
        # A module in a slot no channel is configured for: show it, never drive it.
        key = AlarmKey(WS, "UNEXPECTED_MODULE")
        info = condition_info("UNEXPECTED_MODULE")
        changes = self.alarms.raise_(key, info.priority, f"{info.text}: {event.describe()}",
                                     now, latching=info.latching)
        self.publish(changes, [self.record(Event(EventKind.MODULE, event.describe()))])

    def _frame_error_handler(self, bus: str) -> Callable[[FrameError, can.Message], None]:
        def handle(exc: FrameError, msg: can.Message) -> None:
            self.frame_errors[exc.kind] += 1
            if exc.kind in ("crc", "counter") and \
                    self.codec.spec_for_id(msg.arbitration_id) is not None:
                now = self.clock()
                self._e2e_errors = [t for t in self._e2e_errors if now - t < E2E_WINDOW_S]
                self._e2e_errors.append(now)
                if len(self._e2e_errors) == E2E_ALARM_COUNT:
                    info = condition_info("E2E_ERRORS")
                    changes = self.alarms.raise_(AlarmKey(WS, "E2E_ERRORS"), info.priority,
                                                 f"{info.text} on {bus}", now)
                    event = self.record(Event(EventKind.BUS, f"{bus}: {len(self._e2e_errors)} "
                                                             f"corrupted frames in 10 s",
                                              data=dict(self.frame_errors)))
                    self.publish(changes, [event])
        return handle

    def _bus_error_handler(self, bus: str) -> Callable[[Exception], None]:
        def handle(exc: Exception) -> None:
            now = self.clock()
            info = condition_info("BUS_ERROR")
            where = self.links[bus].settings.describe()
            changes = self.alarms.raise_(AlarmKey(WS, "BUS_ERROR"), info.priority,
                                         f"{info.text}: {bus} ({where})", now,
                                         latching=info.latching)
            event = self.record(Event(EventKind.BUS, f"bus {bus} failed: {exc}"))
            self.publish(changes, [event])
        return handle

    def _bus_recovered_handler(self, bus: str) -> Callable[[], None]:
        def handle() -> None:
            changes = self.alarms.clear(AlarmKey(WS, "BUS_ERROR"), self.clock())
            self.publish(changes, [self.record(Event(EventKind.BUS, f"bus {bus} reopened"))])
        return handle

    # -- effects ---------------------------------------------------------------------------
    def record(self, event: Event) -> Event:
        """Write to the event log; a failing log is itself a HIGH alarm, never a crash."""
        try:
            self.event_log.record(event)
            if self._log_failed:
                self._log_failed = False
                self.alarms.clear(AlarmKey(WS, "EVENT_LOG_ERROR"), self.clock())
        except EventLogError as exc:
            log.error("%s (event: %s)", exc, event.message)
            if not self._log_failed:
                self._log_failed = True
                info = condition_info("EVENT_LOG_ERROR")
                self.alarms.raise_(AlarmKey(WS, "EVENT_LOG_ERROR"), info.priority, info.text,
                                   self.clock(), latching=info.latching)
        for sink in list(self.event_sinks):
            try:
                sink(event)
            except Exception:  # telemetry must never stop supervision
                log.exception("event sink %r failed", sink)
        return event

    def workstation_condition(self, condition: str, present: bool, detail: str = "") -> None:
        """Raise or clear one of the workstation's own conditions (telemetry link...)."""
        key, now = AlarmKey(WS, condition), self.clock()
        if present:
            info = condition_info(condition)
            text = info.text + (f" ({detail})" if detail else "")
            changes = self.alarms.raise_(key, info.priority, text, now, latching=info.latching)
        else:
            changes = self.alarms.clear(key, now)
        self.publish(changes, [])

    def record_user_action(self, message: str, *, user: str | None = None) -> None:
        """A nurse's action that is not a command (lock, unlock...): logged and published."""
        self.publish([], [self.record(Event(EventKind.USER, message, user=user))])

    def apply(self, fx: Effects) -> None:
        controller = self.controllers[fx.channel]
        link = self.links[controller.config.bus]
        for frame in fx.frames:
            link.send(frame)
        now = self.clock()
        changes: list[AlarmChange] = []
        for condition in fx.clears:
            changes += self.alarms.clear(AlarmKey(fx.channel, condition), now)
        for raised in fx.raises:
            text = raised.info.text + (f" ({raised.detail})" if raised.detail else "")
            changes += self.alarms.raise_(AlarmKey(fx.channel, raised.info.condition),
                                          raised.info.priority, text, now,
                                          latching=raised.info.latching)
        events = [self.record(e) for e in fx.events]
        for done in fx.completions:
            future = self.completions.pop((fx.channel, done.frame.seq), None)
            if future is not None and not future.done():
                future.set_result(done)
        if fx.frames or changes or events or fx.completions:
            self.publish(changes, events, (fx.channel,))

    def publish(self, changes: list[AlarmChange], events: list[Event],
                 channels: tuple[str, ...] = ()) -> None:
        for change in changes:
            if change.alarm is not None:
                a = change.alarm
                self.record(Event(EventKind.ALARM, f"{a.key}: {a.text} {change.kind.value}",
                                  channel=a.key.source if a.key.source != WS else None,
                                  user=a.acknowledged_by,
                                  data={"alarm_id": a.id, "priority": a.priority.name,
                                        "change": change.kind.value,
                                        "condition": a.key.condition}))
        if not (changes or events or channels):
            return
        notice = Notice(tuple(changes), tuple(events), channels)
        self.changed.set()
        for listener in list(self.listeners):
            try:
                listener(notice)
            except Exception:  # a broken display must not stop supervision
                log.exception("listener %r failed", listener)
