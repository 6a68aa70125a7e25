"""The station: every channel controller, the module registry and the alarm system, pure.

The station is the supervisor without I/O. Inputs are decoded frames, frame errors, bus
failures and the time (``clock``); outputs are frames handed to ``send(bus, frame)``, alarm
changes, events written to the event log, and notices to listeners. ``Supervisor`` wraps it
with the CAN links and the background tasks; the stateful safety tests drive it directly, in
module time, through the real codec.

Isolation (H6): every call into one channel's controller, and every frame sent for it, is
guarded. A failure there is that channel's HIGH alarm (CHANNEL_FAULT, COMMAND_NOT_SENT) and an
event; the other channels' timers, frames and alarms go on (``station_failures``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from channels.commands import Completion
from channels.controller import ChannelController
from channels.effects import Effects
from channels.events import Event, EventKind
from channels.plan import Plan
from dbc.frames import (
    Command,
    Delivery,
    Frame,
    ModuleHeartbeat,
    Program,
    Progress,
    Status,
    WsHeartbeat,
)
from dbc.registry import ModuleChange, ModuleEvent, ModuleRegistry
from dbc.vocabulary import PumpState
from workstation.alarm_catalog import condition_info
from workstation.alarms import AlarmChange, AlarmKey, AlarmSystem
from workstation.channel_faults import ChannelFaults
from workstation.config import WorkstationConfig
from workstation.eventlog import EventLog, EventLogError
from workstation.intrusion import Finding, IntrusionMonitor
from workstation.reminders import StoppedReminder
from workstation.restart_memory import RESTORED_NOTE, RestoredAlarm
from workstation.station_failures import WS as WS  # the workstation's own alarm source
from workstation.station_failures import FailureReports

log = logging.getLogger(__name__)

E2E_WINDOW_S = 10.0
E2E_ALARM_COUNT = 20  # corrupted frames of our nodes within the window -> MEDIUM alarm


@dataclass(frozen=True)
class Notice:
    """What listeners (UI, telemetry, headless printer) are told, as it happens."""

    alarm_changes: tuple[AlarmChange, ...] = ()
    events: tuple[Event, ...] = ()
    channels: tuple[str, ...] = ()  # letters whose state changed


Listener = Callable[[Notice], None]
EventSink = Callable[[Event], None]
Send = Callable[[str, Frame], None]  # (bus name, frame)


class Station(FailureReports):
    def __init__(self, config: WorkstationConfig, event_log: EventLog, send: Send, *,
                 clock: Callable[[], float],
                 restored: dict[str, dict[int, Plan]] | None = None) -> None:
        self.config = config
        self.event_log = event_log
        self.clock = clock
        self._send = send
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
                first_program_id=max(plans, default=0) + 1,
                module_timeout_s=config.heartbeat.module_timeout_s)
            self.controllers[channel.letter] = controller
            self._by_slot[(channel.bus, channel.slot)] = controller
        self.listeners: list[Listener] = []
        self.event_sinks: list[EventSink] = []  # every event recorded (telemetry)
        self.completions: dict[tuple[str, int], asyncio.Future[Completion]] = {}
        self.changed = asyncio.Event()  # set after anything changed; waiters clear it
        self._e2e_errors: list[float] = []
        self.frame_errors: Counter[str] = Counter()
        self._log_failed = False
        self._faults = ChannelFaults()
        self._rx_faults = ChannelFaults()  # by bus: frames a receive handler failed on
        self.failing_tasks: set[str] = set()
        self._reminder = StoppedReminder(config.alarms.audio_pause_s)
        self.intrusion = IntrusionMonitor()  # issue 10: another sender on the bus

    # -- time ------------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock()
        for event in self.registry.tick(now):
            self._module_event(event, now)
        for letter, controller in self.controllers.items():
            try:
                self.apply(controller.tick(now))
            except Exception as exc:  # this channel's failure, never everyone's
                self.channel_failed(letter, "tick", exc)
        changes = self.alarms.tick(now)
        if self._e2e_errors and now - self._e2e_errors[-1] > 6 * E2E_WINDOW_S:
            self._e2e_errors.clear()
            changes += self.alarms.clear(AlarmKey(WS, "E2E_ERRORS"), now)
        for letter in self._faults.quiet(now):
            changes += self.alarms.clear(AlarmKey(letter, "CHANNEL_FAULT"), now)
        if self._rx_faults.quiet(now) and not self._rx_faults.count_all():
            changes += self.alarms.clear(AlarmKey(WS, "RECEIVE_FAILED"), now)
        changes += self._remind(now)
        for condition, bus, node in self.intrusion.quiet(now):
            changes += self.alarms.clear(self._finding_key(condition, bus, node), now)
        self.publish(changes, [])

    def _remind(self, now: float) -> list[AlarmChange]:
        """STOPPED_IN_ALARM: a channel stopped by an alarm that nothing signals any more."""
        changes: list[AlarmChange] = []
        sounding = self.alarms.sounding_sources()
        info = condition_info("STOPPED_IN_ALARM")
        for letter, controller in self.controllers.items():
            stopped = controller.online and controller.state is PumpState.ALARM
            decision = self._reminder.update(letter, stopped_in_alarm=stopped,
                                             sounding=letter in sounding, now=now)
            key = AlarmKey(letter, info.condition)
            if decision is True:
                changes += self.alarms.raise_(key, info.priority, info.text, now,
                                              latching=info.latching)
            elif decision is False:
                changes += self.alarms.clear(key, now)
        return changes

    # -- receive ---------------------------------------------------------------------------
    def on_frame(self, bus: str, frame: Frame) -> None:
        now = self.clock()
        if isinstance(frame, (Command, Program, WsHeartbeat)):  # only we send these (B2)
            base = 0x100 if isinstance(frame, (Command, WsHeartbeat)) else 0x200
            self._finding(self.intrusion.own_identifier(bus, base + frame.node, now), now)
            return
        if isinstance(frame, ModuleHeartbeat):
            for event in self.registry.on_heartbeat(bus, frame, now):
                self._module_event(event, now)
            if self.registry.duplicate(bus, frame.node, now):  # cleared once both are quiet
                self.intrusion.sustain("DUPLICATE_MODULE", bus, frame.node, now)
            return
        if isinstance(frame, Status):  # H14: a reboot shows in the first frame after it
            for event in self.registry.on_status(bus, frame, now):
                self._module_event(event, now)
        if isinstance(frame, (Status, Delivery, Progress)) and (
                self.registry.duplicate(bus, frame.node, now) or
                self.intrusion.active("DUPLICATE_MODULE", bus, frame.node)):
            return  # two modules answer: these describe two pumps, take neither (issue 10)
        controller = self._by_slot.get((bus, frame.node))
        if controller is not None:
            try:
                self.apply(controller.on_frame(frame, now))
            except Exception as exc:
                self.channel_failed(controller.letter, f"{frame.MESSAGE} frame", exc)

    def _module_event(self, event: ModuleEvent, now: float) -> None:
        controller = self._by_slot.get((event.info.bus, event.info.node))
        if controller is not None:
            try:
                self.apply(controller.on_module_event(event, now))
            except Exception as exc:
                self.channel_failed(controller.letter, f"module {event.change.value}", exc)
            if event.change is ModuleChange.LOST:
                self._abandon(controller.letter, event)
            return
        # A module in a slot no channel is configured for: show it, never drive it.
        key = AlarmKey(WS, "UNEXPECTED_MODULE")
        info = condition_info("UNEXPECTED_MODULE")
        changes = self.alarms.raise_(key, info.priority, f"{info.text}: {event.describe()}",
                                     now, latching=info.latching)
        self.publish(changes, [self.record(Event(EventKind.MODULE, event.describe()))])

    def on_frame_error(self, bus: str, kind: str, ours: bool,
                       frame_id: int | None = None) -> None:
        """A frame that failed to decode; ``ours``: its id is one of our DBC's frames."""
        self.frame_errors[kind] += 1
        if frame_id is not None:  # even a bad frame on our own id has another sender
            self._finding(self.intrusion.own_identifier(bus, frame_id, self.clock()),
                          self.clock())
        if kind not in ("crc", "counter") or not ours:
            return
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

    def on_counter_anomaly(self, bus: str, frame_id: int, node: int, what: str) -> None:
        """A freshness anomaly from the decoder (``FrameDecoder.on_anomaly``)."""
        now = self.clock()
        self._finding(self.intrusion.anomaly(bus, node, frame_id, what, now), now)

    def _finding_key(self, condition: str, bus: str, node: int) -> AlarmKey:
        controller = self._by_slot.get((bus, node))
        return AlarmKey(controller.letter if controller is not None and
                        condition != "FOREIGN_SENDER" else WS, condition)

    def _finding(self, finding: Finding | None, now: float) -> None:
        """Another sender: HIGH alarm naming the id or slot, and an event (issue 10)."""
        if finding is None:
            return
        info = condition_info(finding.condition)
        key = self._finding_key(finding.condition, finding.bus, finding.node)
        changes = self.alarms.raise_(key, info.priority, f"{info.text}: {finding.detail}", now,
                                     latching=info.latching)
        channel = key.source if key.source != WS else None
        event = self.record(Event(EventKind.BUS, finding.detail, channel=channel,
                                  data={"condition": finding.condition, "bus": finding.bus,
                                        "node": finding.node, "frame_id": finding.frame_id}))
        self.publish(changes, [event])

    def on_bus_error(self, bus: str, where: str, exc: Exception) -> None:
        info = condition_info("BUS_ERROR")
        changes = self.alarms.raise_(AlarmKey(WS, "BUS_ERROR"), info.priority,
                                     f"{info.text}: {bus} ({where})", self.clock(),
                                     latching=info.latching)
        event = self.record(Event(EventKind.BUS, f"bus {bus} failed: {exc}"))
        self.publish(changes, [event])

    def on_bus_recovered(self, bus: str) -> None:
        changes = self.alarms.clear(AlarmKey(WS, "BUS_ERROR"), self.clock())
        self.publish(changes, [self.record(Event(EventKind.BUS, f"bus {bus} reopened"))])

    # -- restart (issue 10, B6) --------------------------------------------------------------
    def restore(self, alarms: list[RestoredAlarm], serials: dict[str, int]) -> None:
        """Show again the alarms shown when the workstation stopped (latched: until someone
        acknowledges them; a condition still present is raised again by whoever watches it),
        and remember each slot's last serial (``workstation.restart_memory``)."""
        for letter, serial in serials.items():
            controller = self.controllers.get(letter)
            if controller is not None:
                self.registry.remember_serial(controller.config.bus, controller.node, serial)
        now, changes = self.clock(), []
        for restored in alarms:
            if restored.source != WS and restored.source not in self.controllers:
                continue  # a channel no longer configured
            key = AlarmKey(restored.source, restored.condition)
            changes += self.alarms.raise_(key, restored.priority, restored.text + RESTORED_NOTE,
                                          now, latching=True)
            changes += self.alarms.clear(key, now)
            alarm = next((a for a in self.alarms.active() if a.key == key), None)
            if restored.acknowledged and alarm is not None:
                changes += self.alarms.acknowledge(alarm.id, now, user=restored.acknowledged_by)
        if alarms:
            names = ", ".join(f"{a.source}/{a.condition}" for a in alarms)
            self.publish(changes, [self.record(Event(
                EventKind.SYSTEM, f"{len(alarms)} alarms shown at the last stop restored: {names}",
                data={"restored": [f"{a.source}/{a.condition}" for a in alarms]}))])

    # -- effects ---------------------------------------------------------------------------
    def record(self, event: Event) -> Event:
        """Write to the event log; a failing log is itself a HIGH alarm, never a crash.

        The alarm change is published like any other (the publication's own ALARM event goes
        to the failing log and is dropped there: ``_log_failed`` stops the recursion)."""
        try:
            self.event_log.record(event)
            if self._log_failed:
                self._log_failed = False
                self.publish(self.alarms.clear(AlarmKey(WS, "EVENT_LOG_ERROR"), self.clock()),
                             [])
        except EventLogError as exc:
            log.error("%s (event: %s)", exc, event.message)
            if not self._log_failed:
                self._log_failed = True
                info = condition_info("EVENT_LOG_ERROR")
                self.publish(self.alarms.raise_(AlarmKey(WS, "EVENT_LOG_ERROR"), info.priority,
                                                f"{info.text} ({exc})", self.clock(),
                                                latching=info.latching), [])
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
        unsent: list[tuple[Frame, Exception]] = []
        for frame in fx.frames:
            try:
                self._send(controller.config.bus, frame)
            except Exception as exc:  # EncodeError or worse: this frame's command only
                unsent.append((frame, exc))
        now = self.clock()
        changes: list[AlarmChange] = []
        events: list[Event] = []
        for frame, error in unsent:
            more, logged = self._not_sent(controller, frame, error, now)
            changes += more
            events += logged
        for condition in fx.clears:
            changes += self.alarms.clear(AlarmKey(fx.channel, condition), now)
        for raised in fx.raises:
            info = condition_info(raised.condition, infusing=raised.infusing)
            text = info.text + (f" ({raised.detail})" if raised.detail else "")
            changes += self.alarms.raise_(AlarmKey(fx.channel, info.condition),
                                          info.priority, text, now, latching=info.latching)
        events += [self.record(e) for e in fx.events]
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
