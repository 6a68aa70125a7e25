"""Delivery supervision on module time: over/under infusion over a steady 15-min window."""

from __future__ import annotations

import pytest

from channels.config import SupervisionConfig
from channels.supervision import DeliverySupervisor, DeliveryVerdict
from dbc.vocabulary import CommandCode, ModuleKind
from pumps.module import Fault
from tests.pumps.module_driver import Driver


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
    # Judged after the start-up grace (5 min for the count to move) and one window.
    sup = DeliverySupervisor()
    verdict, t, v = feed(sup, rate=50, actual=0, minutes=19)
    assert verdict is DeliveryVerdict.UNKNOWN
    assert feed(sup, rate=50, actual=0, minutes=2, t0=t, v0=v)[0] is DeliveryVerdict.UNDER


def test_the_window_starts_when_the_count_first_moves() -> None:
    sup = DeliverySupervisor()
    _, t, v = feed(sup, rate=0.5, actual=0, minutes=2)  # a syringe taking up its slack
    verdict, *_ = feed(sup, rate=0.5, actual=0.5, minutes=16, t0=t, v0=v)
    assert verdict is DeliveryVerdict.OK and sup.ratio == pytest.approx(1.0, abs=0.02)


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


def test_low_rates_are_judged_over_a_window_that_holds_enough_volume() -> None:
    # H9: 0.5 mL/h for 15 min is 0.125 mL: enough for the module's own displacement count.
    verdict, *_ = feed(DeliverySupervisor(), rate=0.5, actual=0.0, minutes=21)  # + 5 min grace
    assert verdict is DeliveryVerdict.UNDER
    assert feed(DeliverySupervisor(), rate=0.5, actual=0.6, minutes=16)[0] is DeliveryVerdict.OVER
    # 0.2 mL/h: 15 min holds 0.05 mL; the window grows to 30 min (0.1 mL).
    sup = DeliverySupervisor()
    verdict, t, v = feed(sup, rate=0.2, actual=0.2, minutes=29)
    assert verdict is DeliveryVerdict.UNKNOWN
    verdict, *_ = feed(sup, rate=0.2, actual=0.2, minutes=2, t0=t, v0=v)
    assert verdict is DeliveryVerdict.OK and sup.judged_window_s == 1800.0
    assert sup.window_for(0.2) == 1800.0 and sup.window_for(5.0) == 900.0
    # Below what the longest window (1 h) can hold, no verdict rather than a guess.
    assert sup.window_for(0.05) == 3600.0
    verdict, *_ = feed(DeliverySupervisor(), rate=0.05, actual=0.0, minutes=120)
    assert verdict is DeliveryVerdict.UNKNOWN


def test_the_old_four_argument_call_still_works() -> None:
    sup = DeliverySupervisor(900.0, 1.10, 0.90, 0.5)  # as channels/controller.py builds it
    assert sup.window_for(0.5) == 3600.0  # 0.5 mL needs 1 h at 0.5 mL/h
    assert feed(sup, rate=0.5, actual=0.7, minutes=61)[0] is DeliveryVerdict.OVER


# -- against a real module (firmware + physics), calibration drift injected -------------------
def shipped() -> DeliverySupervisor:
    c = SupervisionConfig()
    return DeliverySupervisor(c.window_s, c.over_ratio, c.under_ratio, c.min_expected_ml)


def supervise(kind: ModuleKind, rate: float, drift_percent: float,
              minutes: float) -> tuple[list[tuple[float, DeliveryVerdict]], DeliverySupervisor]:
    """Delivery frames every 15 s of module time, as the controller samples them."""
    d = Driver(kind)
    d.program(1, rate, 500.0)
    assert d.command(CommandCode.START, 1)
    if drift_percent:
        d.module_inject(Fault.CALIBRATION, drift_percent)
    sup, verdicts = shipped(), []
    for _ in range(int(minutes * 4)):
        d.run(15.0, 15.0)
        frame = d.fw.delivery()
        verdicts.append((frame.module_time_s, sup.sample(frame.module_time_s,
                                                         frame.volume_infused_ml, rate)))
    return verdicts, sup


KINDS = [ModuleKind.VOLUMETRIC, ModuleKind.SYRINGE]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name.lower())
@pytest.mark.parametrize("rate", [0.5, 1.0, 5.0])
@pytest.mark.parametrize(("drift", "verdict"), [(25.0, DeliveryVerdict.OVER),
                                                (-25.0, DeliveryVerdict.UNDER)])
def test_a_drifting_module_is_caught_at_low_rates(kind: ModuleKind, rate: float, drift: float,
                                                  verdict: DeliveryVerdict) -> None:
    verdicts, sup = supervise(kind, rate, drift, minutes=40)
    first = next((t for t, v in verdicts if v is not DeliveryVerdict.UNKNOWN), None)
    assert first is not None, f"no verdict in 40 min at {rate} mL/h"
    # One window (15 min from 0.4 mL/h up) after the count first moved (a syringe's slack).
    assert first <= sup.window_for(rate) + 180
    judged = [v for t, v in verdicts if t >= first]
    assert set(judged) == {verdict}
    assert sup.ratio == pytest.approx(1 + drift / 100, abs=0.06)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name.lower())
@pytest.mark.parametrize("rate", [0.5, 1.0, 5.0])
@pytest.mark.parametrize("drift", [0.0, 5.0, -5.0])
def test_a_module_within_tolerance_is_never_flagged(kind: ModuleKind, rate: float,
                                                    drift: float) -> None:
    verdicts, _ = supervise(kind, rate, drift, minutes=120)
    judged = {v for _, v in verdicts if v is not DeliveryVerdict.UNKNOWN}
    assert judged == {DeliveryVerdict.OK}
