"""Battery model: drain, charge, thresholds (GIP: low < 15 min, depleted < 5 min)."""

from __future__ import annotations

import pytest

from dbc.vocabulary import AlarmCondition as A
from pumps.power import Battery


def test_on_mains_no_conditions_and_charges() -> None:
    b = Battery(percent=50.0)
    assert b.on_mains
    assert b.conditions() == A(0)
    b.advance(3600, motor_running=True)
    assert 50.0 < b.percent <= 100.0
    b.advance(10 * 3600, motor_running=True)
    assert b.percent == 100.0


def test_motor_drains_faster() -> None:
    b = Battery(on_mains=False)
    b.advance(0, motor_running=False)
    idle = b.minutes_left
    b.advance(0, motor_running=True)
    running = b.minutes_left
    assert 2 * 60 < running < idle < 24 * 60
    idle_b, run_b = Battery(on_mains=False), Battery(on_mains=False)
    idle_b.advance(3600, motor_running=False)
    run_b.advance(3600, motor_running=True)
    assert run_b.percent < idle_b.percent < 100.0


def test_minutes_left_counts_down_in_real_minutes() -> None:
    b = Battery(on_mains=False)
    b.advance(60, motor_running=True)
    before = b.minutes_left
    b.advance(30 * 60, motor_running=True)
    assert before - b.minutes_left == pytest.approx(30.0)


def test_thresholds_off_mains() -> None:
    b = Battery(on_mains=False)
    b.advance(0, motor_running=True)
    total = b.minutes_left
    seen: dict[A, float] = {}
    t = 0.0
    while b.percent > 0.0:
        b.advance(10, motor_running=True)
        t += 10
        for flag in (A.BATTERY_LOW, A.BATTERY_DEPLETED):
            if b.conditions() & flag and flag not in seen:
                seen[flag] = t / 60
        assert b.conditions() & A.ON_BATTERY
    assert seen[A.BATTERY_LOW] == pytest.approx(total - 15, abs=0.2)
    assert seen[A.BATTERY_DEPLETED] == pytest.approx(total - 5, abs=0.2)
    assert b.conditions() == A.ON_BATTERY | A.BATTERY_LOW | A.BATTERY_DEPLETED


def test_set_low_is_low_but_not_depleted_at_either_load() -> None:
    b = Battery()
    b.advance(1, motor_running=True)
    b.set_low()
    assert not b.on_mains
    assert b.minutes_left_at(motor_running=True) == pytest.approx(7.0)
    for running in (True, False):
        assert b.conditions_at(motor_running=running) == A.ON_BATTERY | A.BATTERY_LOW
    b.advance(3 * 60, motor_running=True)
    assert b.conditions() & A.BATTERY_DEPLETED
    b.on_mains = True  # plugged back in: no battery alarm, charging again
    assert b.conditions() == A(0)
    before = b.percent
    b.advance(60, motor_running=True)
    assert b.percent > before


def test_step_size_does_not_matter() -> None:
    coarse, fine = Battery(on_mains=False), Battery(on_mains=False)
    coarse.advance(3600, motor_running=True)
    for _ in range(36000):
        fine.advance(0.1, motor_running=True)
    assert fine.percent == pytest.approx(coarse.percent, rel=1e-9)


def test_empty_battery_stays_at_zero() -> None:
    b = Battery(percent=1.0, on_mains=False)
    b.advance(24 * 3600, motor_running=True)
    assert b.percent == 0.0
    assert b.minutes_left == 0.0


def test_minutes_and_conditions_at_a_given_load() -> None:
    """H15: judged at the load that will run, not at the present one."""
    b = Battery()
    b.set_minutes_left(8.0, motor_running=False)  # 8 min idle = 4 min with the motor running
    assert not b.on_mains
    assert b.minutes_left_at(motor_running=False) == pytest.approx(8.0)
    assert b.minutes_left_at(motor_running=True) == pytest.approx(4.0)
    assert b.conditions_at(motor_running=False) == A.ON_BATTERY | A.BATTERY_LOW
    assert b.conditions_at(motor_running=True) == \
        A.ON_BATTERY | A.BATTERY_LOW | A.BATTERY_DEPLETED
    b.advance(0, motor_running=False)
    assert b.conditions() == b.conditions_at(motor_running=False)  # present load
    b.on_mains = True
    assert b.conditions_at(motor_running=True) == A(0)


def test_set_minutes_left_is_clamped_to_a_real_charge() -> None:
    b = Battery()
    b.set_minutes_left(10_000.0)
    assert b.percent == 100.0
    b.set_minutes_left(-1.0)
    assert b.percent == 0.0
