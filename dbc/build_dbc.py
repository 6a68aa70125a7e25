"""Writes ``dbc/infusion.dbc``: one message per frame type and slot, from the layouts below.

The DBC is what every program loads; this script only saves typing 31 identical slots by hand.
Change a layout here, run ``python dbc/build_dbc.py`` (or ``python -m dbc.build_dbc``), and
commit both files: a test fails when they disagree. The value tables are taken from the enums
of ``dbc/vocabulary.py``, so a new member there reaches the DBC on the next run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

if not __package__:
    # Run as a script: sys.path[0] is dbc/ itself, where the package cannot be imported (and
    # its modules would shadow others). Use the checkout's dbc package, not an installed one.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

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

SLOTS = range(1, 32)
WS, PUMP = "WS", "PUMP"


@dataclass(frozen=True)
class Sig:
    name: str
    start: int
    length: int
    comment: str
    scale: float = 1
    offset: float = 0
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    choices: tuple[tuple[int, str], ...] = ()
    mux: int | None = None  # page this signal belongs to; None = always present
    is_mux: bool = False

    def limits(self) -> tuple[float, float]:
        raw_max = (1 << self.length) - 1
        lo = self.offset if self.minimum is None else self.minimum
        hi = raw_max * self.scale + self.offset if self.maximum is None else self.maximum
        return lo, hi


@dataclass(frozen=True)
class Msg:
    name: str
    base_id: int  # function code: identifier = base_id + node
    sender: str
    comment: str
    signals: tuple[Sig, ...]
    cycle_ms: int = 0  # 0 = sent on event
    per_slot: bool = True
    extra: list[str] = field(default_factory=list)


def e2e(receiver_note: str = "") -> tuple[Sig, Sig]:
    return (
        Sig("Crc", 0, 8, "E2E: CRC-8/AUTOSAR over bytes 1..7 and the data id "
            "(block of the function code + node id); see dbc/README.md." + receiver_note),
        Sig("Counter", 8, 4, "E2E: alive counter, +1 (mod 16) per frame of this identifier."),
    )


Table = tuple[tuple[int, str], ...]


def table(members: type[Enum] | list[CommandCode]) -> Table:
    """A value table from vocabulary enum members: (value, name), in definition order."""
    return tuple((int(m.value), m.name) for m in members)


def top(values: Table) -> int:
    """The signal's maximum: the highest named value, so nothing decodes to an unnamed one."""
    return max(v for v, _ in values)


PUMP_STATE = table(PumpState)
COMMANDS = table([c for c in CommandCode if c < CommandCode.PROGRAM_PRIMARY])
SUBJECTS = table(CommandCode)  # commands, and the program pages an Ack can name (>= 64)
REASONS = table(RejectReason)
# Alarm.Condition names a bit of AlarmBits by its index, not by the flag's value.
CONDITIONS: Table = tuple((c.index, c.name or "") for c in AlarmCondition)
PAGES = table(ProgramPage)
# Booleans in the frame models (dbc/frames.py), so no enum of their own.
NO_YES: Table = ((0, "NO"), (1, "YES"))
CLEARED_RAISED: Table = ((0, "CLEARED"), (1, "RAISED"))
ALARM_BITS_NOTE = "Active alarm conditions, one bit each; bit n = Condition n of the Alarm frame."
ALARM_BITS_MAX = (1 << 19) - 1  # bit 19 is reserved: a frame with it set is rejected


