"""DownstreamLine: the exact line solution, the clamp and the comparator with hysteresis."""

from __future__ import annotations

import math

import pytest

from pumps.line import HOLD_MARGIN_S, LINE_RESISTANCE, VENOUS_MMHG, DownstreamLine


def line(compliance: float = 0.001) -> DownstreamLine:
    return DownstreamLine(compliance_ml_per_mmhg=compliance)


def test_starts_at_venous_with_nothing_delivered() -> None:
    ln = line()
    assert ln.pressure_mmhg == VENOUS_MMHG
    assert ln.delivered_ml == 0.0
    assert ln.time_s == 0.0


def test_constant_push_settles_at_venous_plus_q_times_r() -> None:
    ln = line()
    q = 25.0 / 3600.0
    ln.flow(q, 60.0)  # tau = R x C = 0.2 s: 60 s is 300 tau
    assert ln.pressure_mmhg == pytest.approx(VENOUS_MMHG + q * LINE_RESISTANCE)
    assert ln.time_s == 60.0


def test_volume_is_conserved() -> None:
    ln = line()
    q = 100.0 / 3600.0
    ln.flow(q, 3.0)
    stored = (ln.pressure_mmhg - VENOUS_MMHG) * ln.compliance
    assert ln.delivered_ml + stored == pytest.approx(q * 3.0)


def test_result_does_not_depend_on_chunking() -> None:
    one, many = line(), line()
    q = 5.0 / 3600.0
    one.flow(q, 10.0)
    for _ in range(100):
        many.flow(q, 0.1)
    assert many.pressure_mmhg == pytest.approx(one.pressure_mmhg, rel=1e-12)
    assert many.delivered_ml == pytest.approx(one.delivered_ml, rel=1e-12)


def test_time_to_pressure_lands_on_target() -> None:
    ln = line(0.0005)
    ln.set_clamped(True)
    q = 5.0 / 3600.0
    t = ln.time_to_pressure(q, 300.0)
    ln.flow(q, t)
    assert ln.pressure_mmhg == pytest.approx(300.0)
    assert line().time_to_pressure(q, 300.0) == math.inf  # open line: steady state is ~13 mmHg


def test_time_to_fall_below_includes_the_hold_margin() -> None:
    ln = line()
    ln.push(0.29)  # +290 mmHg
    t = ln.time_to_fall_below(150.0)
    ln.flow(0.0, t - HOLD_MARGIN_S)
    assert ln.pressure_mmhg == pytest.approx(150.0)
    assert ln.time_to_fall_below(VENOUS_MMHG) == math.inf


def test_comparator_has_hysteresis() -> None:
    ln = line()
    ln.push(0.29)  # 300 mmHg
    assert ln.sensed(300.0)
    ln.flow(0.0, ln.time_to_rearm(300.0) / 2)  # below the limit, above the re-arm point
    assert ln.sensed(300.0)
    ln.flow(0.0, ln.time_to_rearm(300.0))
    assert ln.pressure_mmhg < 295.0
    assert not ln.sensed(300.0)


def test_trip_latches_within_the_hysteresis_band() -> None:
    ln = line()
    ln.push(0.287)  # 297 mmHg: under the limit, above the re-arm point
    assert not ln.sensed(300.0)
    ln.trip()  # the motor stopped at the threshold
    assert ln.sensed(300.0)
    ln.withdraw_stored()
    assert not ln.sensed(300.0)


def test_release_of_clamp_records_the_stored_bolus() -> None:
    ln = line()
    ln.set_clamped(True)
    ln.push(0.2)
    ln.set_clamped(True)  # still clamped: nothing released
    assert ln.last_release_bolus_ml == 0.0
    ln.set_clamped(False)
    assert ln.last_release_bolus_ml == pytest.approx(0.2)


def test_withdraw_and_restart_return_to_venous() -> None:
    ln = line()
    ln.push(0.1)
    assert ln.withdraw_stored() == pytest.approx(0.1)
    assert ln.pressure_mmhg == VENOUS_MMHG
    ln.push(0.3)
    assert ln.sensed(300.0)
    ln.restart()
    assert ln.pressure_mmhg == VENOUS_MMHG
    assert not ln.sensed(300.0)
