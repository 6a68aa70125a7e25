"""Telemetry messages as a workstation publishes them, built from the contract's pydantic models.

``Station("icu", "bed-3").observation("A")`` → ``(topic, payload bytes)``. Every message gets a
fresh id unless one is given; times are explicit so tests control ages.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

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

T0 = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
T0_S = T0.timestamp()
_ids = itertools.count(1)

Message = tuple[str, bytes]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Station:
    def __init__(self, unit: str, bed: str, workstation: str = "ws-1", root: str = "icu"
                 ) -> None:
        self.topics = Topics(root, unit, bed, workstation)
        self.seq = 0
        self.boot_id = f"boot-{next(_ids)}"

    def _common(self, time: float, message_id: str | None) -> dict[str, Any]:
        t = self.topics
        return {"id": message_id or f"{t.workstation}-{next(_ids)}", "workstation":
                t.workstation, "unit": t.unit, "bed": t.bed, "time": at(time)}

    def status(self, state: str = "online", *, time: float = 0.0, period: float | None = 10.0,
               message_id: str | None = None, reason: str = "") -> Message:
        p = StatusPayload.model_validate({
            **self._common(time, message_id), "state": state, "reason": reason,
            "boot_id": self.boot_id, "channels": ["A", "B"], "observation_period_s": period,
            "care_area": "adult-icu"})
        return self.topics.status, p.model_dump_json().encode()

    def observation(self, letter: str = "A", *, time: float = 0.0, rate: float = 3.8,
                    alarm: str | None = None, priority: PriorityName | None = None,
                    message_id: str | None = None) -> Message:
        p = ObservationPayload(
            **self._common(time, message_id), channel=letter,
            label=f"line {letter}", online=True, state="INFUSING", mode="PRIMARY",
            drug="noradrenaline", concentration="8 mg/50 mL", dose=0.08,
            dose_unit="mcg/kg/min", rate_ml_h=rate, programmed_rate_ml_h=rate, vtbi_ml=50.0,
            volume_infused_ml=12.5, volume_remaining_ml=37.5, time_remaining_min=592,
            pressure_mmhg=85, battery_percent=96, on_mains=True, alarm=alarm,
            alarm_priority=priority)
        return self.topics.observation(letter), p.model_dump_json().encode()

    def alarm_info(self, ref: str, priority: PriorityName = "HIGH", *, raised: float = 0.0,
                   source: str = "A", text: str = "Downstream occlusion",
                   acknowledged: bool = False) -> AlarmInfo:
        return AlarmInfo(ref=f"{self.topics.workstation}:{self.boot_id}:{ref}", source=source,
                         channel=None if source == "WS" else source, condition=ref,
                         priority=priority, text=text, latching=True, active=True,
                         acknowledged=acknowledged, raised_at=at(raised))

    def alarm(self, info: AlarmInfo, change: str = "raise", *, time: float = 0.0,
              message_id: str | None = None) -> Message:
        self.seq += 1
        p = AlarmPayload(**self._common(time, message_id), seq=self.seq,
                         change=AlarmChangeType(change), detail=change, alarm=info)
        return self.topics.alarms, p.model_dump_json().encode()

    def active(self, alarms: list[AlarmInfo], *, time: float = 0.0,
               audio: Literal["on", "off", "paused"] = "on",
               message_id: str | None = None) -> Message:
        p = ActiveAlarmsPayload(**self._common(time, message_id),
                                audio=audio, alarms=alarms)
        return self.topics.active_alarms, p.model_dump_json().encode()

    def event(self, *, time: float = 0.0, seq: int | None = None) -> Message:
        self.seq = seq if seq is not None else self.seq + 1
        p = EventPayload(**self._common(time, None), seq=self.seq,
                         event=InfusionEventType.START, category="state", channel="A",
                         message="A started")
        return self.topics.events, p.model_dump_json().encode()