def program_signals(second_byte: Sig) -> tuple[Sig, ...]:
    """Program and Readback share the page layout; only byte 2 differs (Seq vs Store)."""
    return (
        *e2e(),
        Sig("Page", 12, 4, "Which part of the program this frame carries.", choices=PAGES,
            is_mux=True, maximum=3),
        second_byte,
        Sig("ProgramId", 24, 8, "Chosen by the workstation for one program; START names it."),
        Sig("Rate", 32, 14, "Primary rate.", 0.1, 0, 0.1, 1200, "mL/h", mux=0),
        Sig("Vtbi", 46, 17, "Primary volume to be infused.", 0.1, 0, 0.1, 9999.9, "mL", mux=0),
        Sig("KvoRate", 32, 8, "Keep-vein-open rate after VTBI (0 = none); never above the rate.",
            0.1, 0, 0, 20, "mL/h", mux=1),
        Sig("OcclusionLimit", 40, 10, "Downstream occlusion alarm pressure.", 1, 0, 50, 900,
            "mmHg", mux=1),
        Sig("EndAction", 50, 2, "What the module does when the primary VTBI is reached.",
            choices=table(EndAction), maximum=top(table(EndAction)), mux=1),
        Sig("AirLimit", 52, 9, "Single-bubble air-in-line alarm threshold.", 1, 0, 10, 500,
            "uL", mux=1),
        Sig("BolusVolume", 32, 10, "Bolus volume, on top of the basal rate.", 0.1, 0, 0.1, 100,
            "mL", mux=2),
        Sig("BolusRate", 42, 14, "Bolus rate.", 0.1, 0, 10, 1200, "mL/h", mux=2),
        Sig("SecRate", 32, 14, "Secondary (piggyback) rate.", 0.1, 0, 0.1, 1200, "mL/h", mux=3),
        Sig("SecVtbi", 46, 17, "Secondary volume to be infused.", 0.1, 0, 0.1, 9999.9, "mL",
            mux=3),
        Sig("Callback", 63, 1, "1 = raise CALLBACK when the secondary completes.",
            choices=NO_YES, mux=3),
    )


