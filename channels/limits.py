"""Limit checks that return decisions. A clinical value out of range is a verdict, not an exception.

HARD blocks (cannot be overridden), SOFT needs a confirmed and logged override, OK proceeds.

Rates, VTBI and KVO are checked at the pump's 0.1 resolution: the value is rounded half up to
0.1 (``dosing.round_rate``), the rounded value is what gets checked and what ``LimitCheck.value``
reports. Rounding before sending is the caller's job; checking the rounded value means the check
judges what the pump would actually deliver (1200.04 mL/h -> 1200 OK; 0.04 mL/h -> 0 HARD).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from channels.bus_ranges import field_range
from channels.dosing import round_rate
from channels.druglib import CareArea, Drug, fmt
from dbc.frames import PrimaryPage, SettingsPage

__all__ = [
    "LimitCheck", "Verdict", "check_bolus", "check_dose", "check_kvo", "check_rate", "check_vtbi",
    "check_weight", "worst",
]

# The module's ranges are what the bus carries (the DBC's signals, as the Alaris module range in
# shared/notes/domain.md): read from the DBC, never re-typed here (H13).
PUMP_MIN_RATE_ML_H = field_range(PrimaryPage, "rate_ml_h").minimum  # 0.1
PUMP_MAX_RATE_ML_H = field_range(PrimaryPage, "rate_ml_h").maximum  # 1200
VTBI_MIN_ML = field_range(PrimaryPage, "vtbi_ml").minimum  # 0.1
VTBI_MAX_ML = field_range(PrimaryPage, "vtbi_ml").maximum  # 9999.9
KVO_MAX_ML_H = field_range(SettingsPage, "kvo_rate_ml_h").maximum  # 20
_REL_TOL = 1e-9  # a dose recomputed from a rounded rate may land a hair past a limit it equals


class Verdict(Enum):
    OK = "ok"
    SOFT = "soft"
    HARD = "hard"


_RANK = {Verdict.OK: 0, Verdict.SOFT: 1, Verdict.HARD: 2}


@dataclass(frozen=True)
class LimitCheck:
    verdict: Verdict
    field: str  # "dose", "rate", "vtbi", "bolus", "weight" or "kvo"
    value: float
    limit: float | None  # the limit that decided the verdict; None when OK or not applicable
    unit: str
    message: str

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK


def worst(checks: Iterable[LimitCheck | Verdict]) -> Verdict:
    """The most severe verdict (HARD > SOFT > OK); OK for no checks."""
    verdicts = [c.verdict if isinstance(c, LimitCheck) else c for c in checks]
    return max(verdicts, key=_RANK.__getitem__, default=Verdict.OK)


def _above(value: float, limit: float) -> bool:
    return value > limit + abs(limit) * _REL_TOL


def _below(value: float, limit: float) -> bool:
    return value < limit - abs(limit) * _REL_TOL


def _q(value: float, unit: str) -> str:
    # 4 significant figures: a dose recomputed from a 0.1 mL/h step reads 0.701, not 0.700952.
    return f"{fmt(float(f'{value:.4g}'))} {unit}"


def _hard(field: str, value: float, limit: float | None, unit: str, text: str) -> LimitCheck:
    return LimitCheck(Verdict.HARD, field, value, limit, unit, f"{text}: not allowed")


def _range_check(
    field: str, label: str, value: float, unit: str, low: float, high: float, what: str
) -> LimitCheck:
    """HARD outside [low, high]; ``what`` names whose limits they are ("the pump", ...)."""
    if not math.isfinite(value):
        return _hard(field, value, None, unit, f"{label} {value} is not a number")
    if _below(value, low):
        text = f"{label} {_q(value, unit)} is below the minimum {_q(low, unit)} for {what}"
        return _hard(field, value, low, unit, text)
    if _above(value, high):
        text = f"{label} {_q(value, unit)} is above the maximum {_q(high, unit)} for {what}"
        return _hard(field, value, high, unit, text)
    message = f"{label} {_q(value, unit)} is within {fmt(low)} to {_q(high, unit)} for {what}"
    return LimitCheck(Verdict.OK, field, value, None, unit, message)


def check_dose(drug: Drug, dose: float) -> LimitCheck:
    """Dose (in the drug's dose unit) against the drug's hard, then soft, limits."""
    unit, lim = str(drug.dose_unit), drug.limits
    if not math.isfinite(dose) or dose <= 0:
        return _hard("dose", dose, 0.0, unit, f"Dose {_q(dose, unit)} must be more than 0")
    for kind, limit, is_out, side in (
        (Verdict.HARD, lim.hard_max, _above, "above"),
        (Verdict.HARD, lim.hard_min, _below, "below"),
        (Verdict.SOFT, lim.soft_max, _above, "above"),
        (Verdict.SOFT, lim.soft_min, _below, "below"),
    ):
        if limit is not None and is_out(dose, limit):
            level = "hard" if kind is Verdict.HARD else "soft"
            action = "not allowed" if kind is Verdict.HARD else "confirm to override"
            text = f"Dose {_q(dose, unit)} is {side} the {level} limit {_q(limit, unit)}: {action}"
            return LimitCheck(kind, "dose", dose, limit, unit, text)
    return LimitCheck(
        Verdict.OK, "dose", dose, None, unit, f"Dose {_q(dose, unit)} is within limits"
    )


def check_rate(rate_ml_h: float, care_area: CareArea, drug: Drug | None = None) -> LimitCheck:
    """Rate against the pump range, the care-area maximum and the drug maximum (all HARD).

    When several maxima are exceeded the lowest is reported: it is the real ceiling.
    """
    value, unit = round_rate(rate_ml_h), "mL/h"
    maxima = [(PUMP_MAX_RATE_ML_H, "the pump")]
    maxima.append((care_area.max_rate_ml_h, care_area.name))
    if drug is not None and drug.max_rate_ml_h is not None:
        maxima.append((drug.max_rate_ml_h, drug.name))
    high, what = min(maxima, key=lambda m: m[0])
    return _range_check("rate", "Rate", value, unit, PUMP_MIN_RATE_ML_H, high, what)


def check_vtbi(vtbi_ml: float) -> LimitCheck:
    """Volume to be infused, 0.1-9999.9 mL at 0.1 mL resolution."""
    value = round_rate(vtbi_ml)
    return _range_check("vtbi", "VTBI", value, "mL", VTBI_MIN_ML, VTBI_MAX_ML, "the pump")


def check_weight(care_area: CareArea, weight_kg: float) -> LimitCheck:
    """Patient weight against the care area's range; outside it the profile is wrong (HARD)."""
    return _range_check(
        "weight",
        "Weight",
        weight_kg,
        "kg",
        care_area.weight_min_kg,
        care_area.weight_max_kg,
        care_area.name,
    )


def check_kvo(kvo_ml_h: float, rate_ml_h: float) -> LimitCheck:
    """KVO 0-20 mL/h (0 = stop at end) and never above the infusion rate (Alaris rule)."""
    value, rate = round_rate(kvo_ml_h), round_rate(rate_ml_h)
    check = _range_check("kvo", "KVO", value, "mL/h", 0.0, KVO_MAX_ML_H, "the pump")
    if check.ok and not math.isfinite(rate):
        return _hard("kvo", value, None, "mL/h", f"Infusion rate {rate} is not a number")
    if check.ok and _above(value, rate):
        text = f"KVO {_q(value, 'mL/h')} is above the infusion rate {_q(rate, 'mL/h')}"
        return _hard("kvo", value, rate, "mL/h", text)
    return check


def check_bolus(drug: Drug, dose: float, weight_kg: float | None = None) -> LimitCheck:
    """Bolus dose (in the drug's bolus unit) against its maximum; any excess is HARD.

    The lockout and the hourly limits need the patient's bolus history: ``channels.bolus_history``
    (``planning.check_bolus_order`` applies both).
    """
    if drug.bolus is None:
        return _hard("bolus", dose, None, "", f"Bolus is not set up for {drug.name}")
    unit, max_dose = str(drug.bolus.dose_unit), drug.bolus.max_dose
    if not math.isfinite(dose) or dose <= 0:
        return _hard("bolus", dose, 0.0, unit, f"Bolus {_q(dose, unit)} must be more than 0")
    shown = _q(dose, unit)
    if drug.bolus.dose_unit.per_kg:
        if weight_kg is None or not math.isfinite(weight_kg) or weight_kg <= 0:
            text = f"Bolus in {unit} needs the patient's weight: enter the weight"
            return _hard("bolus", dose, None, unit, text)
        total = _q(dose * weight_kg, str(drug.bolus.dose_unit.amount))
        shown += f" ({total} for {fmt(weight_kg)} kg)"
    if _above(dose, max_dose):
        text = f"Bolus {shown} is above the maximum {_q(max_dose, unit)}"
        return _hard("bolus", dose, max_dose, unit, text)
    text = f"Bolus {shown} is within the maximum {_q(max_dose, unit)}"
    return LimitCheck(Verdict.OK, "bolus", dose, None, unit, text)
