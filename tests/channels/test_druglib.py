"""The shipped drug library loads and is sane; bad files give ConfigError naming file and field."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from channels.druglib import (
    DEFAULT_LIBRARY_PATH,
    AmountUnit,
    BolusUnit,
    CareArea,
    Concentration,
    DoseLimits,
    DoseUnit,
    Drug,
    DrugLibrary,
    field_path,
    fmt,
    load_drug_library,
)
from dbc.errors import ConfigError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def library() -> DrugLibrary:
    return load_drug_library()


def _all_drugs(library: DrugLibrary) -> list[tuple[CareArea, Drug]]:
    return [(area, drug) for area in library.care_areas for drug in area.drugs]


def _config_error(name: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_drug_library(DATA / name)
    assert info.value.path == str(DATA / name)
    assert str(DATA / name) in str(info.value)
    return info.value


# --- the shipped library ---------------------------------------------------------------------


def test_default_path_is_the_repo_config() -> None:
    assert DEFAULT_LIBRARY_PATH.is_file()
    assert DEFAULT_LIBRARY_PATH.parts[-3:] == ("configs", "drug-library", "adult-icu.toml")


def test_shipped_library_has_two_care_areas_and_enough_drugs(library: DrugLibrary) -> None:
    assert [a.id for a in library.care_areas] == ["adult-icu", "cardiac-icu"]
    adult = library.care_area("adult-icu")
    assert len(adult.drugs) >= 18
    assert len(library.care_area("cardiac-icu").drugs) >= 10
    for required in (
        "noradrenaline",
        "adrenaline",
        "vasopressin",
        "dobutamine",
        "propofol",
        "midazolam",
        "dexmedetomidine",
        "fentanyl",
        "morphine",
        "remifentanil",
        "heparin",
        "insulin",
        "amiodarone",
        "potassium-chloride",
        "furosemide",
        "glyceryl-trinitrate",
        "esmolol",
        "labetalol",
        "plasma-lyte-148",
        "sodium-chloride-0-9",
        "basic-infusion",
    ):
        assert adult.drug(required).id == required


def test_ids_unique(library: DrugLibrary) -> None:
    area_ids = [a.id for a in library.care_areas]
    assert len(area_ids) == len(set(area_ids))
    for area in library.care_areas:
        ids = [d.id for d in area.drugs]
        assert len(ids) == len(set(ids)), area.id


def test_every_limit_ordered_and_bolus_sane(library: DrugLibrary) -> None:
    for area, drug in _all_drugs(library):
        lim = drug.limits
        chain = [lim.hard_min, lim.soft_min, lim.soft_max, lim.hard_max]
        present = [v for v in chain if v is not None]
        assert present == sorted(present), (area.id, drug.id)
        if drug.dose_unit is not DoseUnit.ML_H:
            assert lim.hard_max is not None, f"{area.id}/{drug.id} has no hard maximum"
        assert 50 <= drug.default_occlusion_mmhg <= 900
        assert 0 <= drug.kvo_ml_h <= 20
        if drug.bolus is not None:
            assert drug.bolus.max_dose > 0


def test_known_entries(library: DrugLibrary) -> None:
    adult = library.care_area("adult-icu")
    nor = adult.drug("noradrenaline")
    assert nor.dose_unit is DoseUnit.MCG_KG_MIN and nor.needs_weight and nor.high_alert
    # Hard max 1.0 (was 3.0, which let 0.3 keyed 3.0 through with one confirmation: H10).
    assert (nor.limits.hard_min, nor.limits.soft_min, nor.limits.soft_max,
            nor.limits.hard_max) == (0.005, 0.01, 0.5, 1.0)
    assert nor.synonyms == ["norepinephrine"] and nor.concentrations[0].module_kind == "syringe"
    assert nor.concentrations[0].label == "4 mg / 50 mL (80 mcg/mL)"
    assert adult.drug("vasopressin").dose_unit is DoseUnit.UNITS_MIN
    assert adult.drug("insulin").dose_unit is DoseUnit.UNITS_H
    kcl = adult.drug("potassium-chloride")
    assert kcl.dose_unit is DoseUnit.MMOL_H and kcl.high_alert and kcl.bolus is None
    assert kcl.limits.hard_max == 20.0
    assert adult.drug("basic-infusion").dose_unit is DoseUnit.ML_H
    assert not adult.drug("basic-infusion").needs_weight
    for area in library.care_areas:  # one dose unit for heparin everywhere (H10)
        assert area.drug("heparin").dose_unit is DoseUnit.UNITS_KG_H
    for drug_id in ("noradrenaline", "fentanyl", "insulin", "heparin", "propofol"):
        assert adult.drug(drug_id).high_alert, drug_id
    assert not adult.drug("plasma-lyte-148").high_alert


def test_digest_is_sha256_prefix_and_stable(library: DrugLibrary) -> None:
    expected = hashlib.sha256(DEFAULT_LIBRARY_PATH.read_bytes()).hexdigest()[:12]
    assert library.digest == expected
    assert load_drug_library().digest == expected
    assert library.label == f"Adult ICU {library.version} ({expected})"


def test_digest_changes_when_file_changes(tmp_path: Path, library: DrugLibrary) -> None:
    copy = tmp_path / "lib.toml"
    shutil.copy(DEFAULT_LIBRARY_PATH, copy)
    assert load_drug_library(copy).digest == library.digest
    copy.write_bytes(copy.read_bytes() + b"\n# reviewed by pharmacy\n")
    changed = load_drug_library(copy)
    assert changed.digest != library.digest
    assert changed.care_areas == library.care_areas  # same content, different identity


def test_digest_in_file_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "lib.toml"
    bad.write_bytes(b'digest = "000000000000"\n' + DEFAULT_LIBRARY_PATH.read_bytes())
    with pytest.raises(ConfigError, match=r"digest: computed by the loader"):
        load_drug_library(bad)


def test_lookups_raise_clear_key_errors(library: DrugLibrary) -> None:
    with pytest.raises(KeyError, match=r"no drug 'nitrous' in care area 'adult-icu'"):
        library.care_area("adult-icu").drug("nitrous")
    with pytest.raises(KeyError, match=r"no care area 'nicu'.*known: adult-icu, cardiac-icu"):
        library.care_area("nicu")


# --- bad files -------------------------------------------------------------------------------


def test_unknown_dose_unit() -> None:
    err = _config_error("bad_dose_unit.toml")
    assert len(err.problems) == 1
    problem = err.problems[0]
    assert problem.startswith("care_areas[0].drugs[2].dose_unit: 'mcg/kg/sec' is not one of")
    assert "'mcg/kg/min'" in problem


def test_soft_above_hard_names_the_pair() -> None:
    err = _config_error("soft_above_hard.toml")
    assert err.problems == ["care_areas[1].drugs[1].limits: hard_max 5.0 below soft_max 10.0"]


def test_missing_field() -> None:
    err = _config_error("missing_field.toml")
    assert err.problems == ["care_areas[0].drugs[0].dose_unit: required field is missing"]


def test_duplicate_drug_id() -> None:
    err = _config_error("duplicate_id.toml")
    assert err.problems == [
        "care_areas[0].drugs: duplicate drug id 'insulin' at drugs[0] and drugs[2]"
    ]


def test_toml_syntax_error_gives_line() -> None:
    err = _config_error("syntax_error.toml")
    assert len(err.problems) == 1
    assert err.problems[0].startswith("TOML syntax error:")
    assert "line 7" in err.problems[0]


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_drug_library(missing)
    assert info.value.path == str(missing)
    assert info.value.problems == ["file not found"]


def test_every_problem_reported_with_its_path() -> None:
    err = _config_error("wrong_units.toml")
    assert err.problems == [
        "care_areas[0].drugs[0]: concentrations[0] is in mg, which cannot give a dose in units/h",
        "care_areas[0].drugs[1].limits.hard_mx: unknown field (misspelt, or not part of the "
        "drug-library format)",
        "care_areas[0].drugs[1].default_occlusion_mmhg: Input should be a valid integer "
        "(got '300')",
    ]


def test_not_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('name = "Unité"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_drug_library(bad)


# --- models ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "unit", "volume", "label"),
    [
        (4, "mg", 50, "4 mg / 50 mL (80 mcg/mL)"),
        (250, "mg", 50, "250 mg / 50 mL (5 mg/mL)"),
        (2500, "mcg", 50, "2500 mcg / 50 mL (50 mcg/mL)"),
        (20, "g", 500, "20 g / 500 mL (40 mg/mL)"),
        (20, "units", 20, "20 units / 20 mL (1 unit/mL)"),
        (25000, "units", 500, "25000 units / 500 mL (50 units/mL)"),
        (40, "mmol", 100, "40 mmol / 100 mL (0.4 mmol/mL)"),
        (1000, "mL", 1000, "1000 mL"),
    ],
)
def test_concentration_label(amount: float, unit: str, volume: float, label: str) -> None:
    conc = Concentration(amount=amount, amount_unit=AmountUnit(unit), volume_ml=volume)
    assert conc.label == label
    assert conc.per_ml == pytest.approx(amount / volume)


def test_concentration_rejects_nonsense() -> None:
    with pytest.raises(ValidationError):
        Concentration(amount=0, amount_unit=AmountUnit.MG, volume_ml=50)
    with pytest.raises(ValidationError):
        Concentration(amount=4, amount_unit=AmountUnit.MG, volume_ml=-1)
    with pytest.raises(ValidationError, match="plain fluid"):
        Concentration(amount=500, amount_unit=AmountUnit.ML, volume_ml=1000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hard_min": 2.0, "soft_min": 1.0}, "soft_min 1.0 below hard_min 2.0"),
        ({"soft_min": 5.0, "soft_max": 1.0}, "soft_max 1.0 below soft_min 5.0"),
        ({"hard_min": 5.0, "hard_max": 1.0}, "hard_max 1.0 below hard_min 5.0"),
        ({"soft_min": 5.0, "hard_max": 4.0}, "hard_max 4.0 below soft_min 5.0"),
    ],
)
def test_dose_limits_order(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DoseLimits(**kwargs)


def test_dose_limits_all_optional_and_equal_allowed() -> None:
    assert DoseLimits().hard_max is None
    DoseLimits(hard_min=1, soft_min=1, soft_max=1, hard_max=1)


def test_models_are_frozen(library: DrugLibrary) -> None:
    drug = library.care_area("adult-icu").drug("insulin")
    with pytest.raises(ValidationError):
        drug.high_alert = False


def test_unit_parsing() -> None:
    assert DoseUnit.MCG_KG_MIN.amount is AmountUnit.MCG
    assert DoseUnit.MCG_KG_MIN.per_kg and DoseUnit.MCG_KG_MIN.per_min
    assert not DoseUnit.UNITS_H.per_kg and not DoseUnit.UNITS_H.per_min
    assert DoseUnit.ML_H.amount is AmountUnit.ML
    assert BolusUnit.UNITS_KG.per_kg and BolusUnit.UNITS_KG.amount is AmountUnit.UNITS
    assert {u.value for u in DoseUnit} >= {
        "mL/h",
        "mg/h",
        "mcg/h",
        "mg/kg/h",
        "mcg/kg/h",
        "mcg/kg/min",
        "mcg/min",
        "units/h",
        "units/kg/h",
        "units/min",
        "mmol/h",
        "g/h",
    }


def test_field_path() -> None:
    assert field_path(("care_areas", 0, "drugs", 3, "limits")) == "care_areas[0].drugs[3].limits"
    assert field_path(()) == "(top level)"


@pytest.mark.parametrize(
    ("value", "text"), [(80.0, "80"), (0.0125, "0.0125"), (9999.9, "9999.9"), (1e-7, "0.0000001")]
)
def test_fmt(value: float, text: str) -> None:
    assert fmt(value) == text
