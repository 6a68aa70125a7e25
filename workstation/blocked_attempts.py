"""Hard-limit attempts as events: who tried which drug at what value against which limit.

The pharmacy reviews these to tune the library (a limit hit every night is wrong, or a dose
is being misunderstood). Pure: builds the event; the workstation records it.
"""

from __future__ import annotations

from channels.druglib import fmt
from channels.events import Event, EventKind
from channels.limits import Verdict
from channels.planning import PlanCheck

MARK = "hard limit"  # in every such message: icu-ws log --grep "hard limit"


def blocked_event(letter: str, check: PlanCheck, *, user: str | None, drug: str = "") -> Event:
    plan = check.plan
    name = plan.drug_name if plan is not None else (drug or "unknown drug")
    hard = [c for c in check.checks if c.verdict is Verdict.HARD]
    limits = [{"field": c.field, "value": c.value, "limit": c.limit, "unit": c.unit,
               "message": c.message} for c in hard]
    values = "; ".join(
        f"{c.field} {fmt(c.value)} {c.unit}".rstrip()
        + (f" against limit {fmt(c.limit)} {c.unit}".rstrip() if c.limit is not None else "")
        + f" ({c.message})" for c in hard) or "; ".join(check.problems())
    return Event(EventKind.PROGRAM, f"{letter}: {MARK}: {name}: blocked: {values}",
                 channel=letter, user=user,
                 data={"step": "blocked", "drug_id": plan.drug_id if plan else drug,
                       "limits": limits})
