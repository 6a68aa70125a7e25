"""Physics of the syringe driver model: geometry, accuracy, force occlusion, end of syringe."""

from __future__ import annotations

import math

import pytest

from dbc.vocabulary import AlarmCondition as A
from dbc.vocabulary import ModuleKind, SyringeSize
from pumps.syringe import SyringeMechanism, residual_ml
from pumps.volumetric import VolumetricMechanism

HOUR = 3600.0


def time_to(
    m: SyringeMechanism | VolumetricMechanism, cond: A, rate: float, limit_s: float
) -> float:
    t = 0.0
    while not m.conditions() & cond:
        assert t < limit_s, f"{cond!r} not raised within {limit_s} s"
        m.advance(0.1, rate)
        t += 0.1
    return t


def test_defaults_full_50_ml_syringe() -> None:
    m = SyringeMechanism()
    assert m.kind is ModuleKind.SYRINGE
    assert m.syringe_size is SyringeSize.ML_50
    assert m.volume_left_ml == 50.0
    assert m.is_engaged
    assert m.conditions() == A(0)
    # BD Plastipak-like 50 mL: 26.6 mm bore, ~90 mm of travel
    assert m.plunger_position_mm == pytest.approx(50_000 / (math.pi * 13.3**2), rel=0.01)


@pytest.mark.parametrize(
    ("size", "travel_mm"),
    [
        (SyringeSize.ML_5, 44.0),
        (SyringeSize.ML_10, 61.0),
        (SyringeSize.ML_20, 70.0),
        (SyringeSize.ML_60, 107.0),
    ],
)
def test_sizes_have_realistic_travel(size: SyringeSize, travel_mm: float) -> None:
    m = SyringeMechanism(size=size)
    assert m.plunger_position_mm == pytest.approx(travel_mm, rel=0.03)


def test_load_syringe_rejects_overfill_and_can_remove() -> None:
    m = SyringeMechanism()
    with pytest.raises(ValueError):
        m.load_syringe(SyringeSize.ML_10, 12.0)
    m.load_syringe(SyringeSize.ML_20, 15.0)
    assert (m.syringe_size, m.volume_left_ml) == (SyringeSize.ML_20, 15.0)
    m.load_syringe(SyringeSize.NONE, 0.0)
    assert not m.is_engaged
    assert m.conditions() == A.SYRINGE_NOT_ENGAGED


@pytest.mark.parametrize("rate", [1.0, 25.0, 100.0])
def test_one_hour_accuracy_within_2_percent(rate: float) -> None:
    # 100 mL/h needs two syringes: a 60 mL one is swapped at 30 min, as a nurse would.
    size = SyringeSize.ML_60 if rate > 50 else SyringeSize.ML_50
    m = SyringeMechanism(size=size)
    if rate > 50:
        m.advance(HOUR / 2, rate)
        m.load_syringe(size, 60.0)
        m.advance(HOUR / 2, rate)
    else:
        m.advance(HOUR, rate)
    assert m.patient_ml == pytest.approx(rate, rel=0.02)
    assert m.conditions() & ~A.SYRINGE_NEAR_END == A(0)


@pytest.mark.parametrize("rate", [1.0, 25.0])
def test_step_size_does_not_matter(rate: float) -> None:
    coarse, fine = SyringeMechanism(), SyringeMechanism()
    coarse.advance(HOUR, rate)
    for _ in range(36000):
        fine.advance(0.1, rate)
    assert fine.patient_ml == pytest.approx(coarse.patient_ml, rel=1e-4)
    assert fine.volume_left_ml == pytest.approx(coarse.volume_left_ml, abs=1e-6)


def test_flow_is_smooth() -> None:
    m = SyringeMechanism()
    m.advance(1800, 5.0)
    samples = []
    for _ in range(20):
        before = m.patient_ml
        m.advance(30, 5.0)
        samples.append(m.patient_ml - before)
    expected = 5.0 / 120
    assert all(abs(s / expected - 1) < 0.03 for s in samples)


def test_force_is_friction_plus_pressure_times_area() -> None:
    m = SyringeMechanism()
    assert m.plunger_force_n == 0.0  # just loaded: the pusher has not reached the flange
    m.advance(60, 100.0)  # slack taken up
    m.advance(60, 0.0)  # back to venous
    idle = m.plunger_force_n
    assert 5.0 < idle < 15.0  # stopper friction (+ venous pressure) on a 50 mL syringe
    m.advance(600, 100.0)
    area_m2 = math.pi * 0.0133**2
    assert m.plunger_force_n - idle == pytest.approx(
        (m.pressure_mmhg - 10.0) * 133.322 * area_m2, rel=0.02
    )


def test_occlusion_is_force_based_slower_than_volumetric_and_stops_delivery() -> None:
    m = SyringeMechanism()
    m.trend = None  # the fixed force threshold alone (the trend rule: test_syringe_trend.py)
    m.advance(600, 5.0)
    m.set_occlusion(downstream=True)
    t = time_to(m, A.OCCLUSION_DOWNSTREAM, 5.0, limit_s=40 * 60)
    assert 3 * 60 < t < 30 * 60
    assert m.plunger_force_n >= m.occlusion_force_limit_n - 1e-5
    assert m.pressure_mmhg == pytest.approx(300.0, abs=30.0)  # friction differs from nominal
    before, left = m.patient_ml, m.volume_left_ml
    m.advance(600, 5.0)
    assert m.patient_ml - before < 0.001
    assert m.volume_left_ml == left  # the motor holds at the force limit
    assert m.conditions() & A.OCCLUSION_DOWNSTREAM
    m.set_occlusion(downstream=False)
    bolus = m.last_post_occlusion_bolus_ml
    assert 0.2 < bolus < 2.0
    before = m.patient_ml
    m.advance(300, 0.0)
    assert m.patient_ml - before == pytest.approx(bolus, rel=0.02)
    assert not m.conditions() & A.OCCLUSION_DOWNSTREAM
    # Same rate and limit on a volumetric set: the smaller compliance alarms sooner.
    v = VolumetricMechanism()
    v.advance(600, 5.0)
    v.set_occlusion(downstream=True)
    assert time_to(v, A.OCCLUSION_DOWNSTREAM, 5.0, limit_s=t) < t / 2


