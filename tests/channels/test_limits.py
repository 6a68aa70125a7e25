"""Limit checks return verdicts with nurse-readable messages; they never raise for a bad value."""

from __future__ import annotations

import math

import pytest

from channels.druglib import (
    AmountUnit,
    BolusLimits,
    BolusUnit,
    CareArea,
    Concentration,
    DoseLimits,
    DoseUnit,
    Drug,
)
from channels.limits import (
    LimitCheck,
    Verdict,
    check_bolus,
    check_dose,
    check_kvo,
    check_rate,
    check_vtbi,
    check_weight,
    worst,
)


def make_drug(**overrides: object) -> Drug:
    fields: dict[str, object] = {
        "id": "noradrenaline",
        "name": "Noradrenaline",
        "concentrations": [Concentration(amount=4, amount_unit=AmountUnit.MG, volume_ml=50)],
        "dose_unit": DoseUnit.MCG_KG_MIN,
        "limits": DoseLimits(soft_min=0.01, soft_max=0.5, hard_max=3.0),
        "default_occlusion_mmhg": 300,
        "high_alert": True,
    }
    fields.update(overrides)
    return Drug.model_validate(fields)


NORAD = make_drug()
AREA = CareArea(
    id="adult-icu",
    name="Adult ICU",
    weight_min_kg=30,
    weight_max_kg=250,
    max_rate_ml_h=999,
    drugs=[NORAD],
)


# --- dose ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "verdict", "limit", "message"),
    [
        (0.1, Verdict.OK, None, "Dose 0.1 mcg/kg/min is within limits"),
        (0.5, Verdict.OK, None, "Dose 0.5 mcg/kg/min is within limits"),
        (0.01, Verdict.OK, None, "Dose 0.01 mcg/kg/min is within limits"),
        (
            0.8,
            Verdict.SOFT,
            0.5,
            "Dose 0.8 mcg/kg/min is above the soft limit 0.5 mcg/kg/min: confirm to override",
        ),
        (
            0.005,
            Verdict.SOFT,
            0.01,
            "Dose 0.005 mcg/kg/min is below the soft limit 0.01 mcg/kg/min: confirm to override",
        ),
        (3.0, Verdict.SOFT, 0.5, None),
        (
            4.0,
            Verdict.HARD,
            3.0,
            "Dose 4 mcg/kg/min is above the hard limit 3 mcg/kg/min: not allowed",
        ),
        (0.0, Verdict.HARD, 0.0, "Dose 0 mcg/kg/min must be more than 0: not allowed"),
        (-1.0, Verdict.HARD, 0.0, None),
        (math.nan, Verdict.HARD, 0.0, None),
    ],
)
def test_check_dose(
    dose: float, verdict: Verdict, limit: float | None, message: str | None
) -> None:
    check = check_dose(NORAD, dose)
    assert check.verdict is verdict
    assert check.field == "dose"
    assert check.limit == limit
    assert check.unit == "mcg/kg/min"
    if message is not None:
        assert check.message == message


def test_check_dose_hard_min() -> None:
    drug = make_drug(limits=DoseLimits(hard_min=0.05, soft_min=0.1, soft_max=0.5, hard_max=3))
    low = check_dose(drug, 0.02)
    assert (low.verdict, low.limit) == (Verdict.HARD, 0.05)
    assert (
        low.message == "Dose 0.02 mcg/kg/min is below the hard limit 0.05 mcg/kg/min: not allowed"
    )
    assert check_dose(drug, 0.07).verdict is Verdict.SOFT


def test_check_dose_tolerates_float_noise_at_a_limit() -> None:
    # A dose recomputed from a rounded rate may be 0.5000000000000001.
    assert check_dose(NORAD, 0.5 + 1e-15).verdict is Verdict.OK
    assert check_dose(NORAD, 3.0 + 1e-13).verdict is Verdict.SOFT


def test_check_dose_no_limits() -> None:
    assert check_dose(make_drug(limits=DoseLimits()), 1e6).verdict is Verdict.OK


# --- rate ------------------------------------------------------------------------------------


def test_rate_ok() -> None:
    check = check_rate(6.0, AREA, NORAD)
    assert (check.verdict, check.field, check.value, check.unit) == (
        Verdict.OK,
        "rate",
        6.0,
        "mL/h",
    )


