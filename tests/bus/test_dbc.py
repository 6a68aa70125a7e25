"""The DBC contract: layout rules every message obeys, and agreement with the Python vocabulary.

The expectations here are written out independently of ``dbc/build_dbc.py`` on purpose: a change
to the generator that breaks the bus contract must fail a test, not silently regenerate it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from enum import IntEnum
from pathlib import Path

import cantools
import pytest
from cantools.database.can import Database, Message, Signal

from dbc.codec import FrameCodec
from dbc.frames import FRAME_TYPES, ModuleHeartbeat, Status
from dbc.vocabulary import (
    ALARM_BITS_WIDTH,
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

REPO = Path(__file__).resolve().parents[2]
DBC = REPO / "dbc" / "infusion.dbc"
WS, PUMP = "WS", "PUMP"
NODES = range(1, 32)

# Function code (identifier of node 0) and sender of every per-slot message.
FUNCTION_CODES: dict[str, int] = {
    "Alarm": 0x080, "Command": 0x100, "Ack": 0x180, "Program": 0x200, "Readback": 0x280,
    "Status": 0x300, "Delivery": 0x380, "Progress": 0x400, "Syringe": 0x480, "Power": 0x500,
    "Heartbeat": 0x700,
}
SENDERS: dict[str, str] = {
    "WS_Heartbeat": WS, "Command": WS, "Program": WS,
    "Alarm": PUMP, "Ack": PUMP, "Readback": PUMP, "Status": PUMP, "Delivery": PUMP,
    "Progress": PUMP, "Syringe": PUMP, "Power": PUMP, "Heartbeat": PUMP,
}
CYCLE_MS: dict[str, int] = {
    "Status": 250, "Delivery": 250, "Progress": 250,
    "Heartbeat": 1000, "Power": 1000, "Syringe": 1000, "WS_Heartbeat": 1000,
}
WS_HEARTBEAT_ID = 0x100
_PER_SLOT = re.compile(r"^Pump(\d{2})_(\w+)$")


def base_and_node(name: str) -> tuple[str, int]:
    """``Pump07_Status`` -> ("Status", 7); ``WS_Heartbeat`` -> ("WS_Heartbeat", 0)."""
    match = _PER_SLOT.match(name)
    if match is None:
        return name, 0
    return match.group(2), int(match.group(1))


@pytest.fixture(scope="module")
def db() -> Database:
    loaded = cantools.database.load_file(str(DBC), strict=True)
    assert isinstance(loaded, Database)
    return loaded


def messages_named(db: Database, base: str) -> list[Message]:
    found = [m for m in db.messages if base_and_node(m.name)[0] == base]
    assert found, f"no {base} message in the DBC"
    return found


# --- the file itself -------------------------------------------------------------------------


def test_loads_strictly(db: Database) -> None:
    assert len(db.messages) == 1 + len(FUNCTION_CODES) * len(NODES) == 342
    assert {n.name for n in db.nodes} == {WS, PUMP}


def test_generator_and_dbc_agree() -> None:
    result = subprocess.run([sys.executable, "dbc/build_dbc.py", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_cantools_dump_works() -> None:
    result = subprocess.run([sys.executable, "-m", "cantools", "dump", str(DBC)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Pump31_Heartbeat" in result.stdout


# --- identifiers -----------------------------------------------------------------------------


def test_every_message_is_8_bytes_standard_id_with_comment(db: Database) -> None:
    for m in db.messages:
        assert m.length == 8, m.name
        assert not m.is_extended_frame, m.name
        assert 0 <= m.frame_id <= 0x7FF, m.name
        assert m.comment, f"{m.name} has no comment"
        assert not getattr(m, "is_fd", False), m.name


def test_identifier_is_function_code_plus_node(db: Database) -> None:
    seen: dict[str, set[int]] = defaultdict(set)
    for m in db.messages:
        base, node = base_and_node(m.name)
        if base == "WS_Heartbeat":
            assert m.frame_id == WS_HEARTBEAT_ID
            continue
        assert base in FUNCTION_CODES, f"unexpected message {m.name}"
        assert node in NODES, m.name
        assert m.frame_id == FUNCTION_CODES[base] + node, m.name
        assert m.frame_id & 0x7F == node and m.frame_id & ~0x7F == FUNCTION_CODES[base]
        seen[base].add(node)
    assert {b: sorted(n) for b, n in seen.items()} == {b: list(NODES) for b in FUNCTION_CODES}
    assert len({m.frame_id for m in db.messages}) == len(db.messages)


def test_alarms_and_commands_win_arbitration_over_status(db: Database) -> None:
    status = [m.frame_id for m in messages_named(db, "Status")]
    for base in ("Alarm", "Command", "WS_Heartbeat"):
        ids = [m.frame_id for m in messages_named(db, base)]
        assert max(ids) < min(status), base
    alarms = [m.frame_id for m in messages_named(db, "Alarm")]
    others = [m.frame_id for m in db.messages if base_and_node(m.name)[0] != "Alarm"]
    assert max(alarms) < min(others), "alarms must be the lowest identifiers on the bus"


def test_all_slots_of_a_function_share_one_layout(db: Database) -> None:
    def layout(m: Message) -> list[tuple[object, ...]]:
        return [(s.name, s.start, s.length, s.byte_order, s.is_signed, s.scale, s.offset,
                 s.minimum, s.maximum, s.unit, s.multiplexer_ids, s.is_multiplexer,
                 dict(s.choices or {})) for s in m.signals]

    for base in FUNCTION_CODES:
        msgs = messages_named(db, base)
        first = layout(msgs[0])
        for m in msgs[1:]:
            assert layout(m) == first, f"{m.name} differs from {msgs[0].name}"


# --- signals ---------------------------------------------------------------------------------


def test_every_signal_commented_little_endian_unit_when_scaled(db: Database) -> None:
    for m in db.messages:
        for s in m.signals:
            where = f"{m.name}.{s.name}"
            assert s.comment, f"{where} has no comment"
            assert s.byte_order == "little_endian", where
            assert not s.is_float, where
            if s.scale != 1:
                assert s.unit, f"{where} is scaled by {s.scale} but has no unit"
            assert s.minimum is not None and s.maximum is not None, where
            assert s.minimum <= s.maximum, where


def test_every_message_has_crc_and_counter_in_front(db: Database) -> None:
    for m in db.messages:
        crc = m.get_signal_by_name("Crc")
        counter = m.get_signal_by_name("Counter")
        assert (crc.start, crc.length, crc.is_signed) == (0, 8, False), m.name
        assert (counter.start, counter.length, counter.is_signed) == (8, 4, False), m.name
        assert crc.multiplexer_ids is None and counter.multiplexer_ids is None
        for s in m.signals:
            if s.name not in ("Crc", "Counter"):
                assert s.start >= 12, f"{m.name}.{s.name} overlaps the E2E header"
            assert s.start + s.length <= 64, f"{m.name}.{s.name} runs past byte 7"


def test_cycle_times(db: Database) -> None:
    for m in db.messages:
        base, _ = base_and_node(m.name)
        attrs = m.dbc.attributes if m.dbc is not None else {}
        expected = CYCLE_MS.get(base)
        if expected is None:
            assert not m.cycle_time, f"{m.name} is sent on event but has a cycle time"
            assert "GenMsgCycleTime" not in attrs, m.name
            assert m.send_type == "Event", m.name
        else:
            assert m.cycle_time == expected, m.name
            assert attrs["GenMsgCycleTime"].value == expected, m.name
            assert m.send_type == "Cyclic", m.name


def test_senders_and_receivers(db: Database) -> None:
    for m in db.messages:
        base, _ = base_and_node(m.name)
        sender = SENDERS[base]
        receiver = PUMP if sender == WS else WS
        assert m.senders == [sender], m.name
        assert set(m.receivers) == {receiver}, m.name
        for s in m.signals:
            assert s.receivers == [receiver], f"{m.name}.{s.name}"


# --- value tables == vocabulary --------------------------------------------------------------

COMMANDS_ONLY = {c.name: c.value for c in CommandCode if c.value < 64}

VALUE_TABLES: list[tuple[str, str, dict[str, int]]] = [
    ("Status", "State", {e.name: e.value for e in PumpState}),
    ("Ack", "State", {e.name: e.value for e in PumpState}),
    ("Status", "Mode", {e.name: e.value for e in DeliveryMode}),
    ("Command", "Command", COMMANDS_ONLY),
    ("Ack", "Subject", {e.name: e.value for e in CommandCode}),
    ("Ack", "Result", {e.name: e.value for e in AckResult}),
    ("Ack", "Reason", {e.name: e.value for e in RejectReason}),
    ("Program", "EndAction", {e.name: e.value for e in EndAction}),
    ("Readback", "EndAction", {e.name: e.value for e in EndAction}),
    ("Program", "Page", {e.name: e.value for e in ProgramPage}),
    ("Readback", "Page", {e.name: e.value for e in ProgramPage}),
    ("Readback", "Store", {e.name: e.value for e in ProgramStore}),
    ("Syringe", "SyringeSize", {e.name: e.value for e in SyringeSize}),
    ("Heartbeat", "ModuleState", {e.name: e.value for e in ModuleState}),
    ("Heartbeat", "Kind", {e.name: e.value for e in ModuleKind}),
    ("WS_Heartbeat", "WsState", {e.name: e.value for e in WorkstationState}),
    ("Alarm", "Condition", {c.name: c.index for c in AlarmCondition if c.name}),
]


def value_table(signal: Signal) -> dict[str, int]:
    assert signal.choices, f"{signal.name} has no value table"
    return {str(name): int(value) for value, name in signal.choices.items()}


@pytest.mark.parametrize(("base", "signal", "expected"), VALUE_TABLES,
                         ids=[f"{b}.{s}" for b, s, _ in VALUE_TABLES])
def test_value_table_mirrors_enum(db: Database, base: str, signal: str,
                                  expected: dict[str, int]) -> None:
    for m in messages_named(db, base):
        sig = m.get_signal_by_name(signal)
        assert value_table(sig) == expected, m.name
        # the signal's range is the value table's: nothing decodes to an unnamed value
        assert sig.minimum == min(expected.values()), m.name
        assert sig.maximum == max(expected.values()), m.name


def test_program_subjects_are_pages() -> None:
    pages = [c for c in CommandCode if c.value >= 64]
    assert [c.value - 64 for c in pages] == [p.value for p in ProgramPage]
    assert [c.name for c in pages] == [f"PROGRAM_{p.name}" for p in ProgramPage]


def test_alarm_condition_bits_fit_alarm_bits(db: Database) -> None:
    members = [c for c in AlarmCondition if c.name]
    assert [c.index for c in members] == list(range(len(members)))
    assert all(AlarmCondition.from_index(c.index) is c for c in members)
    assert len(members) <= ALARM_BITS_WIDTH
    for base in ("Status", "Alarm"):
        for m in messages_named(db, base):
            assert m.get_signal_by_name("AlarmBits").length == ALARM_BITS_WIDTH, m.name


def test_enums_are_int_enums() -> None:
    for enum_type in (PumpState, DeliveryMode, CommandCode, AckResult, RejectReason, EndAction,
                      ProgramPage, ProgramStore, SyringeSize, ModuleState, ModuleKind,
                      WorkstationState):
        assert issubclass(enum_type, IntEnum)


# --- frame models cover the DBC --------------------------------------------------------------


def test_every_message_of_every_node_has_a_frame_model(db: Database) -> None:
    codec = FrameCodec(db)
    by_name = {t.MESSAGE: t for t in FRAME_TYPES}
    assert len(by_name) == len(FRAME_TYPES), "two frame models claim one message"
    covered = 0
    for m in db.messages:
        base, node = base_and_node(m.name)
        assert base in by_name, f"no frame model for {m.name}"
        spec = codec.spec_for_id(m.frame_id)
        assert spec is not None, m.name
        assert spec.frame_type is by_name[base] and spec.node == node, m.name
        assert codec.frame_id(by_name[base], node) == m.frame_id
        covered += 1
    assert covered == 342
    assert set(by_name) == {base_and_node(m.name)[0] for m in db.messages}


def test_frame_model_fields_map_to_existing_signals(db: Database) -> None:
    for frame_type in FRAME_TYPES:
        msg = messages_named(db, frame_type.MESSAGE)[0]
        names = {s.name for s in msg.signals}
        for field_name, signal in frame_type.SIGNALS.items():
            assert signal in names, f"{frame_type.__name__}.{field_name} -> {signal}"
            assert field_name in frame_type.model_fields, f"{frame_type.__name__}.{field_name}"


def test_boot_identity_in_heartbeat_and_status(db: Database) -> None:
    """H14: the 4-bit boot count in the Heartbeat, its low two bits in every Status."""
    for m in messages_named(db, "Heartbeat"):
        boot, serial = m.get_signal_by_name("BootCount"), m.get_signal_by_name("Serial")
        assert (boot.start, boot.length, serial.length) == (60, 4, 20), m.name
    for m in messages_named(db, "Status"):
        boot = m.get_signal_by_name("BootCount")
        assert (boot.start, boot.length) == (62, 2), m.name
    codec = FrameCodec(db)
    beat = ModuleHeartbeat(node=5, state=ModuleState.OPERATIONAL, kind=ModuleKind.SYRINGE,
                           fw_major=1, fw_minor=0, fw_patch=0, serial=(1 << 20) - 1,
                           boot_count=13)
    status = Status(node=5, state=PumpState.PROGRAMMED, mode=DeliveryMode.NONE, rate_ml_h=0,
                    pressure_mmhg=0, alarms=AlarmCondition(0), boot_count=13 & 3)
    for frame in (beat, status):
        assert codec.decode(codec.encode(frame, 1)) == frame
