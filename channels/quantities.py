"""One formatting rule per quantity, used wherever a number meets a nurse's eye (cards, forms,
review, log messages): significant figures fit for the unit, no trailing noise (0.04952), no
exponent, and never a value that hides what the pump really does. Pure.

- dose: 3 significant figures below 100 (0.0495, 0.1, 12.3), whole numbers from 100 (1250);
- rate (mL/h): one decimal below 100 (6.0, 49.7), whole numbers from 100 (125) unless a
  tenth is really there (125.3): the pump's step is 0.1 mL/h;
- volume (mL): to the tenth, without a trailing '.0' (0.2, 49.7, 50, 500);
- time left: '<1 min', '42 min', '1h02m'.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["dose", "dose_number", "minutes", "rate", "tenths", "volume"]


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def dose_number(value: float) -> str:
    """0.04952 -> '0.0495', 0.1 -> '0.1', 12.34 -> '12.3', 1234.4 -> '1234'."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return _plain(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return _plain(Decimal(f"{value:.3g}"))


def dose(value: float | None, unit: str) -> str:
    """'0.0495 mcg/kg/min'; '' for no dose or a plain fluid (its dose is its rate)."""
    if value is None or unit == "mL/h":
        return ""
    return f"{dose_number(value)} {unit}"


def tenths(value: float) -> str:
    """mL/h and mL: one decimal below 100, whole from 100 unless a tenth is there."""
    if not math.isfinite(value):
        return str(value)
    rounded = Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if abs(rounded) >= 100 and rounded == rounded.to_integral_value():
        return str(rounded.quantize(Decimal(1)))
    return str(rounded)


def rate(ml_h: float) -> str:
    """'6.0 mL/h', '125 mL/h', '125.3 mL/h'."""
    return f"{tenths(ml_h)} mL/h"


def volume(ml: float) -> str:
    """'0.2 mL', '49.7 mL', '50 mL', '500 mL'."""
    return f"{tenths(ml).removesuffix('.0')} mL"


def minutes(total: int | None, *, running: bool = True) -> str:
    """Time left: '--' unknown, '<1 min' while running and under a minute, '1h02m'."""
    if total is None:
        return "--"
    if total <= 0:
        return "<1 min" if running else "0 min"
    hours, mins = divmod(total, 60)
    return f"{hours}h{mins:02d}m" if hours else f"{mins} min"
