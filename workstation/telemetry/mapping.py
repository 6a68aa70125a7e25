"""Pure translation of what the supervisor says into telemetry payloads (no MQTT here).

Events keep the event log's words and data and gain a PCD-10-like ``event`` type; alarm changes
become raise / update / acknowledge / clear; channel snapshots become observations. Module
clock times (monotonic) become UTC through one offset taken at each call.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from channels.events import Event, EventKind
from dbc.vocabulary import DeliveryMode, PumpState
from workstation.alarms import Alarm, AlarmChange, AudioState, ChangeKind, Priority
from workstation.eventlog import jsonable
from workstation.snapshot import ChannelSnapshot
from workstation.telemetry.payloads import (
    ActiveAlarmsPayload,
    AlarmChangeType,
    AlarmInfo,
    AlarmPayload,
    EventPayload,
    InfusionEventType,
    ObservationPayload,
    PriorityName,
    StatusPayload,
)
from workstation.telemetry.topics import Topics

WS_SOURCE = "WS"

_CHANGE_TYPES = {
    ChangeKind.RAISED: AlarmChangeType.RAISE,
    ChangeKind.REPEATED: AlarmChangeType.UPDATE,
    ChangeKind.ESCALATED: AlarmChangeType.UPDATE,
    ChangeKind.CONDITION_CLEARED: AlarmChangeType.UPDATE,
    ChangeKind.ACKNOWLEDGED: AlarmChangeType.ACKNOWLEDGE,
    ChangeKind.REMOVED: AlarmChangeType.CLEAR,
}
_PROGRAM_STEPS = {"sent": InfusionEventType.PROGRAM, "verified": InfusionEventType.PROGRAM_VERIFIED,
                  "adopted": InfusionEventType.ADOPTED}
_BY_KIND = {
    EventKind.OVERRIDE: InfusionEventType.OVERRIDE,
    EventKind.CONFIRMATION: InfusionEventType.OVERRIDE,
    EventKind.COMMAND: InfusionEventType.COMMAND,
    EventKind.MODULE: InfusionEventType.MODULE,
    EventKind.USER: InfusionEventType.USER,
    EventKind.SYSTEM: InfusionEventType.SYSTEM,
}


def new_id() -> str:
    return uuid.uuid4().hex


def priority_name(priority: Priority) -> PriorityName:
    name = priority.name
    assert name in ("HIGH", "MEDIUM", "LOW", "INFO")
    return name  # type: ignore[return-value]


def state_event(data: Mapping[str, object]) -> InfusionEventType:
    """What a module state change means clinically (start, piggyback switch, KVO...)."""
    state, mode = data.get("state"), data.get("mode")
    before, before_mode = data.get("previous_state"), data.get("previous_mode")
    secondary, bolus = DeliveryMode.SECONDARY.name, DeliveryMode.BOLUS.name
    infusing = PumpState.INFUSING.name
    if state == infusing and before == infusing:
        if mode == secondary and before_mode != secondary:
            return InfusionEventType.SECONDARY_START
        if before_mode == secondary and mode != secondary:
            return InfusionEventType.SECONDARY_END
        if mode == bolus and before_mode != bolus:
            return InfusionEventType.BOLUS_START
        if before_mode == bolus and mode != bolus:
            return InfusionEventType.BOLUS_END
        return InfusionEventType.OTHER
    if state in (PumpState.PROGRAMMED.name, PumpState.IDLE.name):
        # Stopped from delivering; a module first seen idle, or cleared, stops nothing.
        delivering = (infusing, PumpState.PAUSED.name, PumpState.KVO.name, PumpState.ALARM.name)
        return InfusionEventType.STOP if before in delivering else InfusionEventType.OTHER
    return {
        infusing: InfusionEventType.START,
        PumpState.PAUSED.name: InfusionEventType.PAUSE,
        PumpState.KVO.name: InfusionEventType.KVO,
        PumpState.COMPLETE.name: InfusionEventType.COMPLETE,
        PumpState.ALARM.name: InfusionEventType.ALARM_STOP,
    }.get(str(state), InfusionEventType.OTHER)


def classify(event: Event) -> InfusionEventType:
    data = event.data
    if event.kind is EventKind.STATE:
        return state_event(data)
    if event.kind is EventKind.PROGRAM:
        step = data.get("step")
        if step == "active":
            return InfusionEventType.TITRATION if data.get("titration") else \
                InfusionEventType.PROGRAM_ACTIVE
        return _PROGRAM_STEPS.get(str(step), InfusionEventType.OTHER)
    return _BY_KIND.get(event.kind, InfusionEventType.OTHER)


class TelemetryMapper:
    """Builds payloads for one workstation run (``boot_id``)."""

    def __init__(self, topics: Topics, *, boot_id: str | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.topics = topics
        self.boot_id = boot_id or new_id()[:12]
        self.clock, self.wall = clock, wall

    def _common(self, at: datetime | None = None) -> dict[str, object]:
        t = self.topics
        return {"id": new_id(), "workstation": t.workstation, "unit": t.unit, "bed": t.bed,
                "time": at or self.utc_now()}

    def utc_now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)

    def utc_of(self, monotonic_t: float) -> datetime:
        return datetime.fromtimestamp(self.wall() - (self.clock() - monotonic_t), UTC)

    def status(self, state: str, *, reason: str = "", software: str = "",
               drug_library: str = "", care_area: str = "", channels: list[str] | None = None,
               observation_period_s: float | None = None,
               bus: dict[str, dict[str, object]] | None = None,
               frame_errors: dict[str, int] | None = None) -> StatusPayload:
        return StatusPayload.model_validate(self._common() | {
            "state": state, "reason": reason, "boot_id": self.boot_id, "software": software,
            "drug_library": drug_library, "care_area": care_area, "channels": channels or [],
            "observation_period_s": observation_period_s, "bus": bus or {},
            "frame_errors": frame_errors or {}})

    def observation(self, snap: ChannelSnapshot) -> ObservationPayload:
        return ObservationPayload.model_validate(self._common() | {
            "channel": snap.letter, "label": snap.label, "online": snap.online,
            "state": snap.state, "mode": snap.mode, "drug": snap.drug,
            "concentration": snap.concentration, "dose": snap.dose, "dose_unit": snap.dose_unit,
            "rate_ml_h": snap.rate_ml_h, "programmed_rate_ml_h": snap.programmed_rate_ml_h,
            "vtbi_ml": snap.vtbi_ml, "volume_infused_ml": snap.volume_infused_ml,
            "volume_remaining_ml": snap.volume_remaining_ml,
            "time_remaining_min": snap.time_remaining_min, "pressure_mmhg": snap.pressure_mmhg,
            "battery_percent": snap.battery_percent, "on_mains": snap.on_mains,
            "alarm": snap.alarm_text, "alarm_priority": snap.alarm_priority})

    def event(self, event: Event, seq: int) -> EventPayload | None:
        """None for alarm entries: the alarm stream carries those."""
        if event.kind is EventKind.ALARM:
            return None
        data = jsonable(dict(event.data))
        return EventPayload.model_validate(self._common() | {
            "seq": seq, "event": classify(event), "category": event.kind.value,
            "channel": event.channel, "message": event.message, "user": event.user,
            "data": data if isinstance(data, dict) else {}})

    def alarm_info(self, alarm: Alarm) -> AlarmInfo:
        source = alarm.key.source
        return AlarmInfo(
            ref=f"{self.topics.workstation}:{self.boot_id}:{alarm.id}", source=source,
            channel=None if source == WS_SOURCE else source, condition=alarm.key.condition,
            priority=priority_name(alarm.priority), text=alarm.text, latching=alarm.latching,
            active=alarm.active, acknowledged=alarm.acknowledged,
            acknowledged_by=alarm.acknowledged_by, raised_at=self.utc_of(alarm.raised_at),
            escalated_from=priority_name(alarm.escalated_from) if alarm.escalated_from
            is not None else None)

    def alarm(self, change: AlarmChange, seq: int) -> AlarmPayload | None:
        """None for audio pause/resume: the active list carries the audio state."""
        kind = _CHANGE_TYPES.get(change.kind)
        if kind is None or change.alarm is None:
            return None
        return AlarmPayload.model_validate(self._common(self.utc_of(change.at)) | {
            "seq": seq, "change": kind, "detail": change.detail or change.kind.value,
            "alarm": self.alarm_info(change.alarm)})

    def active_alarms(self, alarms: list[Alarm], audio: AudioState, *,
                      through_seq: int = 0) -> ActiveAlarmsPayload:
        return ActiveAlarmsPayload.model_validate(self._common() | {
            "through_seq": through_seq, "audio": audio.value,
            "alarms": [self.alarm_info(a) for a in alarms]})
