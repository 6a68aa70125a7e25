"""H10: the drug library reviewed as a pharmacist would, and the loader rules that keep it so."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.druglib import DrugLibrary, load_drug_library
from channels.limits import Verdict, check_dose
from channels.planning import InfusionOrder, check_order, check_titration
from dbc.errors import ConfigError

LIB = load_drug_library()
ADULT, CARDIAC = LIB.care_area("adult-icu"), LIB.care_area("cardiac-icu")
SHIPPED = Path(__file__).resolve().parents[2] / "configs" / "drug-library" / "adult-icu.toml"


@pytest.mark.parametrize("area", [ADULT, CARDIAC], ids=lambda a: a.id)
def test_noradrenaline_0_3_keyed_3_0_is_blocked(area) -> None:  # type: ignore[no-untyped-def]
    check = check_order(InfusionOrder(drug_id="noradrenaline", dose=3.0, vtbi_ml=50,
                                      weight_kg=70), area)
    assert check.blocked and "hard limit" in check.problems()[0]


@pytest.mark.parametrize("area", [ADULT, CARDIAC], ids=lambda a: a.id)
def test_every_high_alert_drug_blocks_a_tenfold_slip_of_a_usual_dose(area) -> None:  # type: ignore[no-untyped-def]
    # A dose at a quarter of the usual maximum, keyed ten times, is blocked; so is one keyed a
    # tenth of the usual minimum where a hard minimum exists.
    for drug in area.drugs:
        if not drug.high_alert:
            continue
        low, high = drug.limits.soft_min, drug.limits.soft_max
        assert low is not None and high is not None, drug.id
        assert check_dose(drug, high / 4 * 10).verdict is Verdict.HARD, drug.id
        assert drug.limits.hard_min is not None, f"{drug.id}: no hard_min"
        assert check_dose(drug, drug.limits.hard_min * 0.9).verdict is Verdict.HARD


def test_insulin_5_keyed_0_5_alerts() -> None:
    check = check_order(InfusionOrder(drug_id="insulin", dose=0.5, vtbi_ml=50), ADULT)
    assert check.verdict is not Verdict.OK
    assert check_order(InfusionOrder(drug_id="insulin", dose=0.2, vtbi_ml=50), ADULT).blocked


def test_one_dose_unit_per_drug_across_care_areas() -> None:
    units: dict[str, set[str]] = {}
    for area in LIB.care_areas:
        for drug in area.drugs:
            units.setdefault(drug.id, set()).add(str(drug.dose_unit))
    assert {d: u for d, u in units.items() if len(u) > 1} == {}


def _edited(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = SHIPPED.read_text()
    assert old in text, old
    path = tmp_path / "lib.toml"
    path.write_text(text.replace(old, new, count))
    return path


def test_loader_rejects_a_drug_whose_dose_unit_differs_between_areas(tmp_path: Path) -> None:
    path = _edited(tmp_path, 'dose_unit = "units/kg/h"  # ACS 12',
                   'dose_unit = "units/h"  # ACS 12')
    with pytest.raises(ConfigError) as err:
        load_drug_library(path)
    text = str(err.value)
    assert "heparin" in text and "dose_unit" in text and "units/h" in text
    assert "lib.toml" in text


def test_loader_rejects_a_high_alert_drug_without_tenfold_protection(tmp_path: Path) -> None:
    path = _edited(tmp_path, "limits = { soft_min = 0.01, soft_max = 0.5, hard_min = 0.005, "
                   "hard_max = 1.0 }", "limits = { soft_min = 0.01, soft_max = 0.5, "
                   "hard_min = 0.005, hard_max = 3.0 }")
    with pytest.raises(ConfigError) as err:
        load_drug_library(path)
    assert "noradrenaline" in str(err.value) and "hard_max" in str(err.value)


def test_loader_rejects_a_bolus_rate_above_the_caps(tmp_path: Path) -> None:
    path = _edited(tmp_path, "min_interval_min = 5.0, max_doses_per_hour = 6, "
                   "max_amount_per_hour = 3.0, rate_ml_h = 100.0",
                   "min_interval_min = 5.0, max_doses_per_hour = 6, "
                   "max_amount_per_hour = 3.0, rate_ml_h = 300.0")
    with pytest.raises(ConfigError) as err:
        load_drug_library(path)
    assert "propofol" in str(err.value) and "bolus.rate_ml_h" in str(err.value)


def test_concentrations_are_tied_to_the_module_kind_and_container() -> None:
    norad_syringe = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50, weight_kg=70)
    assert not check_order(norad_syringe, ADULT, module_kind="syringe").blocked
    on_pump = check_order(norad_syringe, ADULT, module_kind="volumetric")
    assert on_pump.blocked and any("syringe" in p for p in on_pump.problems())
    bag = InfusionOrder(drug_id="plasma-lyte-148", concentration=1, rate_ml_h=80, vtbi_ml=500)
    on_syringe = check_order(bag, ADULT, module_kind="syringe")
    assert on_syringe.blocked and any("500 mL" in p for p in on_syringe.problems())
    too_much = check_order(norad_syringe.model_copy(update={"vtbi_ml": 60}), ADULT)
    assert too_much.blocked and any("container" in p for p in too_much.problems())


def test_synonyms_find_the_drug() -> None:
    assert [d.id for d in ADULT.search("norepinephrine")] == ["noradrenaline"]
    assert [d.id for d in ADULT.search("Epinephrine")] == ["adrenaline"]
    assert "noradrenaline" in [d.id for d in ADULT.search("nora")]


def test_shipped_library_states_a_container_and_sources() -> None:
    for area in LIB.care_areas:
        for drug in area.drugs:
            for c in drug.concentrations:
                assert c.container is not None, drug.id
    text = SHIPPED.read_text()
    for source in ("[ISMP-SIP]", "[JBDS]", "[ISMP]", "[SSC]"):
        assert source in text


def test_titration_by_dose_needs_the_running_concentration_in_the_library() -> None:
    plan = check_order(InfusionOrder(drug_id="fentanyl", dose=20, concentration=1,
                                     vtbi_ml=50), ADULT).plan
    assert plan is not None
    refused = check_titration(plan, CARDIAC, dose=40, vtbi_ml=40)
    assert refused.blocked
    assert any("1000 mcg / 100 mL" in p and "rate" in p for p in refused.problems())
    by_rate = check_titration(plan, CARDIAC, rate_ml_h=3, vtbi_ml=40)
    assert not by_rate.blocked and by_rate.plan is not None
    assert by_rate.plan.concentration == plan.concentration
    assert by_rate.plan.dose == pytest.approx(30)  # 3 mL/h x 10 mcg/mL
    same = check_titration(plan, ADULT, dose=40, vtbi_ml=40)
    assert same.plan is not None and same.plan.rate_ml_h == pytest.approx(4.0)


def test_library_built_in_code_gets_the_same_rules() -> None:
    data = LIB.model_dump(mode="json", exclude={"digest"})
    data["care_areas"][1]["drugs"] = [
        {**d, "dose_unit": "units/h"} if d["id"] == "heparin" else d
        for d in data["care_areas"][1]["drugs"]]
    with pytest.raises(ValueError, match="heparin"):
        DrugLibrary.model_validate(data)


def test_an_order_with_another_weight_than_the_patients_is_refused() -> None:
    order = InfusionOrder(drug_id="propofol", dose=2, vtbi_ml=50, weight_kg=120)
    refused = check_order(order, ADULT, patient_weight_kg=70)
    assert refused.blocked and "120 kg" in refused.problems()[0] and \
        "70 kg" in refused.problems()[0]
    same = check_order(order.model_copy(update={"weight_kg": None}), ADULT,
                       patient_weight_kg=70)
    assert same.plan is not None and same.plan.weight_kg == 70
