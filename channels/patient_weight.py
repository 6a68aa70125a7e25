"""One patient weight per workstation (H10): set once, with who and when, used by every order.

Each channel used to take its own weight (70 and 120 kg on one patient were accepted). Now the
workstation keeps one; an order that carries another weight is refused by planning
(``planning.weight_check``) with a message saying how to change it. Pure: the caller logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from channels.druglib import fmt

__all__ = ["PatientWeight"]


@dataclass(frozen=True)
class PatientWeight:
    kg: float | None = None
    set_by: str | None = None  # the user, or "configuration"
    set_at: float | None = None  # wall-clock time (s since the epoch)

    def changed(self, kg: float, *, user: str | None, at: float) -> PatientWeight:
        if not math.isfinite(kg) or kg <= 0:
            raise ValueError(f"patient weight {kg} kg is not a weight: enter it in kg (> 0)")
        return PatientWeight(round(kg, 2), user or "unknown user", at)

    def describe(self) -> str:
        """'72.5 kg (set by rn-jones)' or 'not set'."""
        if self.kg is None:
            return "not set"
        return f"{fmt(self.kg)} kg (set by {self.set_by or 'unknown user'})"
