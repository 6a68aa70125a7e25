"""The firmware core, pure: frames and module time in, frames out. No bus, no clock."""

from __future__ import annotations

import pytest

from dbc.frames import (
    AlarmEvent,
    BolusPage,
    Command,
    CommandAck,
    ModuleHeartbeat,
    PrimaryPage,
    Readback,
    SecondaryPage,
)
from dbc.vocabulary import (
    AckResult,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    ModuleState,
    ProgramStore,
    PumpState,
    RejectReason,
)
from pumps.module import Fault
from tests.pumps.firmware_bench import NODE, Bench


def test_program_pages_are_acknowledged_and_read_back_as_stored() -> None:
    b = Bench()
    page = PrimaryPage(rate_ml_h=12.5, vtbi_ml=250.0)
    ack, readback = b.page(9, page)
    assert isinstance(ack, CommandAck) and ack.accepted
    assert ack.subject is CommandCode.PROGRAM_PRIMARY and ack.program_id == 9
    assert readback == Readback(node=NODE, store=ProgramStore.PENDING, program_id=9, page=page)


def test_start_needs_the_read_back_program_id_and_a_complete_program() -> None:
    b = Bench()
    b.page(3, PrimaryPage(rate_ml_h=50, vtbi_ml=10))
    assert b.command(CommandCode.START, 3).reason is RejectReason.INCOMPLETE_PROGRAM
    b.program(program_id=3)
    assert b.command(CommandCode.START, 4).reason is RejectReason.PROGRAM_ID_MISMATCH
    assert b.fw.state is PumpState.IDLE
    ack = b.command(CommandCode.START, 3)
    assert ack.accepted and ack.state is PumpState.INFUSING


def test_kvo_above_the_rate_is_rejected() -> None:
    b = Bench()
    b.program(program_id=2, rate=0.5, kvo=1.0)
    assert b.command(CommandCode.START, 2).reason is RejectReason.KVO_ABOVE_RATE


def test_vtbi_complete_goes_to_kvo_and_keeps_the_volume() -> None:
    b = Bench()
    b.program(rate=120, vtbi=10, kvo=2.0, end=EndAction.KVO)
    b.command(CommandCode.START, 1)
    b.run(60 * 4)  # 10 mL at 120 mL/h takes 5 min
    assert b.fw.state is PumpState.INFUSING and b.raised(AlarmCondition.NEAR_END)
    b.run(60 * 2)
    assert b.fw.state is PumpState.KVO
    assert b.fw.motor_rate() == pytest.approx(2.0)
    assert b.raised(AlarmCondition.INFUSION_COMPLETE)
    assert b.fw.delivered.primary_ml == pytest.approx(10.0, abs=0.05)


def test_end_action_stop_completes_and_a_new_program_is_needed() -> None:
    b = Bench()
    b.program(rate=60, vtbi=1, kvo=0, end=EndAction.STOP)
    b.command(CommandCode.START, 1)
    b.run(120)
    assert b.fw.state is PumpState.COMPLETE and b.fw.motor_rate() == 0
    assert b.command(CommandCode.START).reason is RejectReason.BAD_STATE


def test_bolus_on_top_of_basal_leaves_the_basal_rate_unchanged() -> None:
    b = Bench()
    b.program(rate=10, vtbi=500)
    b.page(1, BolusPage(volume_ml=5, rate_ml_h=300))  # new id: becomes the pending program
    b.command(CommandCode.START, 1)
    b.program(program_id=2, rate=10, vtbi=500)
    b.page(2, BolusPage(volume_ml=5, rate_ml_h=300))
    assert b.command(CommandCode.BOLUS_START, 2).accepted
    assert b.fw.mode is DeliveryMode.BOLUS and b.fw.motor_rate() == 300
    b.run(90)  # 5 mL at 300 mL/h = 60 s
    assert b.fw.mode is DeliveryMode.PRIMARY and b.fw.motor_rate() == 10
    assert b.fw.delivered.bolus_ml == pytest.approx(5.0, rel=0.05)
    assert b.fw.program.primary == PrimaryPage(rate_ml_h=10, vtbi_ml=500)
    # The basal runs on at 10 mL/h (measured over 6 min, past the line's compliance discharge).
    primary_before = b.fw.delivered.primary_ml
    b.run(360)
    assert b.fw.delivered.primary_ml - primary_before == pytest.approx(1.0, rel=0.1)


