"""What the bus can carry: every program field against its DBC signal range, before sending.

The ranges are read from the DBC (``workstation.dbc.load_database``), never re-typed: the
signal's minimum and maximum, clipped to what its bits can hold at its scale. A plan with a
field the bus cannot encode is refused here with a reason (a HARD ``LimitCheck``) instead of
failing in the codec after part of it was sent (H13: a KVO of 25 mL/h with end action STOP
reached the encoder and killed the supervisor's tick task).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from channels.limits import LimitCheck, Verdict
from channels.plan import Plan, PlanKind
from workstation.dbc import load_database, split_name
from workstation.frames import BolusPage, Page, PrimaryPage, SecondaryPage, SettingsPage

PROGRAM_MESSAGE = "Program"  # the DBC message that carries every program page
_LABELS = {"rate_ml_h": "Rate", "vtbi_ml": "VTBI", "kvo_rate_ml_h": "KVO",
           "occlusion_limit_mmhg": "Occlusion limit", "air_limit_ul": "Air limit",
           "volume_ml": "Bolus volume", "end_action": "End action", "callback": "Callback"}
_PAGE_NAMES = {PrimaryPage: "primary", SettingsPage: "settings", BolusPage: "bolus",
               SecondaryPage: "secondary"}


@dataclass(frozen=True)
class FieldRange:
    """One page field's signal: the physical range the bus carries and its step."""

    signal: str
    minimum: float
    maximum: float
    scale: float
    unit: str


@functools.cache
def _ranges() -> dict[tuple[type[Page], str], FieldRange]:
    db = load_database()
    message = next((m for m in db.messages if split_name(m.name)[0] == PROGRAM_MESSAGE), None)
    if message is None:
        raise LookupError(f"the DBC has no {PROGRAM_MESSAGE} message: cannot check programs")
    out: dict[tuple[type[Page], str], FieldRange] = {}
    for page in (PrimaryPage, SettingsPage, BolusPage, SecondaryPage):
        for field, name in page.SIGNALS.items():
            signal = message.get_signal_by_name(name)
            scale, offset = float(signal.scale), float(signal.offset)
            # What the bits can hold, in case the DBC's stated range is wider than its field.
            raw_max = (1 << signal.length) - 1 if not signal.is_signed \
                else (1 << (signal.length - 1)) - 1
            raw_min = 0 if not signal.is_signed else -(1 << (signal.length - 1))
            low = raw_min * scale + offset if signal.minimum is None \
                else max(float(signal.minimum), raw_min * scale + offset)
            high = raw_max * scale + offset if signal.maximum is None \
                else min(float(signal.maximum), raw_max * scale + offset)
            out[(page, field)] = FieldRange(name, low, high, scale, signal.unit or "")
    return out


def field_range(page: type[Page], field: str) -> FieldRange:
    """The bus range of one page field (KeyError names the field when it has no signal)."""
    try:
        return _ranges()[(page, field)]
    except KeyError:
        raise KeyError(f"{page.__name__}.{field} has no signal in the DBC "
                       f"{PROGRAM_MESSAGE} message") from None


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