def test_rate_above_pump_maximum() -> None:
    area = AREA.model_copy(update={"max_rate_ml_h": 1200.0})
    check = check_rate(1300, area, None)
    assert (check.verdict, check.limit) == (Verdict.HARD, 1200.0)
    assert (
        check.message == "Rate 1300 mL/h is above the maximum 1200 mL/h for the pump: not allowed"
    )
    assert check_rate(1200, area, None).verdict is Verdict.OK


def test_rate_above_care_area_maximum() -> None:
    check = check_rate(1000, AREA, NORAD)
    assert (check.verdict, check.limit) == (Verdict.HARD, 999.0)
    assert "for Adult ICU: not allowed" in check.message


def test_rate_above_drug_maximum_reports_the_lowest_ceiling() -> None:
    drug = make_drug(max_rate_ml_h=50.0)
    check = check_rate(1300, AREA, drug)
    assert (check.verdict, check.limit) == (Verdict.HARD, 50.0)
    assert check.message == (
        "Rate 1300 mL/h is above the maximum 50 mL/h for Noradrenaline: not allowed"
    )
    assert check_rate(50, AREA, drug).verdict is Verdict.OK


def test_rate_below_pump_minimum() -> None:
    check = check_rate(0.0, AREA, NORAD)
    assert (check.verdict, check.limit) == (Verdict.HARD, 0.1)
    assert "below the minimum 0.1 mL/h" in check.message


@pytest.mark.parametrize(
    ("rate", "value", "verdict"),
    [
        (5.04, 5.0, Verdict.OK),
        (5.05, 5.1, Verdict.OK),
        (0.04, 0.0, Verdict.HARD),
        (0.05, 0.1, Verdict.OK),
        (999.04, 999.0, Verdict.OK),
        (999.05, 999.1, Verdict.HARD),
    ],
)
def test_rate_is_judged_at_the_pump_resolution(rate: float, value: float, verdict: Verdict) -> None:
    """Decision: not a multiple of 0.1 is not an error; the rate is rounded half up to 0.1, and
    the rounded value (what the pump would run) is checked and reported."""
    check = check_rate(rate, AREA, NORAD)
    assert check.value == value
    assert check.verdict is verdict


def test_rate_nan_is_hard() -> None:
    assert check_rate(math.nan, AREA, NORAD).verdict is Verdict.HARD


# --- VTBI, weight, KVO -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vtbi", "verdict", "limit"),
    [
        (0.1, Verdict.OK, None),
        (50, Verdict.OK, None),
        (9999.9, Verdict.OK, None),
        (0.0, Verdict.HARD, 0.1),
        (10000, Verdict.HARD, 9999.9),
        (-5, Verdict.HARD, 0.1),
    ],
)
def test_check_vtbi(vtbi: float, verdict: Verdict, limit: float | None) -> None:
    check = check_vtbi(vtbi)
    assert (check.verdict, check.limit, check.field, check.unit) == (verdict, limit, "vtbi", "mL")


@pytest.mark.parametrize(
    ("weight", "verdict", "limit", "message"),
    [
        (70, Verdict.OK, None, "Weight 70 kg is within 30 to 250 kg for Adult ICU"),
        (30, Verdict.OK, None, None),
        (250, Verdict.OK, None, None),
        (
            20,
            Verdict.HARD,
            30.0,
            "Weight 20 kg is below the minimum 30 kg for Adult ICU: not allowed",
        ),
        (
            300,
            Verdict.HARD,
            250.0,
            "Weight 300 kg is above the maximum 250 kg for Adult ICU: not allowed",
        ),
    ],
)
def test_check_weight(
    weight: float, verdict: Verdict, limit: float | None, message: str | None
) -> None:
    check = check_weight(AREA, weight)
    assert (check.verdict, check.limit, check.field) == (verdict, limit, "weight")
    if message is not None:
        assert check.message == message


@pytest.mark.parametrize(
    ("kvo", "rate", "verdict", "limit"),
    [
        (1.0, 10.0, Verdict.OK, None),
        (0.0, 10.0, Verdict.OK, None),  # 0 = stop at the end
        (2.0, 2.0, Verdict.OK, None),  # equal to the rate is allowed
        (5.0, 2.0, Verdict.HARD, 2.0),  # above the rate
        (25.0, 100.0, Verdict.HARD, 20.0),  # above the KVO maximum
        (-1.0, 10.0, Verdict.HARD, 0.0),
    ],
)
def test_check_kvo(kvo: float, rate: float, verdict: Verdict, limit: float | None) -> None:
    check = check_kvo(kvo, rate)
    assert (check.verdict, check.limit, check.field) == (verdict, limit, "kvo")