def test_no_bolus_while_paused_or_in_alarm() -> None:
    b = Bench()
    b.program(rate=10, vtbi=500)
    b.page(1, BolusPage(volume_ml=1, rate_ml_h=100))
    b.command(CommandCode.START, 1)
    b.command(CommandCode.PAUSE)
    assert b.command(CommandCode.BOLUS_START, 1).reason is RejectReason.BAD_STATE
    b.command(CommandCode.START)
    b.module.inject(Fault.DOOR)
    b.run(1)
    assert b.fw.state is PumpState.ALARM
    assert b.command(CommandCode.BOLUS_START, 1).reason is RejectReason.DOOR_OPEN


def test_secondary_returns_to_primary_with_callback() -> None:
    b = Bench()
    b.program(rate=20, vtbi=500)
    b.command(CommandCode.START, 1)
    b.page(5, SecondaryPage(rate_ml_h=200, vtbi_ml=2, callback=True))
    assert b.command(CommandCode.SECONDARY_START, 5).accepted
    assert b.fw.mode is DeliveryMode.SECONDARY and b.fw.motor_rate() == 200
    b.run(60)
    assert b.fw.mode is DeliveryMode.PRIMARY and b.fw.motor_rate() == 20
    assert b.fw.conditions() & AlarmCondition.CALLBACK
    b.command(CommandCode.ALARM_ACK, arg=int(AlarmCondition.CALLBACK))
    assert not b.fw.conditions() & AlarmCondition.CALLBACK


def test_syringe_modules_have_no_secondary() -> None:
    b = Bench(ModuleKind.SYRINGE)
    ack = b.page(5, SecondaryPage(rate_ml_h=2, vtbi_ml=2))[0]
    assert isinstance(ack, CommandAck) and ack.reason is RejectReason.NOT_SUPPORTED


def test_titration_changes_the_rate_without_stopping() -> None:
    b = Bench()
    b.program(program_id=1, rate=10, vtbi=100)
    b.command(CommandCode.START, 1)
    b.run(30)
    b.program(program_id=2, rate=15, vtbi=100)
    ack = b.command(CommandCode.START, 2)
    assert ack.accepted and ack.state is PumpState.INFUSING
    assert b.fw.motor_rate() == 15 and b.fw.program.active_id == 2


def test_lost_workstation_heartbeat_is_flagged_and_the_infusion_goes_on() -> None:
    b = Bench()
    b.program(rate=10, vtbi=100)
    b.command(CommandCode.START, 1)
    b.run(2)
    b.now += 5  # the workstation falls silent for 5 s of bus time
    b.events += [e for e in b.fw.tick(b.now, 5) if isinstance(e, AlarmEvent)]
    assert b.raised(AlarmCondition.WS_HEARTBEAT_LOST)
    assert b.fw.state is PumpState.INFUSING and b.fw.motor_rate() == 10
    b.run(1)  # latched until the workstation acknowledges it (issue 10, B6)
    assert b.fw.conditions() & AlarmCondition.WS_HEARTBEAT_LOST
    b.command(CommandCode.ALARM_ACK, arg=int(AlarmCondition.WS_HEARTBEAT_LOST))
    b.run(1)
    assert not b.fw.conditions() & AlarmCondition.WS_HEARTBEAT_LOST


def test_occlusion_stops_and_auto_restarts_when_released_quickly() -> None:
    b = Bench()
    b.program(rate=100, vtbi=500)
    b.command(CommandCode.START, 1)
    b.module.inject(Fault.OCCLUSION)
    b.run(300, step=0.5)
    assert b.raised(AlarmCondition.OCCLUSION_DOWNSTREAM) and b.fw.state is PumpState.ALARM
    assert b.fw.motor_rate() == 0
    b.run(30)
    assert b.fw.state is PumpState.ALARM  # still clamped after the 15 s check: nurse must act
    b.module.inject(Fault.OCCLUSION, 0)
    b.run(5)
    # Released, but the module stays in ALARM and still says why (H2: latched until a start
    # or an acknowledgement; it used to drop the bit and sit in ALARM without a reason).
    assert b.fw.conditions() & AlarmCondition.OCCLUSION_DOWNSTREAM
    assert b.command(CommandCode.START).accepted and b.fw.state is PumpState.INFUSING
    assert not b.fw.conditions() & AlarmCondition.OCCLUSION_DOWNSTREAM
    # A clamp released within the checking-line window resumes by itself.
    b.module.inject(Fault.OCCLUSION)
    for _ in range(600):
        b.run(0.5, step=0.5)
        if b.fw.state is PumpState.ALARM:
            break
    assert b.fw.state is PumpState.ALARM
    b.module.inject(Fault.OCCLUSION, 0)
    b.run(10, step=0.5)
    assert b.fw.state is PumpState.INFUSING


