"""The station's failure reports (H6, H7, H13): what happens when software, not a pump, fails.

A mixin of ``Station``: one channel's controller raising, a received frame no handler could
process, a background task dying, a frame the bus cannot encode, and commands left waiting
for a module that is gone. Each is an alarm and an event, and ends only what it concerns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from channels.commands import Completion
from channels.controller import ChannelController
from channels.events import Event, EventKind
from dbc.frames import Command, Frame, Program
from dbc.registry import ModuleEvent
from workstation.alarm_catalog import condition_info
from workstation.alarms import AlarmChange, AlarmKey, AlarmSystem
from workstation.channel_faults import ChannelFaults, describe, summary
from workstation.command_errors import CommandAbandoned, CommandNotSent

log = logging.getLogger(__name__)

WS = "WS"  # the alarm source of the workstation itself


class FailureReports:
    # Provided by Station.
    clock: Callable[[], float]
    alarms: AlarmSystem
    completions: dict[tuple[str, int], asyncio.Future[Completion]]
    failing_tasks: set[str]
    _faults: ChannelFaults
    _rx_faults: ChannelFaults

    def record(self, event: Event) -> Event:
        raise NotImplementedError

    def publish(self, changes: list[AlarmChange], events: list[Event],
                channels: tuple[str, ...] = ()) -> None:
        raise NotImplementedError

    def channel_failed(self, letter: str, where: str, exc: Exception) -> None:
        """One channel's controller (or its effects) raised: that channel's HIGH alarm and an
        event with the traceback; supervision of the others goes on."""
        now = self.clock()
        info = condition_info("CHANNEL_FAULT")
        text = f"{info.text} ({where}: {describe(exc)})"
        changes = self.alarms.raise_(AlarmKey(letter, info.condition), info.priority, text, now,
                                     latching=info.latching)
        events: list[Event] = []
        if self._faults.failed(letter, where, exc, now):
            log.error("channel %s: %s failed", letter, where, exc_info=exc)
            events.append(self.record(Event(
                EventKind.SYSTEM, f"{letter}: channel supervision failed in {where}: "
                f"{describe(exc)}; check the pump and program it again", channel=letter,
                data={"where": where, "traceback": summary(exc),
                      "failures": self._faults.count(letter)})))
        self.publish(changes, events, (letter,))

    def receive_failed(self, bus: str, frame: Frame, exc: Exception) -> None:
        """A received frame the workstation failed to process (outside any one channel)."""
        now, info = self.clock(), condition_info("RECEIVE_FAILED")
        changes = self.alarms.raise_(AlarmKey(WS, info.condition), info.priority,
                                     f"{info.text} ({bus}: {describe(exc)})", now,
                                     latching=info.latching)
        events: list[Event] = []
        if self._rx_faults.failed(bus, frame.MESSAGE, exc, now):
            events.append(self.record(Event(
                EventKind.BUS, f"{bus}: {frame.MESSAGE} from node {frame.node} not processed: "
                f"{describe(exc)}", data={"traceback": summary(exc)})))
        self.publish(changes, events)

    def task_failed(self, name: str, error: BaseException | None) -> None:
        """A background task died (or returned): HIGH alarm naming it; it is restarted."""
        self.failing_tasks.add(name)
        now, info = self.clock(), condition_info("TASK_FAILED")
        why = "ended unexpectedly" if error is None else describe(error)
        changes = self.alarms.raise_(AlarmKey(WS, info.condition), info.priority,
                                     f"{info.text} ({name}: {why})", now,
                                     latching=info.latching)
        data: dict[str, object] = {"task": name}
        if error is not None:
            data["traceback"] = summary(error)
        event = self.record(Event(EventKind.SYSTEM, f"task {name} failed: {why}; restarting it",
                                  data=data))
        self.publish(changes, [event])

    def task_recovered(self, name: str) -> None:
        self.failing_tasks.discard(name)
        changes: list[AlarmChange] = []
        if not self.failing_tasks:
            changes = self.alarms.clear(AlarmKey(WS, "TASK_FAILED"), self.clock())
        event = self.record(Event(EventKind.SYSTEM, f"task {name} running again"))
        self.publish(changes, [event])

    def _abandon(self, letter: str, event: ModuleEvent) -> None:
        """Commands in flight to a lost module will never be answered: end them now."""
        for key in [k for k in self.completions if k[0] == letter]:
            future = self.completions.pop(key)
            if not future.done():
                future.set_exception(CommandAbandoned(
                    f"channel {letter}: command seq {key[1]} abandoned: the pump module was "
                    f"lost ({event.describe()}); check the pump before acting again"))

    def _not_sent(self, controller: ChannelController, frame: Frame, exc: Exception,
                  now: float) -> tuple[list[AlarmChange], list[Event]]:
        """A frame for this channel that could not be sent (encoding, bus): that command ends
        here, with an alarm, and is never retried."""
        letter = controller.letter
        what = f"{frame.MESSAGE} seq {frame.seq}" if isinstance(frame, Command | Program) \
            else frame.MESSAGE
        reason = describe(exc)
        data: dict[str, object] = {"frame": frame.MESSAGE, "error": reason}
        if isinstance(frame, Command | Program):
            data["seq"] = frame.seq
            # The tracker would resend it (and fail again) until it gives up as
            # "unacknowledged": the command is over, drop it.
            controller.tracker.forget(frame.seq)
            future = self.completions.pop((letter, frame.seq), None)
            if future is not None and not future.done():
                future.set_exception(CommandNotSent(
                    f"channel {letter}: {what} not sent to the pump: {reason}. Nothing was "
                    "changed on the pump by it; check the order and program again"))
        pending = controller.pending
        if isinstance(frame, Program) and pending is not None and \
                pending.program_id == frame.program_id:
            controller.pending = None  # a program missing a page must never be started
        info = condition_info("COMMAND_NOT_SENT")
        changes = self.alarms.raise_(AlarmKey(letter, info.condition), info.priority,
                                     f"{info.text} ({what}: {reason})", now,
                                     latching=info.latching)
        event = self.record(Event(EventKind.COMMAND, f"{letter}: {what} not sent: {reason}",
                                  channel=letter, data=data))
        return changes, [event]
