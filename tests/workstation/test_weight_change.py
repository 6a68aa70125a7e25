"""A new patient weight over running weight-based plans: same mL/h, the dose recomputed and
checked against the library (pure)."""

from __future__ import annotations

from channels.druglib import load_drug_library
from channels.planning import InfusionOrder, check_order
from workstation.config import DEFAULT_LIBRARY
from workstation.weight_change import preview, reweigh, weight_based

AREA = load_drug_library(DEFAULT_LIBRARY).care_area("adult-icu")



def test_same_rate_dose_scales_with_weight_and_limits_are_checked() -> None:
    plan = check_order(InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50), AREA,
                       module_kind="syringe", patient_weight_kg=70).plan
    assert plan is not None and weight_based(plan)
    heavier = reweigh("B", plan, 80, AREA)
    assert heavier.after.rate_ml_h == plan.rate_ml_h and heavier.after.weight_kg == 80
    assert heavier.after.dose is not None and plan.dose is not None
    assert abs(heavier.after.dose - plan.rate_ml_h * 80 / 60 / 80) < 1e-3  # 3 s.f.
    assert heavier.problems == ()
    # 70 kg entered as 7 kg: the same mL/h is ten times the dose per kg, beyond the hard max.
    lighter = reweigh("B", plan, 7, AREA)
    assert lighter.problems and any("hard" in p.lower() for p in lighter.problems)
    assert "stays" in lighter.describe() and lighter.problems[0] in lighter.describe()


def test_only_weight_based_plans_are_previewed() -> None:
    norad = check_order(InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50), AREA,
                        module_kind="syringe", patient_weight_kg=70).plan
    fluid = check_order(InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=80, vtbi_ml=500,
                                      concentration=1), AREA, module_kind="volumetric",
                        patient_weight_kg=70).plan
    assert fluid is not None and not weight_based(fluid)
    changes = preview({"A": fluid, "B": norad, "C": None}, 80, AREA)
    assert [c.letter for c in changes] == ["B"]
