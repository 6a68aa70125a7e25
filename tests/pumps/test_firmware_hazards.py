"""Firmware-level regression tests of the hazards H1, H2, H12, H14 and H15 (issues 9 and 14)."""

from __future__ import annotations

import itertools

import pytest

from dbc.frames import SecondaryPage
from dbc.link import BusSettings
from dbc.vocabulary import (
    STOPPING_CONDITIONS,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    PumpState,
    RejectReason,
)
from icu_ws.pump import apply_control_line
from pumps.module import Fault, SimulatedModule
from pumps.rack import PumpRack
from tests.pumps.firmware_bench import Bench

KINDS = [ModuleKind.VOLUMETRIC, ModuleKind.SYRINGE]


def in_kvo() -> Bench:
    b = Bench()
    b.program(rate=120, vtbi=10, kvo=2.0, end=EndAction.KVO)
    b.command(CommandCode.START, 1)
    b.run(6 * 60)
    assert b.fw.state is PumpState.KVO
    return b


# -- H1: over-infusion after KVO -----------------------------------------------------------------
def test_h1_secondary_start_in_kvo_is_refused() -> None:
    b = in_kvo()
    b.page(5, SecondaryPage(rate_ml_h=50, vtbi_ml=1))
    ack = b.command(CommandCode.SECONDARY_START, 5)
    assert not ack.accepted and ack.reason is RejectReason.BAD_STATE
    assert b.fw.state is PumpState.KVO and b.fw.motor_rate() == pytest.approx(2.0)


def test_h1_a_paused_kvo_resumes_at_the_kvo_rate() -> None:
    b = in_kvo()
    assert b.command(CommandCode.PAUSE).accepted and b.fw.state is PumpState.PAUSED
    assert b.command(CommandCode.START).accepted  # the old firmware refused: VTBI complete
    assert b.fw.state is PumpState.KVO and b.fw.motor_rate() == pytest.approx(2.0)
    b.command(CommandCode.STOP)
    assert b.command(CommandCode.START).reason is RejectReason.BAD_STATE  # not the primary


def test_h1_a_secondary_ending_after_the_primary_vtbi_goes_to_kvo_not_the_primary_rate() -> None:
    # However a secondary came to run with the primary's VTBI done (the pre-table firmware
    # started one from KVO), its end must apply the end action, never the primary's rate.
    b = in_kvo()
    b.fw.program.secondary = SecondaryPage(rate_ml_h=60, vtbi_ml=1)
    b.fw.delivered.secondary_ml = 0.0
    b.fw.state, b.fw.mode = PumpState.INFUSING, DeliveryMode.SECONDARY
    rates = []
    for _ in range(240):
        b.run(0.5, step=0.5)
        rates.append(b.fw.motor_rate())
    assert b.fw.state is PumpState.KVO and b.fw.motor_rate() == pytest.approx(2.0)
    assert max(rates) <= 60


@pytest.mark.parametrize("end", [EndAction.KVO, EndAction.STOP])
def test_h1_secondary_stop_after_the_primary_vtbi_applies_the_end_action(end: EndAction) -> None:
    b = in_kvo()
    b.program(program_id=2, rate=120, vtbi=0.1, kvo=2.0, end=end)
    b.page(2, SecondaryPage(rate_ml_h=60, vtbi_ml=50))
    b.command(CommandCode.START, 2)
    b.fw.delivered.primary_ml = 0.1  # the new primary's VTBI is already in
    assert b.command(CommandCode.SECONDARY_START, 2).accepted
    assert b.command(CommandCode.SECONDARY_STOP).accepted
    assert b.fw.state is (PumpState.KVO if end is EndAction.KVO else PumpState.COMPLETE)
    assert b.fw.motor_rate() <= 2.0


# -- H2: silent occlusion stop -------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_h2_an_occlusion_stop_is_reported_until_acknowledged(kind: ModuleKind) -> None:
    b = Bench(kind)
    b.program(rate=100 if kind is ModuleKind.VOLUMETRIC else 20, vtbi=40)
    b.command(CommandCode.START, 1)
    b.module.inject(Fault.OCCLUSION)
    for _ in range(4000):
        b.run(0.5, step=0.5)
        if b.fw.state is PumpState.ALARM:
            break
    assert b.fw.state is PumpState.ALARM
    b.run(120, step=0.5)  # past the auto-restart window; the syringe backed off long ago
    assert b.fw.state is PumpState.ALARM
    assert b.raised(AlarmCondition.OCCLUSION_DOWNSTREAM)
    assert b.fw.status().alarms & AlarmCondition.OCCLUSION_DOWNSTREAM
    b.module.inject(Fault.OCCLUSION, 0)
    b.run(10)
    assert b.fw.status().alarms & AlarmCondition.OCCLUSION_DOWNSTREAM  # latched: says why
    assert b.command(CommandCode.ALARM_ACK,
                     arg=int(AlarmCondition.OCCLUSION_DOWNSTREAM)).accepted
    b.run(1)
    assert not b.fw.status().alarms & AlarmCondition.OCCLUSION_DOWNSTREAM
    assert b.command(CommandCode.START).accepted and b.fw.state is PumpState.INFUSING


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
@pytest.mark.parametrize("fault", [Fault.OCCLUSION, Fault.DOOR, Fault.EMPTY])
def test_h2_a_module_in_alarm_always_reports_a_stopping_condition(kind: ModuleKind,
                                                                  fault: Fault) -> None:
    b = Bench(kind)
    b.program(rate=20, vtbi=40)
    b.command(CommandCode.START, 1)
    b.run(30)
    b.module.inject(fault)
    for _ in range(2000):
        b.run(0.5, step=0.5)
        if b.fw.state is PumpState.ALARM:
            assert b.fw.status().alarms & STOPPING_CONDITIONS, b.fw.status()
    assert b.fw.state is PumpState.ALARM


