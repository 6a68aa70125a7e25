"""Typed frames: what travels on the bus, as validated pydantic models.

Each model names its DBC message (``MESSAGE``, without the ``PumpNN_`` prefix) and maps its
fields to DBC signals (``SIGNALS``). E2E bytes (Crc, Counter) are the codec's business and never
appear here. Units are in the field names, so a rate can't be mistaken for a dose.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from dbc.vocabulary import (
    AckResult,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    ModuleState,
    ProgramPage,
    ProgramStore,
    PumpState,
    RejectReason,
    SyringeSize,
    WorkstationState,
)

__all__ = [
    "FRAME_TYPES", "PAGE_TYPES", "TIME_REMAINING_UNKNOWN", "AlarmEvent", "BolusPage", "Command",
    "CommandAck", "Delivery", "Frame", "ModuleHeartbeat", "Page", "Power", "PrimaryPage",
    "Program", "Progress", "Readback", "SecondaryPage", "SettingsPage", "Status", "SyringeInfo",
    "WsHeartbeat", "page_from_signals", "page_to_signals",
]

Node = int  # 1..31 for modules (the slot), 0 for the workstation


class Frame(BaseModel):
    """Base of every frame. ``node`` is the module's slot (0 = the workstation's broadcast)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    MESSAGE: ClassVar[str]
    SIGNALS: ClassVar[dict[str, str]] = {}

    node: Node = Field(ge=0, le=31)

    @classmethod
    def from_signals(cls, node: Node, values: dict[str, Any]) -> Frame:
        """Build from decoded, scaled DBC signal values (raises pydantic.ValidationError)."""
        return cls.model_validate(
            {"node": node, **{f: values[s] for f, s in cls.SIGNALS.items()}}
        )

    def to_signals(self) -> dict[str, Any]:
        """DBC signal values to encode, without Crc and Counter."""
        return {s: _plain(getattr(self, f)) for f, s in self.SIGNALS.items()}


def _plain(value: object) -> object:
    # cantools wants numbers; our enums and bools are ints underneath.
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    return value


class WsHeartbeat(Frame):
    MESSAGE = "WS_Heartbeat"
    SIGNALS = {"state": "WsState", "time_s": "WsTimeS", "time_ms": "WsTimeMs",
               "timeout_s": "HbTimeout"}
    node: Node = 0
    state: WorkstationState
    time_s: int
    time_ms: int = Field(ge=0, le=999)
    timeout_s: float


class ModuleHeartbeat(Frame):
    MESSAGE = "Heartbeat"
    SIGNALS = {"state": "ModuleState", "kind": "Kind", "fw_major": "FwMajor",
               "fw_minor": "FwMinor", "fw_patch": "FwPatch", "serial": "Serial",
               "boot_count": "BootCount"}
    state: ModuleState
    kind: ModuleKind
    fw_major: int
    fw_minor: int
    fw_patch: int
    serial: int
    boot_count: int = Field(default=0, ge=0, le=15)  # +1 per power-up: a reboot shows

    @property
    def firmware(self) -> str:
        return f"{self.fw_major}.{self.fw_minor}.{self.fw_patch}"


class Command(Frame):
    MESSAGE = "Command"
    SIGNALS = {"seq": "Seq", "command": "Command", "program_id": "ProgramId", "arg": "Arg"}
    seq: int = Field(ge=0, le=255)
    command: CommandCode
    program_id: int = Field(default=0, ge=0, le=255)
    arg: int = Field(default=0, ge=0, le=(1 << 24) - 1)


class CommandAck(Frame):
    MESSAGE = "Ack"
    SIGNALS = {"result": "Result", "seq": "Seq", "subject": "Subject", "reason": "Reason",
               "program_id": "ProgramId", "state": "State"}
    result: AckResult
    seq: int
    subject: CommandCode
    reason: RejectReason = RejectReason.NONE
    program_id: int = 0
    state: PumpState

    @property
    def accepted(self) -> bool:
        return self.result is AckResult.ACCEPTED


class PrimaryPage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    PAGE: ClassVar[ProgramPage] = ProgramPage.PRIMARY
    SIGNALS: ClassVar[dict[str, str]] = {"rate_ml_h": "Rate", "vtbi_ml": "Vtbi"}
    rate_ml_h: float
    vtbi_ml: float


class SettingsPage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    PAGE: ClassVar[ProgramPage] = ProgramPage.SETTINGS
    SIGNALS: ClassVar[dict[str, str]] = {
        "kvo_rate_ml_h": "KvoRate", "occlusion_limit_mmhg": "OcclusionLimit",
        "end_action": "EndAction", "air_limit_ul": "AirLimit"}
    kvo_rate_ml_h: float
    occlusion_limit_mmhg: int
    end_action: EndAction
    air_limit_ul: int


class BolusPage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    PAGE: ClassVar[ProgramPage] = ProgramPage.BOLUS
    SIGNALS: ClassVar[dict[str, str]] = {"volume_ml": "BolusVolume", "rate_ml_h": "BolusRate"}
    volume_ml: float
    rate_ml_h: float


