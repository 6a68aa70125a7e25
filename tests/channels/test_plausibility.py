"""Plausibility of what a module reports (issue 10, B3): pure, module time only."""

from __future__ import annotations

from channels.plausibility import RATE_DOUBTS, RATE_HISTORY, ReportPlausibility
from channels.supervision import DeliverySupervisor, DeliveryVerdict


def steady(p: ReportPlausibility, rate: float = 40.0, n: int = RATE_HISTORY) -> None:
    for _ in range(n):
        assert p.status_rate(rate, rate) is None


def test_a_rate_far_off_a_program_the_history_agreed_with_is_doubted() -> None:
    p = ReportPlausibility()
    steady(p)
    why = p.status_rate(999.0, 40.0)
    assert why is not None and "999" in why and "40" in why
    assert p.status_rate(40.0, 40.0) is None  # the pump goes on at 40: that was a forgery


def test_a_persistent_slower_rate_is_the_motors_truth() -> None:
    p = ReportPlausibility()
    steady(p)
    doubted = [p.status_rate(10.0, 40.0) is not None for _ in range(RATE_DOUBTS + 2)]
    assert doubted == [True] * RATE_DOUBTS + [False, False]


def test_a_faster_rate_needs_the_deliveries_to_show_it() -> None:
    """A forger that out-races every Status keeps saying 999: the volume says 40."""
    p = ReportPlausibility()
    steady(p)
    for i in range(8):
        assert p.delivery(i * 15.0, i * 40.0 * 15.0 / 3600, 40.0) is None
    assert all(p.status_rate(999.0, 40.0) is not None for _ in range(10))
    runaway = ReportPlausibility()
    steady(runaway)
    volume = 0.0
    for i in range(8):  # the motor really runs at 120 mL/h
        volume += 120.0 * 15.0 / 3600
        runaway.delivery(i * 15.0, volume, 40.0)
    measured = runaway.measured_ml_h()
    assert measured is not None and abs(measured - 120.0) < 1.0
    doubted = [runaway.status_rate(120.0, 40.0) is not None for _ in range(RATE_DOUBTS + 1)]
    assert doubted == [True] * RATE_DOUBTS + [False]


def test_no_doubt_without_history_nor_after_a_command() -> None:
    p = ReportPlausibility()
    assert p.status_rate(999.0, 40.0) is None  # no history yet
    steady(p)
    p.commanded()
    assert p.status_rate(80.0, 40.0) is None  # a titration may be under way


def test_small_deviations_are_not_doubted_here() -> None:
    p = ReportPlausibility()
    steady(p)
    assert p.status_rate(52.0, 40.0) is None  # UNCOMMANDED_RATE's business, not a forgery


def test_delivery_going_back_is_dropped_and_the_line_kept() -> None:
    p = ReportPlausibility()
    assert p.delivery(0.0, 1.0, 40.0) is None
    assert p.delivery(90.0, 2.0, 40.0) is None
    why = p.delivery(95.0, 0.5, 40.0)
    assert why is not None and "went back" in why
    assert p.delivery(180.0, 3.0, 40.0) is None  # the genuine line goes on


def test_delivery_jumping_ahead_of_the_rate_is_dropped() -> None:
    p = ReportPlausibility()
    p.delivery(0.0, 0.0, 40.0)
    why = p.delivery(90.0, 50.0, 40.0)  # 40 mL/h x 90 s is 1 mL
    assert why is not None and "rose" in why
    assert p.delivery(180.0, 2.0, 40.0) is None


def test_two_frames_continuing_a_new_line_are_taken() -> None:
    """A real restart of the counter (or a runaway motor) shows in every frame after it."""
    p = ReportPlausibility()
    p.delivery(1000.0, 20.0, 40.0)
    assert p.delivery(5.0, 0.0, 40.0) is not None
    assert p.delivery(95.0, 1.0, 40.0) is None


def test_restart_takes_the_next_frame_as_baseline() -> None:
    p = ReportPlausibility()
    p.delivery(1000.0, 20.0, 40.0)
    p.restart()
    assert p.delivery(5.0, 0.0, 40.0) is None


def test_the_rate_of_the_last_statuses_bounds_the_volume() -> None:
    """A pause: the status says 0 but the frame's period still ran at 100 mL/h."""
    p = ReportPlausibility()
    p.status_rate(100.0, None)
    p.status_rate(0.0, None)
    p.delivery(0.0, 0.0, 0.0)
    assert p.delivery(36.0, 1.0, 0.0) is None


def test_a_single_forged_frame_never_restarts_supervision() -> None:
    """B3: a forged Delivery every 3 s kept a 30 %-fast pump's over-infusion silent."""
    p, sup = ReportPlausibility(), DeliverySupervisor()
    verdicts = []
    volume = 0.0
    for i in range(4 * 1200):  # 20 min of 250 ms frames
        t = i * 0.25
        volume += 1.3 * 40.0 * 0.25 / 3600
        if i % 12 == 11 and p.delivery(t, 0.0, 40.0) is not None:  # forged, every 3 s
            continue
        if p.delivery(t, volume, 40.0) is None:
            verdicts.append(sup.sample(t, volume, 40.0))
    assert DeliveryVerdict.OVER in verdicts