def test_air_stops_and_needs_clearing_at_the_pump_before_restart() -> None:
    # H12: an acknowledge from the workstation used to re-arm the detector and allow a start.
    b = Bench()
    b.program(rate=100, vtbi=500)
    b.command(CommandCode.START, 1)
    b.module.inject(Fault.AIR, 150)
    b.run(30)
    assert b.fw.state is PumpState.ALARM and b.raised(AlarmCondition.AIR_IN_LINE)
    assert b.command(CommandCode.START).reason is RejectReason.AIR_NOT_CLEARED
    b.command(CommandCode.ALARM_ACK, arg=int(AlarmCondition.AIR_IN_LINE))
    assert b.command(CommandCode.START).reason is RejectReason.AIR_NOT_CLEARED
    b.module.inject(Fault.CLEAR_AIR)
    assert b.command(CommandCode.START).accepted


def test_hold_reminder_after_two_minutes_paused() -> None:
    b = Bench()
    b.program(rate=10, vtbi=100)
    b.command(CommandCode.START, 1)
    b.command(CommandCode.PAUSE)
    b.run(110)
    assert not b.fw.conditions() & AlarmCondition.HOLD_EXPIRED
    b.run(20)
    assert b.raised(AlarmCondition.HOLD_EXPIRED)
    b.command(CommandCode.START)
    assert not b.fw.conditions() & AlarmCondition.HOLD_EXPIRED


def test_reboot_announces_itself_and_keeps_the_program_stopped() -> None:
    b = Bench()
    b.program(rate=10, vtbi=100)
    b.command(CommandCode.START, 1)
    b.fw.heartbeat()
    b.run(10)
    b.module.inject(Fault.REBOOT)
    beat = b.fw.heartbeat()
    assert isinstance(beat, ModuleHeartbeat) and beat.state is ModuleState.BOOT
    assert b.fw.heartbeat().state is ModuleState.OPERATIONAL
    assert b.fw.state is PumpState.PROGRAMMED and b.fw.program.active_id == 1
    assert b.fw.module_time_s == 0


def test_calibration_error_shows_in_the_measured_volume() -> None:
    b = Bench()
    b.program(rate=25, vtbi=1000)
    b.module.inject(Fault.CALIBRATION, 15)
    b.command(CommandCode.START, 1)
    b.run(3600, step=5)
    assert b.fw.delivered.primary_ml == pytest.approx(25 * 1.15, rel=0.03)


def test_stop_and_clear() -> None:
    b = Bench()
    b.program()
    b.command(CommandCode.START, 1)
    assert b.command(CommandCode.CLEAR).reason is RejectReason.BAD_STATE
    assert b.command(CommandCode.STOP).state is PumpState.PROGRAMMED
    assert b.command(CommandCode.CLEAR).state is PumpState.IDLE
    assert b.command(CommandCode.START).reason is RejectReason.NO_PROGRAM


def test_readback_of_the_active_program_for_adoption() -> None:
    b = Bench()
    b.program(program_id=7, rate=33.3, vtbi=99.9)
    b.command(CommandCode.START, 7)
    replies = b.send(Command(node=NODE, seq=200, command=CommandCode.REQUEST_READBACK,
                             arg=int(ProgramStore.ACTIVE)))
    assert isinstance(replies[0], CommandAck) and replies[0].result is AckResult.ACCEPTED
    pages = [r.page for r in replies[1:] if isinstance(r, Readback)]
    assert PrimaryPage(rate_ml_h=33.3, vtbi_ml=99.9) in pages and len(pages) == 2
    assert all(isinstance(r, Readback) and r.program_id == 7 for r in replies[1:])


def test_frames_for_other_nodes_are_ignored() -> None:
    b = Bench()
    assert b.fw.handle(Command(node=NODE + 1, seq=1, command=CommandCode.STOP), 0.0) == []


def test_a_retried_command_is_answered_again_not_executed_twice() -> None:
    b = Bench()
    b.program()
    start = Command(node=NODE, seq=77, command=CommandCode.START, program_id=1)
    first = b.send(start)
    again = b.send(start)  # the workstation missed the Ack and retries with the same Seq
    assert first == again
    assert isinstance(again[0], CommandAck) and again[0].accepted
    b.command(CommandCode.PAUSE)
    assert b.fw.state is PumpState.PAUSED
    b.send(start)  # the same Seq after another command is a new request: executed
    assert b.fw.state is PumpState.INFUSING
