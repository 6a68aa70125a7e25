"""Delivery supervision on module time: over/under infusion over a steady 15-min window."""

from __future__ import annotations

from channels.supervision import DeliverySupervisor, DeliveryVerdict


def feed(sup: DeliverySupervisor, *, rate: float, actual: float, minutes: float,
         t0: float = 0.0, v0: float = 0.0, step_s: float = 15.0) -> tuple[DeliveryVerdict,
                                                                        float, float]:
    t, v, verdict = t0, v0, DeliveryVerdict.UNKNOWN
    for _ in range(int(minutes * 60 / step_s) + 1):
        verdict = sup.sample(t, v, rate)
        t += step_s
        v += actual * step_s / 3600
    return verdict, t, v


def test_needs_a_full_window_before_a_verdict() -> None:
    sup = DeliverySupervisor()
    assert feed(sup, rate=100, actual=100, minutes=14)[0] is DeliveryVerdict.UNKNOWN
    assert feed(DeliverySupervisor(), rate=100, actual=100, minutes=16)[0] is DeliveryVerdict.OK


def test_over_and_under_infusion_at_the_thresholds() -> None:
    assert feed(DeliverySupervisor(), rate=100, actual=115, minutes=16)[0] is DeliveryVerdict.OVER
    assert feed(DeliverySupervisor(), rate=100, actual=109, minutes=16)[0] is DeliveryVerdict.OK
    assert feed(DeliverySupervisor(), rate=100, actual=85, minutes=16)[0] is DeliveryVerdict.UNDER
    assert feed(DeliverySupervisor(), rate=100, actual=91, minutes=16)[0] is DeliveryVerdict.OK
    sup = DeliverySupervisor()
    feed(sup, rate=100, actual=115, minutes=16)
    assert sup.ratio is not None and abs(sup.ratio - 1.15) < 0.01


def test_a_stalled_pump_that_should_run_is_under_infusing() -> None:
    assert feed(DeliverySupervisor(), rate=50, actual=0, minutes=16)[0] is DeliveryVerdict.UNDER


def test_rate_change_restarts_the_window() -> None:
    sup = DeliverySupervisor()
    _, t, v = feed(sup, rate=0, actual=0, minutes=20)  # idle: too little expected to judge
    assert sup.ratio is None
    verdict, t, v = feed(sup, rate=100, actual=100, minutes=10, t0=t, v0=v)
    assert verdict is DeliveryVerdict.UNKNOWN  # 10 min since the start is not a window yet
    assert feed(sup, rate=100, actual=100, minutes=6, t0=t, v0=v)[0] is DeliveryVerdict.OK


def test_reboot_or_volume_reset_starts_over() -> None:
    sup = DeliverySupervisor()
    _, t, v = feed(sup, rate=100, actual=100, minutes=16)
    assert sup.sample(10.0, v, 100) is DeliveryVerdict.UNKNOWN  # module time went back
    assert sup.ratio is None
    sup2 = DeliverySupervisor()
    _, t, v = feed(sup2, rate=100, actual=100, minutes=16)
    assert sup2.sample(t, 0.0, 100) is DeliveryVerdict.UNKNOWN  # RESET_VOLUME


def test_low_rates_below_the_minimum_volume_are_not_judged() -> None:
    # 0.5 mL/h for 15 min is 0.125 mL: pulsatile delivery makes a ratio meaningless.
    verdict, *_ = feed(DeliverySupervisor(), rate=0.5, actual=0.0, minutes=16)
    assert verdict is DeliveryVerdict.UNKNOWN
