"""H9: a blocked syringe line at a low rate alarms on the force trend, long before the threshold.

Bounds held (module time from the clamp to OCCLUSION_DOWNSTREAM, 50 and 10 mL syringes, any
friction within its tolerance): 0.5 mL/h <= 10 min, 1 mL/h <= 6 min, 5 mL/h <= 4 min, also
with the clamp closed before the start. The fixed 300 mmHg threshold alone took 103, 51 and
10 min on a 50 mL syringe. A clear line never alarms: 2 h from a fresh syringe (slack take-up,
stopper loading), at 0.1 to 100 mL/h.
"""

from __future__ import annotations

import pytest

from dbc.vocabulary import AlarmCondition as A
from dbc.vocabulary import CommandCode, ModuleKind, PumpState, SyringeSize
from pumps.module import Fault
from pumps.occlusion_trend import PressureTrend, TrendRule
from pumps.syringe import SyringeMechanism
from tests.pumps.module_driver import Driver

BOUND_MIN = {0.5: 10.0, 1.0: 6.0, 5.0: 4.0}
SIZES = [SyringeSize.ML_50, SyringeSize.ML_10]


def minutes_to_alarm(m: SyringeMechanism, rate: float, limit_min: float) -> float:
    t = 0.0
    while not m.conditions() & A.OCCLUSION_DOWNSTREAM:
        assert t < limit_min * 60, f"no occlusion alarm within {limit_min} min at {rate} mL/h"
        m.advance(1.0, rate)
        t += 1.0
    return t / 60


@pytest.mark.parametrize("size", SIZES, ids=lambda s: s.name)
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("rate", sorted(BOUND_MIN))
def test_occlusion_at_low_rate_alarms_early(rate: float, seed: int, size: SyringeSize) -> None:
    m = SyringeMechanism(seed=seed, size=size)
    m.advance(900, rate)
    assert not m.conditions() & A.OCCLUSION_DOWNSTREAM
    m.set_occlusion(downstream=True)
    minutes_to_alarm(m, rate, BOUND_MIN[rate])
    assert m.pressure_mmhg < 200.0  # well below the 300 mmHg threshold: a small bolus
    held = m.delivered_ml
    m.advance(600, rate)
    assert m.delivered_ml == held  # the motor holds until the plunger is backed off
    assert m.conditions() & A.OCCLUSION_DOWNSTREAM
    m.back_off()
    assert not m.conditions() & A.OCCLUSION_DOWNSTREAM  # relieved: a restart re-judges


@pytest.mark.parametrize("rate", sorted(BOUND_MIN))
def test_clamp_closed_before_the_start_alarms_early(rate: float) -> None:
    m = SyringeMechanism(seed=2)
    m.set_occlusion(downstream=True)
    minutes_to_alarm(m, rate, BOUND_MIN[rate])


@pytest.mark.parametrize("rate", [0.5, 1.0, 5.0])
def test_occlusion_after_a_restart_is_judged_again(rate: float) -> None:
    m = SyringeMechanism(seed=3)
    m.advance(600, rate)
    m.set_occlusion(downstream=True)
    minutes_to_alarm(m, rate, BOUND_MIN[rate])
    m.back_off()  # the firmware stops and backs off; the nurse restarts, still clamped
    minutes_to_alarm(m, rate, BOUND_MIN[rate])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: s.name)
@pytest.mark.parametrize("rate", [0.1, 0.5, 1.0, 5.0, 25.0, 100.0])
def test_a_clear_line_never_alarms_from_start_up_on(rate: float, size: SyringeSize) -> None:
    for seed in (1, 2, 3, 4):
        m = SyringeMechanism(seed=seed, size=size)
        hours = 2.0 if size is SyringeSize.ML_50 or rate <= 1.0 else 0.5  # 10 mL runs out
        for second in range(int(hours * 3600)):
            m.advance(1.0, rate)
            if second in (1800, 1860):  # a pause and a restart on the way
                m.advance(120, 0.0)
            assert not m.conditions() & A.OCCLUSION_DOWNSTREAM, \
                f"false occlusion at {second} s, {rate} mL/h, seed {seed}"


def test_a_clear_line_after_a_back_off_restart_never_alarms() -> None:
    m = SyringeMechanism(seed=1)
    m.advance(600, 0.5)
    m.back_off()  # slack re-opens: the restart takes it up again
    for _ in range(3600):
        m.advance(1.0, 0.5)
        assert not m.conditions() & A.OCCLUSION_DOWNSTREAM


# -- the pure rule ---------------------------------------------------------------------------
def feed(trend: PressureTrend, pressures: list[float], floor: float = -15.0) -> bool:
    return any(trend.sample(float(t), p, floor, True) for t, p in enumerate(pressures))


def test_rule_trips_on_a_steady_rise_only() -> None:
    rising = [10 + 3.0 * t / 60 for t in range(600)]  # 3 mmHg/min for 10 min
    assert feed(PressureTrend(), rising)
    step = [10.0] * 30 + [60.0] * 570  # a start-up transient: one jump, then flat
    assert not feed(PressureTrend(), step)
    slow = [10 + 1.0 * t / 60 for t in range(3600)]  # 1 mmHg/min: below the slope rule
    assert not feed(PressureTrend(), slow)
    short = [10 + 3.0 * min(t, 200) / 60 for t in range(600)]  # rose 10 mmHg, then stopped
    assert not feed(PressureTrend(), short)


def test_rule_ignores_samples_below_the_contact_floor_and_stops() -> None:
    loading = [-100 + 0.5 * t for t in range(220)] + [10.0] * 400  # stopper loading up
    assert not feed(PressureTrend(), loading, floor=-15.0)
    trend = PressureTrend()
    for t in range(600):  # rising, but the motor stops every 100 s: no run survives
        assert not trend.sample(float(t), 10 + 3.0 * t / 60, -15.0, t % 100 != 0)


def test_rule_follows_the_rate_down_and_resets() -> None:
    slow = [10 + 0.6 * t / 60 for t in range(3600)]  # 0.1 mL/h on 50 mL: 0.56 mmHg/min
    trend = PressureTrend()
    assert any(trend.sample(float(t), p, -15.0, True, occluded_slope_mmhg_min=0.56)
               for t, p in enumerate(slow))
    trend.reset()
    assert not trend.tripped


def test_rule_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="segments"):
        TrendRule(segments=1)


# -- through the firmware --------------------------------------------------------------------
@pytest.mark.parametrize("rate", sorted(BOUND_MIN))
def test_firmware_stops_a_blocked_low_rate_line_early_and_never_a_clear_one(rate: float) -> None:
    d = Driver(ModuleKind.SYRINGE)
    d.program(1, rate, 50.0)
    assert d.command(CommandCode.START, 1)
    for _ in range(2 * 3600 // 30):  # 2 h from a fresh syringe: start-up, slack, steady
        d.run(30.0, 1.0)
        assert d.fw.state is PumpState.INFUSING, f"stopped on a clear line: {d.fw.conditions()!r}"
    d.module_inject(Fault.OCCLUSION)
    seconds = 0
    while d.fw.state is not PumpState.ALARM:
        assert seconds < BOUND_MIN[rate] * 60, f"no stop within {BOUND_MIN[rate]} min"
        d.run(1.0, 1.0)
        seconds += 1
    assert d.fw.motor_rate() == 0.0
