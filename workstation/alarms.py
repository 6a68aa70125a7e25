"""The workstation's alarm system (IEC 60601-1-8 style), pure and clock-injected.

Every method takes ``now`` (monotonic seconds) and returns the changes it caused, so the
caller decides what to log, publish and draw; nothing here does I/O or reads a clock.
Terms: an alarm is *shown* while it is held here; it is *active* while its condition is
present; it *sounds* while unacknowledged, at least LOW (INFO never sounds) and either active or
latching (a latched alarm goes on signalling after its cause is gone, until acknowledged).
Acknowledging a HIGH alarm whose condition is still present silences it for the audio-pause
time only (GIP: silence <= 2 min): then it sounds again, as long as the condition persists.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from enum import IntEnum, StrEnum, auto


class Priority(IntEnum):
    INFO = 0  # information signal: shown, never sounds, never escalates
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def marker(self) -> str:
        """The usual text marker: ``***`` high, ``**`` medium, ``*`` low."""
        return "*" * int(self)


@dataclass(frozen=True)
class AlarmKey:
    """What an alarm is about; one shown alarm per key at most."""

    source: str  # channel letter "A".."Z", "AA".., or "WS" for the workstation itself
    condition: str

    def __post_init__(self) -> None:
        if not (self.source.isascii() and self.source.isalpha() and self.source.isupper()):
            raise ValueError(f"alarm source must be upper-case letters, got {self.source!r}")
        if not self.condition:
            raise ValueError("alarm condition must not be empty")

    def __str__(self) -> str:
        return f"{self.source}/{self.condition}"


@dataclass
class Alarm:
    """One shown alarm. The system hands out copies: editing one changes nothing."""

    id: int
    key: AlarmKey
    priority: Priority
    text: str
    latching: bool
    raised_at: float
    last_seen_at: float
    active: bool = True  # the condition is present
    acknowledged: bool = False
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    cleared_at: float | None = None
    repeats: int = 0
    escalated_from: Priority | None = None  # the priority it was raised with, once escalated

    def age(self, now: float) -> float:
        return now - self.raised_at

    @property
    def sounds(self) -> bool:
        # IEC 60601-1-8 latching: the signal, audio included, goes on after the cause is gone
        # until someone acknowledges it.
        return (self.active or self.latching) and not self.acknowledged \
            and self.priority >= Priority.LOW


class ChangeKind(StrEnum):
    RAISED = auto()
    REPEATED = auto()
    ESCALATED = auto()
    ACKNOWLEDGED = auto()
    CONDITION_CLEARED = auto()
    REMOVED = auto()
    AUDIO_PAUSED = auto()
    AUDIO_RESUMED = auto()


@dataclass(frozen=True)
class AlarmChange:
    kind: ChangeKind
    alarm: Alarm | None  # a snapshot taken when the change happened; None for audio changes
    at: float
    detail: str = ""


class AudioState(StrEnum):
    OFF = auto()  # no alarm that sounds
    ON = auto()
    PAUSED = auto()


@dataclass(frozen=True)
class Indicator:
    """What the shared alarm indicator shows: the first of ``AlarmSystem.active()``."""

    priority: Priority | None
    source: str
    text: str  # "B: Occlusion downstream ..."
    alarm_id: int | None
    audio: AudioState
    pause_left_s: float
    counts: dict[Priority, int]
    total: int


def _order(alarm: Alarm) -> tuple[int, bool, float, int]:
    return (-alarm.priority, alarm.acknowledged, alarm.raised_at, alarm.id)


class AlarmSystem:
    """One shown alarm per key; HIGH latches by default; audio pause re-arms by itself;
    ignored LOW/MEDIUM alarms climb one priority per ``escalation_s``. Queries return copies.
    """

    def __init__(
        self, *, audio_pause_s: float = 120.0, escalation_s: float = 300.0,
        repeat_window_s: float = 10.0,
    ) -> None:
        if audio_pause_s <= 0 or escalation_s <= 0 or repeat_window_s < 0:
            raise ValueError("alarm timings must be positive")
        self._audio_pause_s = audio_pause_s
        self._escalation_s = escalation_s
        self._repeat_window_s = repeat_window_s
        self._ids = itertools.count(1)
        self._alarms: dict[int, Alarm] = {}
        self._by_key: dict[AlarmKey, int] = {}
        # Escalation deadline of every unacknowledged LOW/MEDIUM alarm; _next_due caches the
        # earliest one among active alarms (recomputed lazily by tick, after any change) so
        # that tick() is O(1) while nothing is due and every other call stays O(n).
        self._due: dict[int, float] = {}
        self._next_due = math.inf
        self._due_stale = False
        self._last_report: dict[int, float] = {}  # last REPEATED report, for flood control
        self._pause_until: float | None = None
        # Acknowledged HIGH alarms whose condition persists: when each sounds again (H5).
        self._rearm: dict[int, float] = {}

    @property
    def audio_pause_s(self) -> float:
        return self._audio_pause_s

    # --- inputs -------------------------------------------------------------------------

    def raise_(
        self, key: AlarmKey, priority: Priority, text: str, now: float, *,
        latching: bool | None = None,
    ) -> list[AlarmChange]:
        """The condition ``key`` is present (first report or a repeat)."""
        priority = Priority(priority)
        latch = priority is Priority.HIGH if latching is None else latching
        changes: list[AlarmChange] = []
        aid = self._by_key.get(key)
        if aid is None:
            alarm = Alarm(next(self._ids), key, priority, text, latch, now, now)
            self._alarms[alarm.id] = alarm
            self._by_key[key] = alarm.id
            self._set_due(alarm, now)
            changes.append(self._change(ChangeKind.RAISED, alarm, now))
            if priority is Priority.HIGH:
                self._break_pause(now, changes, f"new HIGH alarm {key}")
            return changes

        alarm = self._alarms[aid]
        alarm.repeats += 1
        alarm.last_seen_at = now
        if priority >= alarm.priority:  # a lower-priority report keeps the graver text
            alarm.text = text
        notes: list[str] = []
        reactivated = not alarm.active
        if reactivated:
            alarm.active, alarm.cleared_at = True, None
            notes.append("condition returned")
        raised = priority > alarm.priority
        if raised:
            notes.append(f"priority {alarm.priority.name}->{priority.name}")
            alarm.priority = priority
            if alarm.acknowledged:
                # A more serious condition must be seen again, whatever was acknowledged.
                alarm.acknowledged, alarm.acknowledged_at, alarm.acknowledged_by = False, None, None
                self._rearm.pop(alarm.id, None)
                notes.append("acknowledgement withdrawn")
            self._set_due(alarm, now)
        if latch and not alarm.latching:
            alarm.latching = True
            notes.append("now latching")
        if reactivated:
            self._due_stale = True
        # Periodic re-reports of a steady condition would flood the event log: report a
        # plain repeat at most once per window, anything that changed the alarm always.
        if notes or now - self._last_report.get(aid, -math.inf) >= self._repeat_window_s:
            self._last_report[aid] = now
            changes.append(self._change(ChangeKind.REPEATED, alarm, now, "; ".join(notes)))
        if (reactivated or raised) and alarm.priority is Priority.HIGH:
            self._break_pause(now, changes, f"HIGH alarm {key} (re)appeared")
        return changes

    def clear(self, key: AlarmKey, now: float) -> list[AlarmChange]:
        """The condition ``key`` went away."""
        aid = self._by_key.get(key)
        if aid is None or not self._alarms[aid].active:
            return []
        alarm = self._alarms[aid]
        alarm.active, alarm.cleared_at = False, now
        changes: list[AlarmChange] = []
        if alarm.latching and not alarm.acknowledged:
            # Latched: stays shown until someone acknowledges it.
            changes.append(self._change(ChangeKind.CONDITION_CLEARED, alarm, now))
            self._due_stale = True
        else:
            changes.append(self._remove(alarm, now, "condition cleared"))
        self._settle_pause(now, changes)
        return changes

    def acknowledge(
        self, alarm_id: int, now: float, *, user: str | None = None
    ) -> list[AlarmChange]:
        alarm = self._alarms.get(alarm_id)
        if alarm is None or alarm.acknowledged:
            return []
        changes = self._acknowledge(alarm, now, user)
        self._settle_pause(now, changes)
        return changes

    def acknowledge_all(
        self, now: float, *, source: str | None = None, user: str | None = None
    ) -> list[AlarmChange]:
        """Acknowledge every shown, unacknowledged alarm (of one source if given)."""
        changes: list[AlarmChange] = []
        for alarm in sorted(self._alarms.values(), key=_order):
            if not alarm.acknowledged and (source is None or alarm.key.source == source):
                changes.extend(self._acknowledge(alarm, now, user))
        self._settle_pause(now, changes)
        return changes

    def audio_pause(self, now: float) -> list[AlarmChange]:
        """Silence what sounds for ``audio_pause_s``; pressing again restarts the period.

        A no-op when nothing sounds: a pre-emptive pause would hide the next alarm.
        """
        if not self._any_sounding():
            return []
        self._pause_until = now + self._audio_pause_s
        detail = f"for {self._audio_pause_s:g} s"
        return [AlarmChange(ChangeKind.AUDIO_PAUSED, None, now, detail)]

    def tick(self, now: float) -> list[AlarmChange]:
        """Audio-pause expiry and escalation; cheap while nothing is due."""
        changes: list[AlarmChange] = []
        if self._pause_until is not None and now >= self._pause_until:
            self._pause_until = None
            changes.append(AlarmChange(ChangeKind.AUDIO_RESUMED, None, now, "pause expired"))
        if self._due_stale:
            self._due_stale = False
            alarms = self._alarms
            self._next_due = min(
                (due for aid, due in self._due.items() if alarms[aid].active), default=math.inf
            )
        if now >= self._next_due:
            self._escalate(now, changes)
        if self._rearm and now >= min(self._rearm.values()):
            self._sound_again(now, changes)
        return changes

    # --- queries ------------------------------------------------------------------------

    def active(self) -> list[Alarm]:
        """Shown alarms (snapshots): priority desc, unacknowledged first, oldest first, id."""
        return [copy.copy(a) for a in sorted(self._alarms.values(), key=_order)]

    def sounding_sources(self) -> set[str]:
        """Sources (channel letters, "WS") with at least one alarm that sounds."""
        return {a.key.source for a in self._alarms.values() if a.sounds}

    def get(self, alarm_id: int) -> Alarm | None:
        alarm = self._alarms.get(alarm_id)
        return None if alarm is None else copy.copy(alarm)

    def indicator(self, now: float) -> Indicator:
        counts = dict.fromkeys(Priority, 0)
        top: Alarm | None = None
        sounding = False
        for alarm in self._alarms.values():
            counts[alarm.priority] += 1
            sounding = sounding or alarm.sounds
            if top is None or _order(alarm) < _order(top):
                top = alarm
        audio, left = AudioState.OFF, 0.0
        if sounding:
            audio = AudioState.ON
            if self._pause_until is not None and now < self._pause_until:
                audio, left = AudioState.PAUSED, self._pause_until - now
        if top is None:
            return Indicator(None, "", "", None, audio, left, counts, 0)
        text = f"{top.key.source}: {top.text}"
        return Indicator(top.priority, top.key.source, text, top.id, audio, left, counts,
                         len(self._alarms))

    # --- internals ----------------------------------------------------------------------

    @staticmethod
    def _change(kind: ChangeKind, alarm: Alarm, now: float, detail: str = "") -> AlarmChange:
        return AlarmChange(kind, copy.copy(alarm), now, detail)

    def _acknowledge(self, alarm: Alarm, now: float, user: str | None) -> list[AlarmChange]:
        alarm.acknowledged, alarm.acknowledged_at, alarm.acknowledged_by = True, now, user
        self._due.pop(alarm.id, None)  # acknowledged alarms are not escalated
        changes = [self._change(ChangeKind.ACKNOWLEDGED, alarm, now)]
        if alarm.active:
            self._due_stale = True  # stays shown, silenced, until the condition clears
            if alarm.priority is Priority.HIGH:
                # ... but a HIGH one only for the audio-pause time (GIP silence <= 2 min).
                self._rearm[alarm.id] = now + self._audio_pause_s
        else:
            changes.append(self._remove(alarm, now, "acknowledged after condition cleared"))
        return changes

    def _remove(self, alarm: Alarm, now: float, detail: str) -> AlarmChange:
        del self._alarms[alarm.id]
        del self._by_key[alarm.key]
        self._due.pop(alarm.id, None)
        self._last_report.pop(alarm.id, None)
        self._rearm.pop(alarm.id, None)
        self._due_stale = True
        return self._change(ChangeKind.REMOVED, alarm, now, detail)

    def _sound_again(self, now: float, changes: list[AlarmChange]) -> None:
        """Acknowledged HIGH alarms whose condition outlasted the audio-pause time."""
        for aid, due in sorted(self._rearm.items(), key=lambda item: (item[1], item[0])):
            if due > now:
                continue
            del self._rearm[aid]
            alarm = self._alarms[aid]
            if not (alarm.active and alarm.acknowledged):
                continue
            since = now - (alarm.acknowledged_at or now)
            alarm.acknowledged, alarm.acknowledged_at, alarm.acknowledged_by = False, None, None
            self._last_report[aid] = now
            detail = f"acknowledged {since:g} s ago, condition still present: sounds again"
            changes.append(self._change(ChangeKind.REPEATED, alarm, now, detail))
            self._break_pause(now, changes, f"HIGH alarm {alarm.key} still present")

    def _set_due(self, alarm: Alarm, now: float) -> None:
        """Start the escalation clock for the alarm's current priority (if it can escalate)."""
        if Priority.LOW <= alarm.priority < Priority.HIGH and not alarm.acknowledged:
            self._due[alarm.id] = now + self._escalation_s
        else:
            self._due.pop(alarm.id, None)
        self._due_stale = True

    def _escalate(self, now: float, changes: list[AlarmChange]) -> None:
        # One step per escalation_s at each priority: LOW -> MEDIUM -> HIGH, never beyond.
        for aid, due in sorted(self._due.items(), key=lambda item: (item[1], item[0])):
            alarm = self._alarms[aid]
            if due > now or not alarm.active:
                continue
            old = alarm.priority
            alarm.priority = Priority(old + 1)
            if alarm.escalated_from is None:
                alarm.escalated_from = old
            self._set_due(alarm, now)
            detail = f"{old.name}->{alarm.priority.name}, ignored for {alarm.age(now):g} s"
            changes.append(self._change(ChangeKind.ESCALATED, alarm, now, detail))
            if alarm.priority is Priority.HIGH:
                self._break_pause(now, changes, f"{alarm.key} escalated to HIGH")
        self._due_stale = True

    def _any_sounding(self) -> bool:
        return any(alarm.sounds for alarm in self._alarms.values())

    def _break_pause(self, now: float, changes: list[AlarmChange], why: str) -> None:
        if self._pause_until is not None:
            self._pause_until = None
            changes.append(AlarmChange(ChangeKind.AUDIO_RESUMED, None, now, why))

    def _settle_pause(self, now: float, changes: list[AlarmChange]) -> None:
        """A pause ends once nothing is left to silence, so the next alarm is heard."""
        if self._pause_until is not None and not self._any_sounding():
            self._break_pause(now, changes, "nothing left to silence")
