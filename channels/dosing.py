"""Dose rate <-> flow rate: pure arithmetic, no rounding except where a function says so.

rate (mL/h) = dose x [weight kg] x [60 if per minute] x unit factor / concentration per mL

Results are exact floats; rounding to the pump's 0.1 mL/h step is a separate, explicit call
(``round_rate``) so a displayed dose can always be recomputed from the delivered rate.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from channels.druglib import AmountUnit, BolusUnit, Concentration, DoseUnit
from dbc.errors import InfusionError

__all__ = ["DoseError", "bolus_volume_ml", "dose_from_rate", "rate_ml_h", "round_rate"]

RATE_STEP_ML_H = 0.1  # pump resolution (Alaris 0.1-1200 mL/h, shared/notes/domain.md)


class DoseError(InfusionError, ValueError):
    """A dose that cannot be converted: incompatible units, missing weight, or not a number."""


def rate_ml_h(
    dose: float,
    dose_unit: DoseUnit | str,
    concentration: Concentration,
    weight_kg: float | None = None,
) -> float:
    """Flow rate in mL/h that delivers ``dose`` (in ``dose_unit``) from ``concentration``."""
    unit = _dose_unit(dose_unit)
    _check_quantity(dose, "dose", str(unit))
    if unit is DoseUnit.ML_H:
        return float(dose)
    amount_per_h = dose * _per_hour_scale(unit, weight_kg)
    return amount_per_h * _factor(unit.amount, concentration, str(unit)) / concentration.per_ml


def dose_from_rate(
    rate_ml_h: float,
    dose_unit: DoseUnit | str,
    concentration: Concentration,
    weight_kg: float | None = None,
) -> float:
    """Dose (in ``dose_unit``) delivered by ``rate_ml_h`` of ``concentration``."""
    unit = _dose_unit(dose_unit)
    _check_quantity(rate_ml_h, "rate", "mL/h")
    if unit is DoseUnit.ML_H:
        return float(rate_ml_h)
    amount_per_h = rate_ml_h * concentration.per_ml / _factor(unit.amount, concentration, str(unit))
    return amount_per_h / _per_hour_scale(unit, weight_kg)


def bolus_volume_ml(
    dose: float,
    bolus_unit: BolusUnit | str,
    concentration: Concentration,
    weight_kg: float | None = None,
) -> float:
    """Volume in mL that holds a bolus of ``dose`` (in ``bolus_unit``)."""
    try:
        unit = BolusUnit(bolus_unit)
    except ValueError:
        known = ", ".join(u.value for u in BolusUnit)
        raise DoseError(f"unknown bolus unit {bolus_unit!r} (known: {known})") from None
    _check_quantity(dose, "bolus", str(unit))
    if unit is BolusUnit.ML:
        return float(dose)
    amount = dose * (_weight(weight_kg, str(unit)) if unit.per_kg else 1.0)
    return amount * _factor(unit.amount, concentration, str(unit)) / concentration.per_ml


def round_rate(value_ml_h: float) -> float:
    """Round to the pump's 0.1 mL step, halves up (12.25 -> 12.3), as the keypad would show."""
    if not math.isfinite(value_ml_h):
        return value_ml_h
    step = Decimal(str(RATE_STEP_ML_H))
    return float(Decimal(repr(value_ml_h)).quantize(step, rounding=ROUND_HALF_UP))


def _dose_unit(unit: DoseUnit | str) -> DoseUnit:
    try:
        return DoseUnit(unit)
    except ValueError:
        known = ", ".join(u.value for u in DoseUnit)
        raise DoseError(f"unknown dose unit {unit!r} (known: {known})") from None


def _check_quantity(value: float, what: str, unit: str) -> None:
    if not math.isfinite(value) or value < 0:
        raise DoseError(f"{what} {value} {unit} is not a valid amount (must be a number >= 0)")


def _weight(weight_kg: float | None, unit: str) -> float:
    if weight_kg is None:
        raise DoseError(f"a dose in {unit} needs the patient's weight: enter the weight in kg")
    if not math.isfinite(weight_kg) or weight_kg <= 0:
        raise DoseError(f"weight {weight_kg} kg is not valid for a dose in {unit}")
    return weight_kg


def _per_hour_scale(unit: DoseUnit, weight_kg: float | None) -> float:
    """Multiplier from the dose unit to amount per hour for this patient."""
    scale = 60.0 if unit.per_min else 1.0
    if unit.per_kg:
        scale *= _weight(weight_kg, str(unit))
    return scale


def _factor(amount: AmountUnit, concentration: Concentration, unit: str) -> float:
    """Multiplier from the dose's amount unit to the concentration's (mg -> mcg is 1000)."""
    conc_unit = concentration.amount_unit
    if amount.dimension != conc_unit.dimension or conc_unit is AmountUnit.ML:
        raise DoseError(
            f"a dose in {unit} cannot be given from {concentration.label}: "
            f"the concentration is in {conc_unit}, not a {amount.dimension} amount"
        )
    return amount.factor / conc_unit.factor
