"""JSON payloads of the telemetry, one pydantic model per stream, with a schema version.

Every message carries ``id`` (unique; consumers de-duplicate on it: QoS 1 is at-least-once) and
the workstation it came from. Events and alarms also carry ``seq``, which rises by one per
message of that workstation's outbox and survives restarts, so a consumer can see a gap. Times
are UTC. Consumers ignore fields they do not know; a change that breaks them raises
``SCHEMA_VERSION``. ``docs/telemetry.md`` and ``docs/schemas/`` are generated from these models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION: Literal[1] = 1

Letter = Annotated[str, Field(pattern=r"^[A-Z]{1,2}$", description="channel letter")]
PriorityName = Literal["HIGH", "MEDIUM", "LOW", "INFO"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Annotated[Literal[1], Field(
        description="raised when a change breaks consumers")] = SCHEMA_VERSION
    id: str = Field(min_length=1, max_length=80, description="unique message id: de-duplicate")
    workstation: str
    unit: str
    bed: str
    time: datetime = Field(description="when it happened (UTC)")


class BusFigures(BaseModel):
    """One CAN bus as the workstation sees it over the last window (issue 10, B7/B8)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    controller_state: str = Field(description="ERROR_ACTIVE, ERROR_WARNING, ERROR_PASSIVE or "
                                              "BUS_OFF")
    frames_per_s: float | None = Field(default=None, description="received, last window")
    error_frames: int = Field(default=0, description="CAN error frames in the last window")
    error_frames_total: int = 0
    tx_errors: int | None = Field(default=None, description="controller TX error counter")
    rx_errors: int | None = Field(default=None, description="controller RX error counter")
    babbling: dict[str, float] = Field(default_factory=dict,
                                       description="identifier -> frames/s, far above its cycle")
    unknown_ids: dict[str, int] = Field(default_factory=dict,
                                        description="identifier not in the DBC -> frames")


class StatusPayload(_Payload):
    """``{base}/status``, retained; the broker publishes the ``offline`` last will."""

    kind: Literal["status"] = "status"
    state: Literal["online", "offline"]
    reason: str = ""
    boot_id: str = Field(description="changes at every workstation start")
    software: str = ""
    drug_library: str = Field(default="", description="name, version and digest")
    care_area: str = ""
    channels: list[Letter] = Field(default_factory=list)
    observation_period_s: float | None = None
    bus: dict[str, BusFigures] = Field(default_factory=dict, description="per CAN bus")
    frame_errors: dict[str, int] = Field(default_factory=dict,
                                         description="frames dropped on receive, by kind")


class ObservationPayload(_Payload):
    """``{base}/channels/{letter}/observation``, retained: one channel as the nurse sees it."""

    kind: Literal["observation"] = "observation"
    channel: Letter
    label: str
    online: bool
    state: str = Field(description="NO MODULE, OFFLINE, or the module state (INFUSING, ...)")
    mode: str = Field(description="NONE, PRIMARY, SECONDARY or BOLUS")
    drug: str
    concentration: str
    dose: float | None = Field(default=None, description="dose rate, in dose_unit")
    dose_unit: str
    rate_ml_h: float = Field(description="what the pump runs at now, mL/h")
    programmed_rate_ml_h: float | None = None
    vtbi_ml: float | None = None
    volume_infused_ml: float | None = None
    volume_remaining_ml: float | None = None
    time_remaining_min: int | None = None
    pressure_mmhg: int | None = None
    battery_percent: int | None = None
    on_mains: bool | None = None
    alarm: str | None = Field(default=None, description="the channel's highest alarm")
    alarm_priority: PriorityName | None = None


class InfusionEventType(StrEnum):
    """PCD-10-like infusion events; OTHER for the rest of the workstation's event log."""

    PROGRAM = "program"
    PROGRAM_VERIFIED = "program_verified"  # the module read it back as sent
    PROGRAM_ACTIVE = "program_active"  # the module accepted START of this program
    START = "start"  # the motor started (or resumed) delivering
    TITRATION = "titration"
    BOLUS_START = "bolus_start"
    BOLUS_END = "bolus_end"
    SECONDARY_START = "secondary_start"  # piggyback: primary -> secondary
    SECONDARY_END = "secondary_end"  # back to primary
    COMPLETE = "complete"
    KVO = "kvo"
    PAUSE = "pause"
    STOP = "stop"
    ALARM_STOP = "alarm_stop"  # stopped by a high-priority condition
    ADOPTED = "adopted"
    OVERRIDE = "override"
    COMMAND = "command"
    MODULE = "module"
    USER = "user"
    SYSTEM = "system"
    OTHER = "other"


class EventPayload(_Payload):
    """``{base}/events``: one entry of the workstation's event log."""

    kind: Literal["event"] = "event"
    seq: int = Field(ge=1, description="per workstation, +1 per event or alarm message")
    event: InfusionEventType
    category: str = Field(description="the event log's kind (program, state, command, ...)")
    channel: Letter | None = None
    message: str
    user: str | None = None
    data: dict[str, object] = Field(default_factory=dict)


class AlarmInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ref: str = Field(description="unique per alarm occurrence: workstation, boot and alarm id")
    source: str = Field(description="channel letter, or WS for the workstation itself")
    channel: Letter | None = None
    condition: str
    priority: PriorityName
    text: str
    latching: bool
    active: bool = Field(description="the condition is present")
    acknowledged: bool
    acknowledged_by: str | None = None
    raised_at: datetime
    escalated_from: PriorityName | None = None


class AlarmChangeType(StrEnum):
    RAISE = "raise"
    UPDATE = "update"  # repeated, escalated, or the condition went away (latched)
    ACKNOWLEDGE = "acknowledge"
    CLEAR = "clear"  # no longer shown


class AlarmPayload(_Payload):
    """``{base}/alarms``: a change of one alarm."""

    kind: Literal["alarm"] = "alarm"
    seq: int = Field(ge=1, description="per workstation, +1 per event or alarm message")
    change: AlarmChangeType
    detail: str = Field(description="raised, repeated, escalated, condition_cleared, ...")
    alarm: AlarmInfo


class ActiveAlarmsPayload(_Payload):
    """``{base}/alarms/active``, retained: every shown alarm, highest priority first."""

    kind: Literal["active_alarms"] = "active_alarms"
    through_seq: int = Field(default=0, ge=0, description=(
        "the list reflects every event/alarm message up to this seq (0: none yet)"))
    audio: Literal["on", "off", "paused"]
    alarms: list[AlarmInfo]


Payload = Annotated[StatusPayload | ObservationPayload | EventPayload | AlarmPayload
                    | ActiveAlarmsPayload, Field(discriminator="kind")]
PAYLOAD_ADAPTER: TypeAdapter[Payload] = TypeAdapter(Payload)
MODELS: tuple[type[_Payload], ...] = (StatusPayload, ObservationPayload, EventPayload,
                                      AlarmPayload, ActiveAlarmsPayload)


def parse_payload(raw: bytes | str) -> Payload:
    """Validate a received message; raises pydantic.ValidationError when it is not ours."""
    return PAYLOAD_ADAPTER.validate_json(raw)