MESSAGES: tuple[Msg, ...] = (
    Msg("WS_Heartbeat", 0x100, WS, "Workstation heartbeat to all modules (slot 0 of the command "
        "function). A module that misses it for HbTimeout keeps its program running and raises "
        "WS_HEARTBEAT_LOST.", (
            *e2e(),
            Sig("WsState", 12, 4, "Workstation life-cycle state.",
                choices=table(WorkstationState), maximum=top(table(WorkstationState))),
            Sig("WsTimeS", 16, 32, "Workstation wall clock, Unix time.", unit="s"),
            Sig("WsTimeMs", 48, 10, "Milliseconds of WsTimeS.", maximum=999, unit="ms"),
            Sig("HbTimeout", 58, 6, "How long a module waits for this heartbeat before alarming.",
                0.1, 0, 0.5, 6.3, "s"),
        ), cycle_ms=1000, per_slot=False),
    Msg("Alarm", 0x080, PUMP, "Alarm event, sent at once when a condition starts or clears. "
        "Lowest identifiers on the bus: wins arbitration over everything else.", (
            *e2e(),
            Sig("Active", 12, 1, "Whether the condition started or cleared.",
                choices=CLEARED_RAISED),
            Sig("Condition", 16, 8, "The condition that changed (bit index in AlarmBits).",
                choices=CONDITIONS, maximum=top(CONDITIONS)),
            Sig("AlarmBits", 24, 20, ALARM_BITS_NOTE, maximum=ALARM_BITS_MAX),
        )),
    Msg("Command", 0x100, WS, "Command to one module; answered by Ack with the same Seq.", (
        *e2e(),
        Sig("Seq", 16, 8, "Sequence number, echoed in the Ack."),
        Sig("Command", 24, 8, "What to do.", choices=COMMANDS, maximum=top(COMMANDS)),
        Sig("ProgramId", 32, 8, "START/SECONDARY_START: the pending program to commit."),
        Sig("Arg", 40, 24, "ALARM_ACK: alarm bits; SILENCE: seconds; REQUEST_READBACK: store."),
    )),
    Msg("Ack", 0x180, PUMP, "Acknowledgement of a Command or Program frame.", (
        *e2e(),
        Sig("Result", 12, 1, "Accepted or rejected.", choices=table(AckResult)),
        Sig("Seq", 16, 8, "Seq of the acknowledged frame."),
        Sig("Subject", 24, 8, "Command, or program page, acknowledged.",
            choices=SUBJECTS, maximum=top(SUBJECTS)),
        Sig("Reason", 32, 8, "Why it was rejected (NONE when accepted).", choices=REASONS,
            maximum=top(REASONS)),
        Sig("ProgramId", 40, 8, "Pending program id after this frame (0 = none)."),
        Sig("State", 48, 4, "Pump state after this frame.", choices=PUMP_STATE,
            maximum=top(PUMP_STATE)),
    )),
    Msg("Program", 0x200, WS, "One page of a program, stored as pending; multiplexed by Page. "
        "Each page is acknowledged (Ack) and read back (Readback, Store=PENDING).",
        program_signals(Sig("Seq", 16, 8, "Sequence number, echoed in the Ack."))),
    Msg("Readback", 0x280, PUMP, "A program page as the module stored it; the workstation "
        "compares it with what it sent before it may START.",
        program_signals(Sig("Store", 16, 2, "Which program this page belongs to.",
                            choices=table(ProgramStore), maximum=top(table(ProgramStore))))),
    Msg("Status", 0x300, PUMP, "What the motor is doing.", (
        *e2e(),
        Sig("State", 12, 4, "Pump state.", choices=PUMP_STATE, maximum=top(PUMP_STATE)),
        Sig("Mode", 16, 2, "Which program drives the motor.",
            choices=table(DeliveryMode)),
        Sig("ActualRate", 18, 14, "Rate the motor runs at now.", 0.1, 0, 0, 1200, "mL/h"),
        Sig("Pressure", 32, 10, "Downstream line pressure.", 1, 0, 0, 1023, "mmHg"),
        Sig("AlarmBits", 42, 20, ALARM_BITS_NOTE, maximum=ALARM_BITS_MAX),
        Sig("BootCount", 62, 2, "Low two bits of the Heartbeat's BootCount: a receiver sees a "
            "reboot from whichever of the two frames comes first (dbc/README.md)."),
    ), cycle_ms=250),
    Msg("Delivery", 0x380, PUMP, "Measured volume with the module time it was measured at; the "
        "workstation's delivery supervision works on these pairs.", (
            *e2e(),
            Sig("VolumeInfused", 12, 24, "Total volume delivered since RESET_VOLUME.", 0.001, 0,
                unit="mL"),
            Sig("ModuleTime", 36, 28, "Module clock since boot (wraps after ~31 days).", 0.01, 0,
                unit="s"),
        ), cycle_ms=250),
    Msg("Progress", 0x400, PUMP, "Progress of the running program.", (
        *e2e(),
        Sig("ProgramId", 16, 8, "Active program id (0 = none)."),
        Sig("VolumeRemaining", 24, 17, "Volume left of the running mode's VTBI.", 0.1, 0, 0,
            9999.9, "mL"),
        Sig("TimeRemaining", 41, 14, "Time left at the current rate (16383 = unknown).",
            unit="min"),
    ), cycle_ms=250),
    Msg("Syringe", 0x480, PUMP, "Syringe module only: syringe and plunger.", (
        *e2e(),
        Sig("SyringeSize", 16, 8, "Detected syringe size.", unit="mL",
            choices=table(SyringeSize), maximum=top(table(SyringeSize))),
        Sig("PlungerTravel", 24, 11, "Plunger travel left.", 0.1, 0, unit="mm"),
        Sig("SyringeVolume", 35, 10, "Volume left in the syringe.", 0.1, 0, unit="mL"),
        Sig("PlungerForce", 45, 12, "Force on the plunger.", 0.1, 0, unit="N"),
        Sig("Engaged", 57, 1, "Syringe clamped and plunger engaged.", choices=NO_YES),
    ), cycle_ms=1000),
    Msg("Power", 0x500, PUMP, "Power supply.", (
        *e2e(),
        Sig("OnMains", 12, 1, "Mains connected.", choices=NO_YES),
        Sig("BatteryPercent", 16, 7, "Battery charge.", maximum=100, unit="%"),
        Sig("BatteryMinutes", 24, 10, "Estimated run time left on battery.", unit="min"),
        Sig("Temperature", 34, 8, "Module internal temperature.", 1, -40, unit="degC"),
    ), cycle_ms=1000),
    Msg("Heartbeat", 0x700, PUMP, "Module heartbeat (CiA 425 style); its absence for the "
        "workstation's timeout raises 'channel communication lost'.", (
            *e2e(),
            Sig("ModuleState", 12, 4, "Module life-cycle state.",
                choices=table(ModuleState), maximum=top(table(ModuleState))),
            Sig("Kind", 16, 4, "Module kind.", choices=table(ModuleKind),
                maximum=top(table(ModuleKind))),
            Sig("FwMajor", 20, 4, "Firmware version, major."),
            Sig("FwMinor", 24, 8, "Firmware version, minor."),
            Sig("FwPatch", 32, 8, "Firmware version, patch."),
            Sig("Serial", 40, 20, "Module serial number."),
            Sig("BootCount", 60, 4, "+1 (mod 16) at every power-up, kept in non-volatile "
                "memory: a changed value means the module rebooted (dbc/README.md)."),
        ), cycle_ms=1000),
)


