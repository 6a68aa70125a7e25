"""From order to checked plan: dose <-> rate, limits, KVO, duplicates, boluses."""

from __future__ import annotations

import pytest

from channels.druglib import load_drug_library
from channels.limits import Verdict
from channels.planning import BolusOrder, InfusionOrder, check_bolus_order, check_order

AREA = load_drug_library().care_area("adult-icu")


def test_dose_order_gives_a_rounded_rate_and_the_dose_that_rate_delivers() -> None:
    check = check_order(InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50,
                                      weight_kg=73), AREA)
    assert check.plan is not None and not check.blocked
    assert check.plan.rate_ml_h == pytest.approx(5.5)  # 438 mcg/h / 80 mcg/mL = 5.475
    assert check.plan.dose == pytest.approx(5.5 * 80 / 60 / 73, rel=1e-3)


def test_per_kg_drug_without_weight_is_blocked() -> None:
    check = check_order(InfusionOrder(drug_id="propofol", dose=2, vtbi_ml=50), AREA)
    assert check.blocked and "weight" in check.problems()[0]


def test_fluid_rates_are_checked_against_their_limits() -> None:
    check = check_order(InfusionOrder(drug_id="sodium-chloride-0-9", rate_ml_h=300,
                                      vtbi_ml=500), AREA)
    assert check.verdict is Verdict.SOFT and check.needs_confirmation
    assert any("250" in p for p in check.problems())


def test_default_kvo_follows_a_lower_rate_but_a_typed_kvo_is_checked() -> None:
    # 20 mcg/h of 50 mcg/mL is 0.4 mL/h, KVO default 0.5. (Was insulin 0.3 units/h, now below
    # insulin's hard minimum 0.5 units/h.)
    low = InfusionOrder(drug_id="fentanyl", dose=20, vtbi_ml=50)
    check = check_order(low, AREA)
    assert check.plan is not None and check.plan.kvo_ml_h == pytest.approx(0.4)
    assert check.verdict is not Verdict.HARD
    typed = check_order(low.model_copy(update={"kvo_ml_h": 1.0}), AREA)
    assert typed.blocked


def test_duplicates_warn_for_drugs_not_for_plain_fluids() -> None:
    norad = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50, weight_kg=70)
    assert check_order(norad, AREA, running={"B": "noradrenaline"}).duplicates == ("B",)
    fluid = InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=80, vtbi_ml=1000)
    assert check_order(fluid, AREA, running={"B": "plasma-lyte-148"}).duplicates == ()


def test_unknown_drug_and_concentration_are_blocked_with_a_message() -> None:
    assert "no-such" in check_order(InfusionOrder(drug_id="no-such", rate_ml_h=1, vtbi_ml=1),
                                    AREA).problems()[0]
    check = check_order(InfusionOrder(drug_id="insulin", concentration=9, dose=1, vtbi_ml=50),
                        AREA)
    assert check.blocked and "concentration" in check.problems()[0]


def test_confirmed_records_the_messages_and_refuses_blocked_plans() -> None:
    high = check_order(InfusionOrder(drug_id="noradrenaline", dose=0.8, vtbi_ml=50,
                                     weight_kg=70), AREA)
    assert high.confirmed().confirmed_overrides == tuple(high.problems())
    hard = check_order(InfusionOrder(drug_id="noradrenaline", dose=5, vtbi_ml=50,
                                     weight_kg=70), AREA)
    with pytest.raises(ValueError, match="blocked"):
        hard.confirmed()


def test_bolus_by_volume_is_checked_as_the_dose_it_holds() -> None:
    running = check_order(InfusionOrder(drug_id="fentanyl", dose=50, vtbi_ml=50), AREA).plan
    assert running is not None
    drug = AREA.drug("fentanyl")  # 50 mcg/mL, bolus max 100 mcg
    ok = check_bolus_order(BolusOrder(volume_ml=1.0), running, drug, AREA)  # 50 mcg
    assert not ok.blocked and ok.plan is not None and ok.plan.vtbi_ml == pytest.approx(1.0)
    too_much = check_bolus_order(BolusOrder(volume_ml=10.0), running, drug, AREA)  # 500 mcg
    assert too_much.blocked and any("maximum" in p for p in too_much.problems())
    by_dose = check_bolus_order(BolusOrder(dose=25), running, drug, AREA)
    assert by_dose.plan is not None and by_dose.plan.vtbi_ml == pytest.approx(0.5)
