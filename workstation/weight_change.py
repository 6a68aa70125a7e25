"""A new patient weight while weight-based infusions run: keep each pump's mL/h, show the dose
that rate now is for the new weight, and say where that dose breaks a library limit. Pure.

The pump knows only mL/h, so "keep the rate" changes nothing at the bedside: what changes is
the dose the screen states (mcg/kg/min at 80 kg is not the same number at 70 kg). The nurse
who wants the ordered dose back titrates afterwards; a dose now outside a limit is listed so
that no one reads a number the library would have refused without knowing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from channels.druglib import CareArea, fmt
from channels.plan import Plan
from channels.planning import check_titration


@dataclass(frozen=True)
class Reweighing:
    letter: str
    before: Plan
    after: Plan
    problems: tuple[str, ...] = ()  # limits the recomputed dose breaks

    def describe(self) -> str:
        b, a = self.before, self.after
        text = f"{self.letter}: {b.drug_name} stays {fmt(b.rate_ml_h)} mL/h; dose " \
               f"{fmt(float(f'{b.dose or 0:.3g}'))} → {fmt(float(f'{a.dose or 0:.3g}'))} " \
               f"{a.dose_unit} at {fmt(a.weight_kg or 0)} kg"
        return text + ("; " + "; ".join(self.problems) if self.problems else "")


def weight_based(plan: Plan | None) -> bool:
    return plan is not None and plan.weight_kg is not None and plan.dose is not None and \
        plan.dose_unit != "mL/h" and plan.drug_id != "unknown"


def reweigh(letter: str, plan: Plan, weight_kg: float, area: CareArea) -> Reweighing:
    """``plan`` at ``weight_kg``, same mL/h: the dose recomputed and checked."""
    moved = plan.model_copy(update={"weight_kg": weight_kg})
    check = check_titration(moved, area, rate_ml_h=plan.rate_ml_h, vtbi_ml=plan.vtbi_ml)
    dose = check.plan.dose if check.plan is not None else None
    if dose is None:  # the drug left the library: the dose is what the rate gives, unchecked
        scale = (plan.weight_kg or weight_kg) / weight_kg
        dose = (plan.dose or 0.0) * scale
    return Reweighing(letter, plan, moved.model_copy(update={"dose": dose}),
                      tuple(check.problems()))


def preview(plans: Mapping[str, Plan | None], weight_kg: float,
            area: CareArea) -> list[Reweighing]:
    """Every running weight-based plan, by channel, at the new weight."""
    return [reweigh(letter, plan, weight_kg, area) for letter, plan in plans.items()
            if plan is not None and weight_based(plan)]