def test_lowest_limit_alarms_sooner() -> None:
    times = []
    for limit in (300.0, 50.0):
        m = SyringeMechanism()
        m.trend = None
        m.occlusion_limit_mmhg = limit
        m.advance(600, 5.0)
        m.set_occlusion(downstream=True)
        times.append(time_to(m, A.OCCLUSION_DOWNSTREAM, 5.0, limit_s=40 * 60))
    assert times[1] < times[0] / 4


def test_back_off_removes_the_bolus() -> None:
    m = SyringeMechanism()
    m.set_occlusion(downstream=True)
    time_to(m, A.OCCLUSION_DOWNSTREAM, 25.0, limit_s=600)
    left = m.volume_left_ml
    retracted = m.back_off()
    assert retracted > 0.2
    assert m.volume_left_ml == pytest.approx(left + retracted)
    m.set_occlusion(downstream=False)
    assert m.last_post_occlusion_bolus_ml == pytest.approx(0.0, abs=1e-9)


def test_near_end_then_end() -> None:
    m = SyringeMechanism(fill_ml=5.0)  # 4.5 mL deliverable above the 0.5 mL residual
    assert residual_ml(SyringeSize.ML_50) == pytest.approx(0.5)
    m.advance(5 * 60, 25.0)  # 2.08 mL delivered, 10.8 - 5 = 5.8 min left
    assert m.conditions() == A(0)
    m.advance(60, 25.0)  # 4.8 min left
    assert m.conditions() == A.SYRINGE_NEAR_END
    m.advance(60, 0.0)  # paused: the pre-alarm stays (last running rate)
    assert m.conditions() == A.SYRINGE_NEAR_END
    m.advance(5 * 60, 25.0)
    assert m.conditions() == A.SYRINGE_END
    assert m.volume_left_ml == pytest.approx(0.5)
    delivered = m.patient_ml
    m.advance(600, 25.0)
    assert m.patient_ml - delivered < 0.05  # only what the compliance still held
    assert m.patient_ml == pytest.approx(4.5, abs=0.001)
    assert m.volume_left_ml == pytest.approx(0.5)


def test_near_end_when_never_run_uses_volume() -> None:
    assert SyringeMechanism(fill_ml=3.0).conditions() == A.SYRINGE_NEAR_END  # 2.5 <= 5 % of 50
    assert SyringeMechanism(fill_ml=4.0).conditions() == A(0)


def test_set_empty() -> None:
    m = SyringeMechanism()
    m.set_empty()
    assert m.conditions() == A.SYRINGE_END
    m.advance(600, 25.0)
    assert m.patient_ml == 0.0


def test_not_engaged_stops_delivery() -> None:
    m = SyringeMechanism()
    m.advance(600, 25.0)
    m.set_engaged(False)
    assert m.conditions() == A.SYRINGE_NOT_ENGAGED
    assert m.plunger_force_n == 0.0
    m.advance(120, 25.0)
    before = m.patient_ml
    m.advance(600, 25.0)
    assert m.patient_ml - before < 0.001
    m.set_engaged(True)
    m.advance(600, 25.0)
    assert m.patient_ml - before == pytest.approx(25.0 / 6, rel=0.03)


def test_door_open_stops_delivery() -> None:
    m = SyringeMechanism()
    m.set_door_open(True)
    m.advance(600, 25.0)
    assert m.patient_ml == 0.0
    assert m.conditions() == A.DOOR_OPEN


def test_air_is_ignored_and_upstream_occlusion_is_meaningless() -> None:
    m = SyringeMechanism()
    m.inject_air(500.0)
    m.set_occlusion(downstream=False, upstream=True)
    m.advance(HOUR, 10.0)
    assert m.conditions() == A(0)
    assert m.patient_ml == pytest.approx(10.0, rel=0.02)


@pytest.mark.parametrize("percent", [15.0, -10.0])
def test_calibration_error_scales_delivery(percent: float) -> None:
    good, bad = SyringeMechanism(), SyringeMechanism()
    bad.set_calibration_error(percent)
    good.advance(HOUR, 10.0)
    bad.advance(HOUR, 10.0)
    assert bad.patient_ml / good.patient_ml == pytest.approx(1 + percent / 100, rel=0.005)
    assert 50.0 - bad.volume_left_ml == pytest.approx(bad.patient_ml, rel=0.01)


@pytest.mark.parametrize("percent", [0.0, -10.0])
def test_module_counts_plunger_travel_not_the_patient_end(percent: float) -> None:
    m = SyringeMechanism()
    m.set_calibration_error(percent)
    m.advance(HOUR, 10.0)
    # Less the start-up (~7 s: the gap closes, the stopper loads), when no fluid moves and
    # nothing is counted.
    assert m.delivered_ml == pytest.approx(10.0 * (1 + percent / 100), abs=0.025)
    assert m.patient_ml == pytest.approx(m.delivered_ml, rel=0.01)  # bore tolerance only
    m.set_occlusion(downstream=True)
    m.advance(600, 10.0)
    counted = m.delivered_ml
    assert counted - m.patient_ml > 0.2  # pushed into the clamped line: counted already
    m.back_off()
    assert m.delivered_ml == counted  # the count never goes back
