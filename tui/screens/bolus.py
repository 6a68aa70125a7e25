"""A bolus of the running drug on top of the infusion, within the library's bolus limits.

The limits are shown before anything is typed; the volume the dose needs, the rate and the
time it takes are shown live, checked by the same ``check_bolus_order`` that ``ws.bolus`` uses.
"""

from __future__ import annotations

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from channels import quantities
from channels.druglib import BolusLimits, fmt
from channels.plan import Plan
from channels.planning import BolusOrder, PlanCheck
from tui.screens import form_parts as fp
from tui.screens.form_parts import num
from tui.screens.running_form import RunningInfusionForm
from workstation.api import Workstation


def limits_text(bolus: BolusLimits, weight_kg: float | None) -> str:
    """'Bolus limits: at most 100 mcg per bolus, given at 300.0 mL/h; ...'."""
    unit = bolus.dose_unit
    total = f" ({fmt(bolus.max_dose * weight_kg)} {unit.amount} for {fmt(weight_kg)} kg)" \
        if unit.per_kg and weight_kg else ""
    interval = f"; at least {fmt(bolus.min_interval_min)} min between boluses" \
        if bolus.min_interval_min else ""
    hourly = []
    if bolus.max_doses_per_hour:
        hourly.append(f"{bolus.max_doses_per_hour} boluses")
    if bolus.max_amount_per_hour:
        hourly.append(f"{fmt(bolus.max_amount_per_hour)} {unit}")
    per_hour = f"; at most {' and '.join(hourly)} per hour" if hourly else ""
    return (f"Bolus limits: at most {fmt(bolus.max_dose)} {unit}{total} per bolus, given at "
            f"{fp.rate_text(bolus.rate_ml_h)}{interval}{per_hour}")


class BolusScreen(RunningInfusionForm):
    WHAT, TITLE, ACTION = "bolus", "Bolus on channel", "Give bolus (Enter)"

    def __init__(self, ws: Workstation, letter: str, *, user: str) -> None:
        super().__init__(ws, letter, user=user)
        if self.drug is not None and self.drug.bolus is None:
            self.why_not = f"No bolus is set up for {self.drug.name} in the " \
                           f"{ws.care_area.name} drug library: no bolus from the pump."
        self.order: BolusOrder | None = None

    @property
    def unit(self) -> str:
        bolus = self.drug.bolus if self.drug else None
        return str(bolus.dose_unit) if bolus else "mL"

    @property
    def field_label(self) -> str:
        # A dose in the bolus unit; for an mL unit that is a volume, still checked against
        # the maximum (a volume order would skip it, see check_bolus_order).
        return "Bolus volume" if self.unit == "mL" else "Bolus dose"

    def about(self, running: Plan) -> ComposeResult:
        assert self.drug is not None and self.drug.bolus is not None  # else why_not is set
        yield Static(f"{running.concentration}, running at {fp.rate_and_dose(running)}")
        yield Static(limits_text(self.drug.bolus, running.weight_kg), id="limits",
                     classes="form-notice")

    def evaluate(self) -> tuple[PlanCheck | None, list[str]]:
        running, drug = self.running, self.drug
        assert running is not None and drug is not None
        value = self.typed
        self.order = None
        if value is None:
            what = "volume" if self.unit == "mL" else "dose"
            return None, [f"Enter the bolus {what} in {self.unit}"]
        try:
            self.order = BolusOrder(dose=value)
        except ValidationError as exc:
            return None, [str(e["msg"]) for e in exc.errors()]
        # The API's own check: lockout and hourly limits (H4), rate caps (H8), the running
        # concentration (H3), exactly as ``ws.bolus`` will judge it.
        check = self.ws.check_bolus(self.letter, self.order)
        return check, ["Not allowed: change the bolus"] if check.blocked else []

    def refresh_check(self) -> None:
        check, hints = self.evaluate()
        self.check = check
        plan = check.plan if check else None
        result = self.query_one("#result", Static)
        if plan is None or check is None:
            result.update(Content.from_markup("[dim]= … mL (type the bolus)[/]"))
        else:
            result.update(Content.from_markup("$what = [reverse] $volume [/] at $rate, over "
                                              "about $time", what=self._what(plan),
                                              volume=quantities.volume(plan.vtbi_ml),
                                              rate=fp.rate_text(plan.rate_ml_h),
                                              time=fp.duration_text(plan.vtbi_ml,
                                                                    plan.rate_ml_h)))
        messages = check.problems() if check is not None and check.needs_confirmation else []
        self.show_checks(check, hints, messages)

    def _what(self, plan: Plan) -> str:
        bolus, weight = self.drug.bolus if self.drug else None, plan.weight_kg
        if plan.dose is None or bolus is None or self.unit == "mL":
            return "Bolus"
        total = f" ({num(plan.dose * weight)} {bolus.dose_unit.amount} for {fmt(weight)} kg)" \
            if bolus.dose_unit.per_kg and weight else ""
        return f"Bolus {num(plan.dose)} {plan.dose_unit}{total}"

    def action_confirm(self) -> None:
        running, check, order = self.running, self.check, self.order
        if running is None or check is None or check.plan is None or order is None:
            return
        if self.changed_since_opened("start again"):
            return
        ws, letter, user, volume = self.ws, self.letter, self.user, check.plan.vtbi_ml

        async def call() -> Plan:
            return await ws.bolus(letter, order, confirm=check.needs_confirmation, user=user)

        self.send(call, f"Sending the bolus ({quantities.volume(volume)}) to channel {letter}… "
                  "verifying read-back",
                  lambda p: f"Channel {letter}: bolus of {quantities.volume(p.vtbi_ml)} at "
                            f"{fp.rate_text(p.rate_ml_h)} started")