def fmt(x: float) -> str:
    return f"{x:.10g}"


def message_name(msg: Msg, node: int) -> str:
    return f"Pump{node:02d}_{msg.name}" if msg.per_slot else msg.name


def render() -> str:
    out: list[str] = ['VERSION "infusion-bus 1.0"', "", "NS_ :", "\tCM_", "\tBA_DEF_", "\tBA_",
                      "\tVAL_", "\tBA_DEF_DEF_", "", "BS_:", "", f"BU_: {WS} {PUMP}", ""]
    comments: list[str] = [
        'CM_ "Bus between the ICU infusion workstation and its pump modules. Generated by '
        'dbc/build_dbc.py; frame map and handshake in dbc/README.md.";',
        f'CM_ BU_ {WS} "The infusion workstation (supervisor).";',
        f'CM_ BU_ {PUMP} "A pump module; its node id (1..31) is its slot and the low bits of '
        'each identifier.";',
    ]
    attrs: list[str] = []
    values: list[str] = []
    for msg in MESSAGES:
        receiver = PUMP if msg.sender == WS else WS
        for node in (SLOTS if msg.per_slot else (0,)):
            fid = msg.base_id + node
            where = f" Slot {node}." if msg.per_slot else ""
            out.append(f"BO_ {fid} {message_name(msg, node)}: 8 {msg.sender}")
            comments.append(f'CM_ BO_ {fid} "{msg.comment}{where}";')
            for s in msg.signals:
                mux = " M" if s.is_mux else (f" m{s.mux}" if s.mux is not None else "")
                lo, hi = s.limits()
                out.append(
                    f" SG_ {s.name}{mux} : {s.start}|{s.length}@1+ ({fmt(s.scale)},"
                    f"{fmt(s.offset)}) [{fmt(lo)}|{fmt(hi)}] \"{s.unit}\" {receiver}"
                )
                comments.append(f'CM_ SG_ {fid} {s.name} "{s.comment}";')
                if s.choices:
                    table = " ".join(f'{v} "{n}"' for v, n in s.choices)
                    values.append(f"VAL_ {fid} {s.name} {table} ;")
            out.append("")
            attrs.append(f'BA_ "GenMsgSendType" BO_ {fid} {1 if msg.cycle_ms else 0};')
            if msg.cycle_ms:
                attrs.append(f'BA_ "GenMsgCycleTime" BO_ {fid} {msg.cycle_ms};')
    defs = [
        'BA_DEF_ BO_ "GenMsgCycleTime" INT 0 65535;',
        'BA_DEF_ BO_ "GenMsgSendType" ENUM "Event","Cyclic";',
        'BA_DEF_DEF_ "GenMsgCycleTime" 0;',
        'BA_DEF_DEF_ "GenMsgSendType" "Event";',
    ]
    return "\n".join([*out, *comments, "", *defs, *attrs, "", *values, ""])


DBC_PATH = Path(__file__).with_name("infusion.dbc")


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if DBC_PATH.read_text() != text:
            print(f"{DBC_PATH} is out of date: run python dbc/build_dbc.py", file=sys.stderr)
            return 1
        return 0
    DBC_PATH.write_text(text)
    print(f"wrote {DBC_PATH} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
