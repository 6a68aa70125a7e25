"""Dose rate <-> mL/h conversions: known bedside values, round trips, and refusals."""

from __future__ import annotations

import math

import pytest

from channels.dosing import (
    DoseError,
    bolus_volume_ml,
    dose_from_rate,
    rate_ml_h,
    round_rate,
)
from channels.druglib import (
    AmountUnit,
    BolusUnit,
    CareArea,
    Concentration,
    DoseUnit,
    Drug,
    load_drug_library,
)
from dbc.errors import InfusionError

LIBRARY = load_drug_library()
CASES = [
    pytest.param(area, drug, conc, id=f"{area.id}/{drug.id}/{conc.label}")
    for area in LIBRARY.care_areas
    for drug in area.drugs
    for conc in drug.concentrations
]


def conc(amount: float, unit: str, volume: float) -> Concentration:
    return Concentration(amount=amount, amount_unit=AmountUnit(unit), volume_ml=volume)


# --- known values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "unit", "concentration", "weight", "expected"),
    [
        (0.1, "mcg/kg/min", conc(4, "mg", 50), 80, 6.0),  # noradrenaline, 80 mcg/mL
        (5, "units/h", conc(50, "units", 50), None, 5.0),  # insulin 1 unit/mL
        (0.03, "units/min", conc(20, "units", 20), None, 1.8),  # vasopressin 1 unit/mL
        (2, "mg/kg/h", conc(500, "mg", 50), 70, 14.0),  # propofol 1 %
        (10, "mmol/h", conc(40, "mmol", 100), None, 25.0),  # KCl 0.4 mmol/mL
        (1000, "units/h", conc(25000, "units", 50), None, 2.0),  # heparin 500 units/mL
        (18, "units/kg/h", conc(25000, "units", 500), 80, 28.8),  # heparin 50 units/mL
        (100, "mcg/h", conc(2500, "mcg", 50), None, 2.0),  # fentanyl 50 mcg/mL
        (5, "mcg/kg/min", conc(250, "mg", 50), 70, 4.2),  # dobutamine 5 mg/mL
        (50, "mcg/min", conc(50, "mg", 50), None, 3.0),  # GTN 1 mg/mL
        (0.7, "mcg/kg/h", conc(200, "mcg", 50), 80, 14.0),  # dexmedetomidine 4 mcg/mL
        (1, "g/h", conc(20, "g", 500), None, 25.0),  # magnesium 40 mg/mL
        (1, "mg/min", conc(900, "mg", 500), None, 100 / 3),  # amiodarone 1.8 mg/mL
        (125, "mL/h", conc(1000, "mL", 1000), None, 125.0),  # fluid: passthrough
    ],
)
def test_known_rates(
    dose: float, unit: str, concentration: Concentration, weight: float | None, expected: float
) -> None:
    assert rate_ml_h(dose, unit, concentration, weight) == pytest.approx(expected)
    assert dose_from_rate(expected, unit, concentration, weight) == pytest.approx(dose)


def test_mass_units_convert_both_ways() -> None:
    # The same 4 mg/50 mL bag written three ways gives the same rate.
    for c in (conc(4, "mg", 50), conc(4000, "mcg", 50), conc(0.004, "g", 50)):
        assert rate_ml_h(0.1, DoseUnit.MCG_KG_MIN, c, 80) == pytest.approx(6.0)
        assert rate_ml_h(0.48, DoseUnit.MG_H, c, None) == pytest.approx(6.0)


def test_weight_ignored_when_not_per_kg() -> None:
    c = conc(50, "units", 50)
    assert rate_ml_h(5, "units/h", c, 70) == rate_ml_h(5, "units/h", c, None)


# --- round trips over the whole shipped library ----------------------------------------------


@pytest.mark.parametrize(("area", "drug", "concentration"), CASES)
def test_round_trip_every_drug_and_concentration(
    area: CareArea, drug: Drug, concentration: Concentration
) -> None:
    lim = drug.limits
    doses = [v for v in (lim.soft_min, lim.soft_max, lim.hard_max) if v is not None] or [50.0]
    for dose in [*doses, doses[0] / 3]:
        rate = rate_ml_h(dose, drug.dose_unit, concentration, 70.0)
        assert rate > 0
        assert dose_from_rate(rate, drug.dose_unit, concentration, 70.0) == pytest.approx(dose)
    for rate in (0.1, 1.0, 4.2, 37.3, 250.0):
        dose = dose_from_rate(rate, drug.dose_unit, concentration, 70.0)
        assert rate_ml_h(dose, drug.dose_unit, concentration, 70.0) == pytest.approx(rate)