class SecondaryPage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    PAGE: ClassVar[ProgramPage] = ProgramPage.SECONDARY
    SIGNALS: ClassVar[dict[str, str]] = {"rate_ml_h": "SecRate", "vtbi_ml": "SecVtbi",
                                         "callback": "Callback"}
    rate_ml_h: float
    vtbi_ml: float
    callback: bool = False


Page = PrimaryPage | SettingsPage | BolusPage | SecondaryPage
PAGE_TYPES: dict[ProgramPage, type[Page]] = {
    p.PAGE: p for p in (PrimaryPage, SettingsPage, BolusPage, SecondaryPage)
}


def page_from_signals(page: ProgramPage, values: dict[str, Any]) -> Page:
    cls = PAGE_TYPES[page]
    return cls.model_validate({f: values[s] for f, s in cls.SIGNALS.items()})


def page_to_signals(page: Page) -> dict[str, Any]:
    return {"Page": int(page.PAGE),
            **{s: _plain(getattr(page, f)) for f, s in page.SIGNALS.items()}}


class Program(Frame):
    """One page of a program, sent by the workstation; stored by the module as pending."""

    MESSAGE = "Program"
    seq: int = Field(ge=0, le=255)
    program_id: int = Field(ge=1, le=255)
    page: Page

    @classmethod
    def from_signals(cls, node: Node, values: dict[str, Any]) -> Frame:
        page = page_from_signals(ProgramPage(values["Page"]), values)
        return cls(node=node, seq=values["Seq"], program_id=values["ProgramId"], page=page)

    def to_signals(self) -> dict[str, Any]:
        return {"Seq": self.seq, "ProgramId": self.program_id, **page_to_signals(self.page)}


class Readback(Frame):
    """A program page as the module stored it."""

    MESSAGE = "Readback"
    store: ProgramStore
    program_id: int = Field(ge=0, le=255)
    page: Page

    @classmethod
    def from_signals(cls, node: Node, values: dict[str, Any]) -> Frame:
        page = page_from_signals(ProgramPage(values["Page"]), values)
        return cls(node=node, store=values["Store"], program_id=values["ProgramId"], page=page)

    def to_signals(self) -> dict[str, Any]:
        return {"Store": int(self.store), "ProgramId": self.program_id,
                **page_to_signals(self.page)}


class Status(Frame):
    MESSAGE = "Status"
    SIGNALS = {"state": "State", "mode": "Mode", "rate_ml_h": "ActualRate",
               "pressure_mmhg": "Pressure", "alarms": "AlarmBits", "boot_count": "BootCount"}
    state: PumpState
    mode: DeliveryMode
    rate_ml_h: float
    pressure_mmhg: int
    alarms: AlarmCondition
    boot_count: int = Field(default=0, ge=0, le=3)  # low two bits of the heartbeat's


class Delivery(Frame):
    MESSAGE = "Delivery"
    SIGNALS = {"volume_infused_ml": "VolumeInfused", "module_time_s": "ModuleTime"}
    volume_infused_ml: float
    module_time_s: float


TIME_REMAINING_UNKNOWN = (1 << 14) - 1


class Progress(Frame):
    MESSAGE = "Progress"
    SIGNALS = {"program_id": "ProgramId", "volume_remaining_ml": "VolumeRemaining",
               "time_remaining_min": "TimeRemaining"}
    program_id: int
    volume_remaining_ml: float
    time_remaining_min: int = TIME_REMAINING_UNKNOWN


class SyringeInfo(Frame):
    MESSAGE = "Syringe"
    SIGNALS = {"size": "SyringeSize", "plunger_travel_mm": "PlungerTravel",
               "volume_ml": "SyringeVolume", "force_n": "PlungerForce", "engaged": "Engaged"}
    size: SyringeSize
    plunger_travel_mm: float
    volume_ml: float
    force_n: float
    engaged: bool


class Power(Frame):
    MESSAGE = "Power"
    SIGNALS = {"on_mains": "OnMains", "battery_percent": "BatteryPercent",
               "battery_minutes": "BatteryMinutes", "temperature_c": "Temperature"}
    on_mains: bool
    battery_percent: int
    battery_minutes: int
    temperature_c: int


class AlarmEvent(Frame):
    """A condition started (``raised``) or cleared; ``alarms`` is the full set after it."""

    MESSAGE = "Alarm"
    condition: AlarmCondition
    raised: bool
    alarms: AlarmCondition

    @classmethod
    def from_signals(cls, node: Node, values: dict[str, Any]) -> Frame:
        return cls(node=node, condition=AlarmCondition.from_index(values["Condition"]),
                   raised=bool(values["Active"]), alarms=values["AlarmBits"])

    def to_signals(self) -> dict[str, Any]:
        return {"Condition": self.condition.index, "Active": int(self.raised),
                "AlarmBits": int(self.alarms)}


FRAME_TYPES: tuple[type[Frame], ...] = (
    WsHeartbeat, ModuleHeartbeat, Command, CommandAck, Program, Readback, Status, Delivery,
    Progress, SyringeInfo, Power, AlarmEvent,
)