# -- H12: air cleared only at the pump -----------------------------------------------------------
def test_h12_air_is_not_cleared_by_a_remote_acknowledge() -> None:
    b = Bench()
    b.program(rate=100, vtbi=500)
    b.command(CommandCode.START, 1)
    b.module.inject(Fault.AIR, 150)
    b.run(30)
    assert b.fw.state is PumpState.ALARM and b.raised(AlarmCondition.AIR_IN_LINE)
    assert b.command(CommandCode.ALARM_ACK, arg=int(AlarmCondition.AIR_IN_LINE)).accepted
    ack = b.command(CommandCode.START)
    assert not ack.accepted and ack.reason is RejectReason.AIR_NOT_CLEARED
    assert b.fw.state is PumpState.ALARM and b.fw.motor_rate() == 0
    assert b.fw.status().alarms & AlarmCondition.AIR_IN_LINE  # still says why it stopped
    b.module.inject(Fault.CLEAR_AIR)  # at the pump: door opened, air removed, door closed
    assert not b.fw.conditions() & AlarmCondition.AIR_IN_LINE
    assert b.command(CommandCode.START).accepted and b.fw.state is PumpState.INFUSING


# -- H15: battery judged at the programmed load, depletion latched -------------------------------
def battery_minutes_running(b: Bench, minutes: float) -> None:
    """Off mains with ``minutes`` left with the motor running (twice that idle)."""
    b.module.inject(Fault.BATTERY_MINUTES, minutes)
    assert b.fw.battery.minutes_left_at(motor_running=True) == pytest.approx(minutes)
    assert b.fw.battery.minutes_left_at(motor_running=False) == pytest.approx(2 * minutes)


def test_h15_start_is_refused_when_the_programmed_rate_would_deplete_the_battery() -> None:
    b = Bench()
    battery_minutes_running(b, 4.0)  # 8 min idle: the old firmware accepted the start
    b.program(rate=100, vtbi=500)
    ack = b.command(CommandCode.START, 1)
    assert not ack.accepted and ack.reason is RejectReason.BATTERY
    assert b.fw.state is PumpState.IDLE
    assert b.fw.conditions() & AlarmCondition.BATTERY_DEPLETED  # judged at the program's load


@pytest.mark.parametrize("clear", ["acknowledge", "mains"])
def test_h15_a_depletion_halt_latches_until_mains_or_acknowledge(clear: str) -> None:
    b = Bench()
    battery_minutes_running(b, 6.0)
    b.program(rate=100, vtbi=500)
    assert b.command(CommandCode.START, 1).accepted
    b.run(3 * 60)
    assert b.fw.state is PumpState.ALARM and b.raised(AlarmCondition.BATTERY_DEPLETED)
    b.run(60)  # idle drain is half the running drain: the old firmware forgot why it stopped
    assert b.fw.status().alarms & AlarmCondition.BATTERY_DEPLETED
    if clear == "mains":
        b.module.inject(Fault.MAINS)
        b.run(1)
        assert not b.fw.status().alarms & AlarmCondition.BATTERY_DEPLETED
        assert b.command(CommandCode.START).accepted
    else:
        b.command(CommandCode.ALARM_ACK, arg=int(AlarmCondition.BATTERY_DEPLETED))
        b.run(1)
        # Acknowledged, but a start at the programmed rate would still run it flat.
        assert b.command(CommandCode.START).reason is RejectReason.BATTERY


# -- H14: boot identity in the module's frames ---------------------------------------------------
def test_h14_every_reboot_changes_the_boot_count_in_heartbeat_and_status() -> None:
    b = Bench()
    first = b.fw.heartbeat().boot_count
    assert b.fw.status().boot_count == first & 3
    seen = []
    for _ in range(17):
        b.module.inject(Fault.REBOOT)
        beat, status = b.fw.heartbeat(), b.fw.status()
        assert status.boot_count == beat.boot_count & 3  # Status carries the low two bits
        seen.append(beat.boot_count)
    assert seen[0] == (first + 1) % 16 and seen[15] == first and seen[16] == seen[0]
    assert all(0 <= c <= 15 for c in seen)
    assert all(a != b_ for a, b_ in itertools.pairwise(seen))


def test_clear_air_and_battery_minutes_are_controls_of_icu_ws_pump() -> None:
    rack = PumpRack(BusSettings("virtual", "unit-controls"),
                    [SimulatedModule(1, ModuleKind.VOLUMETRIC)])
    fw = rack[1].firmware
    fw.mechanism.inject_air(150)
    fw.mechanism.advance(30, 100)
    assert fw.conditions() & AlarmCondition.AIR_IN_LINE
    assert apply_control_line(rack, "1 clear-air") == "ok: node 1 clear-air 1"
    assert not fw.conditions() & AlarmCondition.AIR_IN_LINE
    assert apply_control_line(rack, "1 battery-minutes 4") == "ok: node 1 battery-minutes 4"
    assert fw.battery.minutes_left_at(motor_running=True) == pytest.approx(4)