def test_kvo_above_rate_message() -> None:
    assert check_kvo(5, 2).message == "KVO 5 mL/h is above the infusion rate 2 mL/h: not allowed"


# --- bolus -----------------------------------------------------------------------------------


FENTANYL = make_drug(
    id="fentanyl",
    name="Fentanyl",
    concentrations=[Concentration(amount=2500, amount_unit=AmountUnit.MCG, volume_ml=50)],
    dose_unit=DoseUnit.MCG_H,
    limits=DoseLimits(soft_max=200, hard_max=500),
    bolus=BolusLimits(max_dose=100, dose_unit=BolusUnit.MCG, min_interval_min=5),
)
ESMOLOL = make_drug(
    id="esmolol",
    name="Esmolol",
    concentrations=[Concentration(amount=2500, amount_unit=AmountUnit.MG, volume_ml=250)],
    limits=DoseLimits(soft_max=200, hard_max=300),
    bolus=BolusLimits(max_dose=500, dose_unit=BolusUnit.MCG_KG),
)


def test_bolus_ok_and_at_max() -> None:
    check = check_bolus(FENTANYL, 50, None)
    assert (check.verdict, check.field, check.unit) == (Verdict.OK, "bolus", "mcg")
    assert check_bolus(FENTANYL, 100, None).verdict is Verdict.OK


def test_bolus_above_max_is_hard() -> None:
    check = check_bolus(FENTANYL, 150, None)
    assert (check.verdict, check.limit) == (Verdict.HARD, 100.0)
    assert check.message == "Bolus 150 mcg is above the maximum 100 mcg: not allowed"


def test_bolus_per_kg_shows_total_and_needs_weight() -> None:
    check = check_bolus(ESMOLOL, 600, 70)
    assert (check.verdict, check.limit) == (Verdict.HARD, 500.0)
    assert check.message == (
        "Bolus 600 mcg/kg (42000 mcg for 70 kg) is above the maximum 500 mcg/kg: not allowed"
    )
    assert check_bolus(ESMOLOL, 500, 70).verdict is Verdict.OK
    missing = check_bolus(ESMOLOL, 500, None)
    assert missing.verdict is Verdict.HARD
    assert "weight" in missing.message


def test_no_bolus_for_this_drug_is_hard() -> None:
    check = check_bolus(NORAD, 1.0, 70)
    assert check.verdict is Verdict.HARD
    assert check.message == "Bolus is not set up for Noradrenaline: not allowed"


@pytest.mark.parametrize("dose", [0.0, -5.0, math.inf])
def test_bolus_nonsense_is_hard(dose: float) -> None:
    assert check_bolus(FENTANYL, dose, None).verdict is Verdict.HARD


# --- worst -----------------------------------------------------------------------------------


def _check(verdict: Verdict) -> LimitCheck:
    return LimitCheck(verdict, "dose", 1.0, None, "mg/h", "")


def test_worst() -> None:
    assert worst([]) is Verdict.OK
    assert worst([_check(Verdict.OK), _check(Verdict.OK)]) is Verdict.OK
    assert worst([_check(Verdict.OK), _check(Verdict.SOFT)]) is Verdict.SOFT
    assert worst([_check(Verdict.HARD), _check(Verdict.SOFT), _check(Verdict.OK)]) is Verdict.HARD
    assert worst([Verdict.SOFT, _check(Verdict.OK)]) is Verdict.SOFT


def test_checks_never_raise_for_out_of_range_values() -> None:
    for value in (-1e9, -1.0, 0.0, 1e9, math.inf, -math.inf, math.nan):
        checks = [
            check_dose(NORAD, value),
            check_rate(value, AREA, NORAD),
            check_vtbi(value),
            check_weight(AREA, value),
            check_kvo(value, 10.0),
            check_kvo(1.0, value),
            check_bolus(ESMOLOL, value, 70),
        ]
        assert all(isinstance(c, LimitCheck) for c in checks)
