"""H3 (bolus), H4 (minimum interval, per-hour count and amount) and H8 (bolus rate caps)."""

from __future__ import annotations

import pytest

from channels.bolus_history import BolusHistory
from channels.druglib import load_drug_library
from channels.plan import Plan
from channels.planning import BolusOrder, InfusionOrder, check_bolus_order, check_order

LIB = load_drug_library()
ADULT, CARDIAC = LIB.care_area("adult-icu"), LIB.care_area("cardiac-icu")


def running(drug: str, dose: float, concentration: int = 0, area=ADULT) -> Plan:  # type: ignore[no-untyped-def]
    plan = check_order(InfusionOrder(drug_id=drug, dose=dose, vtbi_ml=50,
                                     concentration=concentration,
                                     weight_kg=70 if area.drug(drug).needs_weight else None),
                       area).plan
    assert plan is not None
    return plan


def test_h4_four_fentanyl_boluses_within_two_minutes_the_second_is_refused() -> None:
    plan, drug = running("fentanyl", 50), ADULT.drug("fentanyl")
    history = BolusHistory()
    outcomes = []
    for t in (0.0, 40.0, 80.0, 120.0):
        check = check_bolus_order(BolusOrder(dose=25), plan, drug, ADULT, history=history,
                                  now=t)
        outcomes.append(check.blocked)
        if not check.blocked:
            history.record(drug.id, 25.0, t)
    assert outcomes == [False, True, True, True]
    refused = check_bolus_order(BolusOrder(dose=25), plan, drug, ADULT, history=history,
                                now=40.0)
    text = " ".join(refused.problems())
    assert "5 min" in text and "next bolus" in text and "4 min 20 s" in text


def test_h4_after_the_interval_the_next_bolus_is_allowed() -> None:
    plan, drug = running("fentanyl", 50), ADULT.drug("fentanyl")
    history = BolusHistory()
    history.record(drug.id, 25.0, 0.0)
    assert not check_bolus_order(BolusOrder(dose=25), plan, drug, ADULT, history=history,
                                 now=300.0).blocked


def test_h4_cumulative_amount_per_hour_is_a_hard_limit() -> None:
    plan, drug = running("fentanyl", 50), ADULT.drug("fentanyl")
    bolus = drug.bolus
    assert bolus is not None and bolus.max_amount_per_hour is not None
    history = BolusHistory()
    given, t = 0.0, 0.0
    while given + 100 <= bolus.max_amount_per_hour:
        history.record(drug.id, 100.0, t)
        given, t = given + 100, t + 60 * (bolus.min_interval_min or 0) + 1
    check = check_bolus_order(BolusOrder(dose=100), plan, drug, ADULT, history=history, now=t)
    assert check.blocked and any("per hour" in p for p in check.problems())
    # An hour after the first one, it has left the window.
    later = check_bolus_order(BolusOrder(dose=100), plan, drug, ADULT, history=history,
                              now=3600.0 + 1)
    assert not later.blocked, later.problems()


def test_h4_count_per_hour_is_a_hard_limit() -> None:
    history = BolusHistory()
    for i in range(3):
        history.record("x", 1.0, i * 600.0)
    assert history.count_in_last_hour("x", 1800.0) == 3
    assert history.count_in_last_hour("x", 4200.0) == 1
    assert history.count_in_last_hour("y", 1800.0) == 0


def test_h8_bolus_rate_is_held_to_the_care_area_and_drug_caps() -> None:
    plan, drug = running("propofol", 2, area=CARDIAC), CARDIAC.drug("propofol")
    fast = check_bolus_order(BolusOrder(dose=0.5, rate_ml_h=1200), plan, drug, CARDIAC)
    assert fast.blocked and any("Rate" in p for p in fast.problems()), fast.problems()
    plain = running("fentanyl", 50, area=CARDIAC)
    fent = CARDIAC.drug("fentanyl")
    over_area = check_bolus_order(BolusOrder(dose=25, rate_ml_h=600), plain, fent, CARDIAC)
    assert over_area.blocked and any("Cardiac ICU" in p for p in over_area.problems())
    assert not check_bolus_order(BolusOrder(dose=25), plain, fent, CARDIAC).blocked


def test_h3_bolus_uses_the_running_concentration_never_concentration_0() -> None:
    # Running fentanyl 1000 mcg/100 mL (10 mcg/mL); the cardiac library has only 2500/50.
    plan = running("fentanyl", 20, concentration=1)
    assert plan.concentration.startswith("1000 mcg / 100 mL")
    check = check_bolus_order(BolusOrder(dose=25), plan, CARDIAC.drug("fentanyl"), CARDIAC)
    # Falling back to 50 mcg/mL would give 0.5 mL (5x too little); 2.5 mL is right, and the
    # concentration is no longer in the library, so the bolus is refused.
    assert check.blocked, check.plan
    assert any("concentration" in p and "library" in p for p in check.problems())


def test_h3_bolus_volume_follows_the_running_concentration() -> None:
    plan = running("fentanyl", 20, concentration=1)  # 10 mcg/mL
    check = check_bolus_order(BolusOrder(dose=25), plan, ADULT.drug("fentanyl"), ADULT)
    assert check.plan is not None and check.plan.vtbi_ml == pytest.approx(2.5)
