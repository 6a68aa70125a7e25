"""The module's state table, walked pair by pair against a real firmware driven into each state."""

from __future__ import annotations

from itertools import product

import pytest

from dbc.frames import BolusPage, PrimaryPage, SecondaryPage
from dbc.vocabulary import (
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    ProgramStore,
    PumpState,
    RejectReason,
)
from pumps.module import Fault
from pumps.state_table import (
    COMMANDS,
    COMMIT,
    TABLE,
    Goto,
    Refusal,
    Transition,
    decide,
    mermaid,
    rows,
)
from tests.pumps.firmware_bench import Bench

ACTIVE_ID = 1


def _program_with_extras(b: Bench, program_id: int = ACTIVE_ID, *, vtbi: float = 500,
                         end: EndAction = EndAction.KVO) -> None:
    b.program(program_id=program_id, rate=120, vtbi=vtbi, kvo=1.0, end=end)
    b.page(program_id, BolusPage(volume_ml=1, rate_ml_h=300))
    if b.fw.identity.kind is ModuleKind.VOLUMETRIC:
        b.page(program_id, SecondaryPage(rate_ml_h=200, vtbi_ml=2))


def in_state(state: PumpState, kind: ModuleKind = ModuleKind.VOLUMETRIC) -> Bench:
    """A firmware in ``state`` with no alarm condition active."""
    b = Bench(kind)
    if state is PumpState.IDLE:
        b.page(9, PrimaryPage(rate_ml_h=10, vtbi_ml=10))  # a pending page only
    elif state in (PumpState.KVO, PumpState.COMPLETE):
        end = EndAction.KVO if state is PumpState.KVO else EndAction.STOP
        _program_with_extras(b, vtbi=1, end=end)
        b.command(CommandCode.START, ACTIVE_ID)
        b.run(60)
    else:
        _program_with_extras(b)
        b.command(CommandCode.START, ACTIVE_ID)
        if state is PumpState.PROGRAMMED:
            b.command(CommandCode.STOP)
        elif state is PumpState.PAUSED:
            b.command(CommandCode.PAUSE)
        elif state is PumpState.ALARM:
            b.module.inject(Fault.DOOR)
            b.run(1)
            b.module.inject(Fault.DOOR, 0)
            b.command(CommandCode.ALARM_ACK, arg=int(AlarmCondition.DOOR_OPEN))
    assert b.fw.state is state
    assert not b.fw.conditions() & ~(AlarmCondition.INFUSION_COMPLETE | AlarmCondition.NEAR_END)
    return b


def argument(b: Bench, command: CommandCode) -> tuple[int, int]:
    """(program id, arg) a workstation would send with ``command`` in this firmware's state."""
    if command is CommandCode.REQUEST_READBACK:
        return 0, int(ProgramStore.ACTIVE if b.fw.program.active else ProgramStore.PENDING)
    if command in (CommandCode.BOLUS_START, CommandCode.SECONDARY_START):
        return ACTIVE_ID, 0
    if command is CommandCode.SILENCE:
        return 0, 30
    return 0, 0  # START without a program id: the resume form


def test_the_table_is_complete_and_only_names_real_states() -> None:
    assert set(TABLE) == set(product(PumpState, COMMANDS))
    assert CommandCode.PROGRAM_PRIMARY not in COMMANDS
    for out in TABLE.values():
        assert isinstance(out, Transition | Refusal)
        if isinstance(out, Refusal):
            assert out.reason is not RejectReason.NONE


@pytest.mark.parametrize("kind", list(ModuleKind), ids=lambda k: k.name)
@pytest.mark.parametrize(("state", "command"), list(product(PumpState, COMMANDS)),
                         ids=lambda v: v.name)
def test_every_pair_behaves_as_the_table_says(state: PumpState, command: CommandCode,
                                              kind: ModuleKind) -> None:
    b = in_state(state, kind)
    mode_before = b.fw.mode
    program_id, arg = argument(b, command)
    ack = b.command(command, program_id, arg)
    expected = decide(state, mode_before, command)
    if kind is ModuleKind.SYRINGE and command is CommandCode.SECONDARY_START:
        expected = Refusal(RejectReason.NOT_SUPPORTED)  # capability guard, before the table
    if isinstance(expected, Refusal):
        assert not ack.accepted and ack.reason is expected.reason, ack
        assert b.fw.state is state and b.fw.mode is mode_before  # a refusal changes nothing
        return
    assert ack.accepted, f"{state.name} x {command.name}: {ack.reason.name}"
    if expected.to is Goto.SAME:
        assert b.fw.state is state and b.fw.mode is mode_before
    elif expected.to is Goto.RESUME:
        assert b.fw.state is PumpState.INFUSING and b.fw.mode is DeliveryMode.PRIMARY
    else:
        assert b.fw.state is expected.to
        if expected.mode is not None:
            assert b.fw.mode is expected.mode
    assert ack.state is b.fw.state  # the Ack reports the state after the command


@pytest.mark.parametrize("state", list(PumpState), ids=lambda s: s.name)
def test_start_naming_a_new_program_is_accepted_from_every_state(state: PumpState) -> None:
    b = in_state(state)
    b.program(program_id=7, rate=25, vtbi=100)
    ack = b.command(CommandCode.START, 7)
    assert ack.accepted and b.fw.state is COMMIT.to and b.fw.program.active_id == 7
    assert b.fw.motor_rate() == 25


@pytest.mark.parametrize(("command", "mode"), [
    (CommandCode.BOLUS_STOP, DeliveryMode.PRIMARY),
    (CommandCode.SECONDARY_STOP, DeliveryMode.PRIMARY),
    (CommandCode.BOLUS_START, DeliveryMode.SECONDARY),
    (CommandCode.SECONDARY_START, DeliveryMode.BOLUS),
])
def test_mode_bound_commands_are_refused_in_the_wrong_mode(command: CommandCode,
                                                           mode: DeliveryMode) -> None:
    b = in_state(PumpState.INFUSING)
    if mode is DeliveryMode.SECONDARY:
        assert b.command(CommandCode.SECONDARY_START, ACTIVE_ID).accepted
    elif mode is DeliveryMode.BOLUS:
        assert b.command(CommandCode.BOLUS_START, ACTIVE_ID).accepted
    assert b.fw.mode is mode
    ack = b.command(command, ACTIVE_ID)
    assert ack.reason is RejectReason.BAD_STATE and b.fw.mode is mode


def test_a_syringe_has_no_secondary_whatever_its_state() -> None:
    b = Bench(ModuleKind.SYRINGE)
    b.program(rate=2, vtbi=20)
    b.command(CommandCode.START, 1)
    assert b.command(CommandCode.SECONDARY_START, 1).reason is RejectReason.NOT_SUPPORTED


def test_docs_are_drawn_from_the_table() -> None:
    diagram = mermaid()
    assert diagram.startswith("stateDiagram-v2")
    assert "KVO --> INFUSING: START new program" in diagram
    assert "KVO --> INFUSING: SECONDARY_START" not in diagram  # H1: refused in KVO
    assert "PAUSED --> INFUSING: START (resume)" in diagram
    table = rows()
    assert table.count("\n| ") == len(PumpState)  # header + one row per state
    assert "| KVO |" in table and "✗ BAD_STATE" in table