@pytest.mark.parametrize(("area", "drug", "concentration"), CASES)
def test_usual_doses_fit_the_rate_caps(
    area: CareArea, drug: Drug, concentration: Concentration
) -> None:
    """The library is usable: the soft maximum for a 40-150 kg adult runs within the caps."""
    if drug.limits.soft_max is None:
        return
    caps = [area.max_rate_ml_h] + ([drug.max_rate_ml_h] if drug.max_rate_ml_h else [])
    for weight in (40.0, 150.0):
        rate = rate_ml_h(drug.limits.soft_max, drug.dose_unit, concentration, weight)
        assert rate <= min(caps), (drug.id, concentration.label, weight, rate)


# --- refusals --------------------------------------------------------------------------------


def test_dose_error_is_a_value_error_and_ours() -> None:
    assert issubclass(DoseError, ValueError)
    assert issubclass(DoseError, InfusionError)


@pytest.mark.parametrize(
    ("unit", "concentration"),
    [
        ("mg/h", conc(50, "units", 50)),
        ("units/h", conc(50, "mg", 50)),
        ("mmol/h", conc(4, "mg", 50)),
        ("mcg/kg/min", conc(1000, "mL", 1000)),
    ],
)
def test_incompatible_units(unit: str, concentration: Concentration) -> None:
    with pytest.raises(DoseError, match=f"a dose in {unit} cannot be given from"):
        rate_ml_h(1.0, unit, concentration, 70.0)
    with pytest.raises(DoseError, match="cannot be given from"):
        dose_from_rate(1.0, unit, concentration, 70.0)


@pytest.mark.parametrize("weight", [None, 0.0, -70.0, math.nan])
def test_per_kg_needs_a_weight(weight: float | None) -> None:
    c = conc(4, "mg", 50)
    with pytest.raises(DoseError, match="weight"):
        rate_ml_h(0.1, DoseUnit.MCG_KG_MIN, c, weight)
    with pytest.raises(DoseError, match="weight"):
        dose_from_rate(6.0, DoseUnit.MCG_KG_MIN, c, weight)


def test_missing_weight_message_is_clear() -> None:
    with pytest.raises(DoseError, match=r"mcg/kg/min needs the patient's weight"):
        rate_ml_h(0.1, "mcg/kg/min", conc(4, "mg", 50), None)


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf])
def test_bad_numbers(value: float) -> None:
    with pytest.raises(DoseError):
        rate_ml_h(value, "mg/h", conc(50, "mg", 50))
    with pytest.raises(DoseError):
        dose_from_rate(value, "mg/h", conc(50, "mg", 50))


def test_unknown_unit_string() -> None:
    with pytest.raises(DoseError, match="unknown dose unit 'mcg/kg/sec'"):
        rate_ml_h(1.0, "mcg/kg/sec", conc(4, "mg", 50), 70)
    with pytest.raises(DoseError, match="unknown bolus unit 'drops'"):
        bolus_volume_ml(1.0, "drops", conc(4, "mg", 50))


def test_zero_is_zero() -> None:
    assert rate_ml_h(0.0, "mg/h", conc(50, "mg", 50)) == 0.0
    assert dose_from_rate(0.0, "mcg/kg/min", conc(4, "mg", 50), 70) == 0.0


# --- bolus volume ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "unit", "concentration", "weight", "volume"),
    [
        (500, BolusUnit.MCG_KG, conc(2500, "mg", 250), 80, 4.0),  # esmolol load, 10 mg/mL
        (1, BolusUnit.MG_KG, conc(500, "mg", 50), 70, 7.0),  # propofol 1 mg/kg
        (80, BolusUnit.UNITS_KG, conc(25000, "units", 50), 80, 12.8),  # heparin 6400 units
        (50, BolusUnit.MCG, conc(2500, "mcg", 50), None, 1.0),  # fentanyl 50 mcg
        (4, BolusUnit.G, conc(20, "g", 500), None, 100.0),  # magnesium 4 g
        (2, BolusUnit.MG, conc(4, "mg", 50), None, 25.0),  # mg from a mg bag
        (10, BolusUnit.ML, conc(50, "mg", 50), None, 10.0),  # volume passthrough
    ],
)
def test_bolus_volume(
    dose: float, unit: BolusUnit, concentration: Concentration, weight: float | None, volume: float
) -> None:
    assert bolus_volume_ml(dose, unit, concentration, weight) == pytest.approx(volume)


def test_bolus_refusals() -> None:
    with pytest.raises(DoseError, match="weight"):
        bolus_volume_ml(80, BolusUnit.UNITS_KG, conc(25000, "units", 50), None)
    with pytest.raises(DoseError, match="cannot be given from"):
        bolus_volume_ml(5, BolusUnit.MG, conc(50, "units", 50), None)


# --- rounding to the pump step ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (14.000000000000002, 14.0),
        (12.25, 12.3),
        (0.04, 0.0),
        (0.05, 0.1),
        (1200.04, 1200.0),
        (41.66666, 41.7),
        (4.1666, 4.2),
    ],
)
def test_round_rate(value: float, rounded: float) -> None:
    assert round_rate(value) == rounded
