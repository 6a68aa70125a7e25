"""What the bus can carry: every program field against its DBC signal range, before sending.

The ranges are read from the DBC (``channels.bus_ranges``), never re-typed. A plan with a
field the bus cannot encode is refused here with a reason (a HARD ``LimitCheck``) instead of
failing in the codec after part of it was sent (H13: a KVO of 25 mL/h with end action STOP
reached the encoder and killed the supervisor's tick task).
"""

from __future__ import annotations

import math

from channels.bus_ranges import PROGRAM_MESSAGE, field_range
from channels.limits import LimitCheck, Verdict
from channels.plan import Plan, PlanKind
from dbc.frames import BolusPage, Page, PrimaryPage, SecondaryPage, SettingsPage

__all__ = ["check_page", "check_plan", "plan_pages"]

_LABELS = {"rate_ml_h": "Rate", "vtbi_ml": "VTBI", "kvo_rate_ml_h": "KVO",
           "occlusion_limit_mmhg": "Occlusion limit", "air_limit_ul": "Air limit",
           "volume_ml": "Bolus volume", "end_action": "End action", "callback": "Callback"}
_PAGE_NAMES = {PrimaryPage: "primary", SettingsPage: "settings", BolusPage: "bolus",
               SecondaryPage: "secondary"}


def check_page(page: Page) -> list[LimitCheck]:
    """One HARD check per field the bus cannot carry (none when every field fits)."""
    out: list[LimitCheck] = []
    for field in type(page).SIGNALS:
        rng = field_range(type(page), field)
        value = float(getattr(page, field))  # enums and bools travel as their integer
        label = _LABELS.get(field, field)
        where = f"the most the bus can carry ({PROGRAM_MESSAGE}.{rng.signal}, " \
                f"{_PAGE_NAMES[type(page)]} page)"
        unit = f" {rng.unit}" if rng.unit else ""
        if not math.isfinite(value):
            text = f"{label} {value} is not a number the bus can carry " \
                   f"({PROGRAM_MESSAGE}.{rng.signal}): not allowed"
            out.append(LimitCheck(Verdict.HARD, "bus", value, None, rng.unit, text))
        elif value > rng.maximum + rng.scale / 2:
            text = f"{label} {value:g}{unit} is above {rng.maximum:g}{unit}, {where}: " \
                   "not allowed"
            out.append(LimitCheck(Verdict.HARD, "bus", value, rng.maximum, rng.unit, text))
        elif value < rng.minimum - rng.scale / 2:
            text = f"{label} {value:g}{unit} is below {rng.minimum:g}{unit}, " \
                   f"{where.replace('most', 'least')}: not allowed"
            out.append(LimitCheck(Verdict.HARD, "bus", value, rng.minimum, rng.unit, text))
    return out


def plan_pages(plan: Plan) -> tuple[Page, ...]:
    """The pages a plan of its kind is sent as (what the controller will encode)."""
    if plan.kind is PlanKind.SECONDARY:
        return (plan.secondary_page(),)
    if plan.kind is PlanKind.BOLUS:
        return (plan.bolus_page(),)
    return plan.primary_pages()


def check_plan(plan: Plan) -> list[LimitCheck]:
    """Every field of every page the plan is sent as, against the bus."""
    return [check for page in plan_pages(plan) for check in check_page(page)]
