"""Titrate the running infusion: one new dose (or rate), shown old -> new in both units.

Everything else of the running plan (drug, concentration, weight, VTBI, end action) is kept, as
``ws.titrate`` does. A change to more than twice or less than half the current rate needs its
own tick, like a soft limit: 0.15 keyed as 1.5 is exactly that.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from channels import quantities
from channels.controller import ChannelError
from channels.druglib import fmt
from channels.plan import Plan
from channels.planning import PlanCheck, library_concentration
from tui.screens import form_parts as fp
from tui.screens.running_form import RunningInfusionForm
from workstation.api import Workstation

LARGE_CHANGE = 2.0  # new rate above 2x or below 1/2 of the current one


class TitrateScreen(RunningInfusionForm):
    WHAT, TITLE, ACTION = "titrate", "Titrate channel", "Titrate (Enter)"

    def __init__(self, ws: Workstation, letter: str, *, user: str) -> None:
        super().__init__(ws, letter, user=user)
        # H3: by dose only in the concentration really hanging, and only while the library
        # still has it; otherwise by rate (mL/h), the dose shown from the running concentration.
        self.dose_refused = ""
        running = self.running
        if running is not None and running.drug_id != "unknown":
            if self.drug is None:
                self.why_not = ""  # the drug left the library: rate only
            if running.dose_unit != "mL/h" and (
                    self.drug is None or library_concentration(self.drug, running) is None):
                self.dose_refused = (f"The running concentration {running.concentration} of "
                                     f"{running.drug_name} is no longer in the "
                                     f"{ws.care_area.name} drug library: titrate by rate "
                                     "(mL/h), or program the infusion again.")
        self.large_change = ""  # the large-change warning, when there is one
        self.unchanged = False  # the new value gives the rate running now

    def why_not_ready(self) -> str:
        why = super().why_not_ready()
        return why or ("the same rate as now: nothing would change" if self.unchanged else "")

    @property
    def by_dose(self) -> bool:
        return self.running is not None and self.running.dose_unit != "mL/h" and \
            self.running.dose is not None and not self.dose_refused

    @property
    def unit(self) -> str:
        return self.running.dose_unit if self.running and self.by_dose else "mL/h"

    @property
    def field_label(self) -> str:
        return "New dose" if self.by_dose else "New rate"

    def about(self, running: Plan) -> ComposeResult:
        yield Static(f"Running concentration: {running.concentration}", id="concentration")
        if self.dose_refused:
            yield Static(self.dose_refused, id="dose-refused", classes="form-notice")
        weight = f" for {fmt(running.weight_kg)} kg" if running.weight_kg else ""
        yield Static(f"Now: {fp.rate_and_dose(running)}{weight}", id="now",
                     classes="form-result")

    def evaluate(self) -> tuple[PlanCheck | None, list[str]]:
        """The check of the typed value (in the running concentration, as ``ws.titrate``
        does: H3), and hints on what is missing or wrong."""
        value = self.typed
        if value is None:
            return None, [f"Enter the new {'dose' if self.by_dose else 'rate'} in {self.unit}"]
        try:
            check = self.ws.check_titration(self.letter, dose=value if self.by_dose else None,
                                            rate_ml_h=None if self.by_dose else value)
        except ChannelError as exc:
            return None, [str(exc)]
        if check.blocked:
            return check, ["Not allowed: change the value"]
        return check, []

    def refresh_check(self) -> None:
        check, hints = self.evaluate()
        running = self.running
        assert running is not None
        self.check, self.large_change = check, ""
        plan = check.plan if check else None
        result = self.query_one("#result", Static)
        if plan is None:
            result.update(Content.from_markup("[dim]New: … (type the new value)[/]"))
        else:
            text = f"{quantities.tenths(running.rate_ml_h)} → {fp.rate_text(plan.rate_ml_h)}"
            if self.by_dose and running.dose is not None and plan.dose is not None:
                old, new = fp.pair(running.dose, plan.dose)
                text = f"{old} → {new} {plan.dose_unit} = {text}"
            result.update(Content.from_markup("New: [reverse] $text [/]", text=text))
            if plan.rate_ml_h == running.rate_ml_h:
                hints.append("Same rate as now: nothing would change")
            self.large_change = self._large_change(running.rate_ml_h, plan.rate_ml_h)
        messages: list[str] = []
        if check is not None and not check.blocked:
            messages = (check.problems() if check.needs_confirmation else []) + \
                ([self.large_change] if self.large_change else [])
        self.unchanged = plan is not None and plan.rate_ml_h == running.rate_ml_h
        self.show_checks(check, hints, messages, [self.large_change] if self.large_change else [])

    @staticmethod
    def _large_change(old: float, new: float) -> str:
        if old <= 0:
            return ""
        rates = f"{fp.rate_text(old)} → {fp.rate_text(new)}"
        if new > old * LARGE_CHANGE:
            return f"Large change: {rates} is more than twice the current rate"
        if new < old / LARGE_CHANGE:
            return f"Large change: {rates} is less than half the current rate"
        return ""

    def action_confirm(self) -> None:
        running, check = self.running, self.check
        if running is None or check is None or check.plan is None:
            return
        if self.changed_since_opened("titrate again"):
            return
        ws, letter, user, plan, value = self.ws, self.letter, self.user, check.plan, self.typed
        if self.large_change:
            # Not a library limit, so the API does not log it: the audit trail needs it.
            ws.record_user_action(f"{letter}: confirmed {self.large_change}", user=user)

        async def call() -> Plan:
            return await ws.titrate(letter, dose=value if self.by_dose else None,
                                    rate_ml_h=None if self.by_dose else value,
                                    confirm=check.needs_confirmation, user=user)

        self.send(call, f"Sending {fp.rate_and_dose(plan)} to channel {letter}… verifying "
                  "read-back, then applying without a pause",
                  lambda p: f"Channel {letter} titrated to {fp.rate_and_dose(p)}")
