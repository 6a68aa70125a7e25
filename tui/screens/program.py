"""Program a channel: the form with live limit checks, then a full-size review before sending.

The form never sends anything: ``ws.check`` recomputes the plan on every change, so the rate in
mL/h, the dose in its unit and every limit are visible while typing. Only the review screen
talks to the pump, after every soft limit and warning has been ticked.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Select, Static

from channels.druglib import Drug, fmt
from channels.plan import Plan, PlanKind
from channels.planning import InfusionOrder, PlanCheck
from dbc.vocabulary import EndAction
from tui.screens import form_parts as fp
from tui.screens.form_parts import FormScreen, form_row
from tui.screens.review import ReviewScreen
from tui.widgets.inputs import GatedButton, SpaceSafeInput
from workstation.api import Workstation

__all__ = ["END_OPTIONS", "ProgramScreen", "ReviewScreen"]  # the review: the second step

END_OPTIONS = [("KVO: keep the vein open", EndAction.KVO), ("STOP the motor", EndAction.STOP),
               ("CONTINUE at the same rate", EndAction.CONTINUE)]


class ProgramScreen(FormScreen):
    """Drug, concentration, weight, dose or rate, VTBI, end action (or callback): live check."""

    AUTO_FOCUS = "#find, #cancel"

    BINDINGS: ClassVar[list[BindingType]] = [*FormScreen.BINDINGS,
                                             Binding("enter", "review", "Review", show=False)]

    def __init__(self, ws: Workstation, letter: str, *, user: str,
                 kind: PlanKind = PlanKind.PRIMARY) -> None:
        super().__init__()
        self.ws, self.letter, self.user, self.kind = ws, letter, user, kind
        self.drugs = {d.id: d for d in ws.care_area.drugs}
        self.order: InfusionOrder | None = None
        self.check: PlanCheck | None = None
        self._vtbi_prefill = ""  # the VTBI we filled in: replaced when the container changes
        self._return_to: Widget | None = None  # the field to focus after Back from the review

    @property
    def secondary(self) -> bool:
        return self.kind is PlanKind.SECONDARY

    @property
    def drug(self) -> Drug | None:
        value = self.query_one("#drug", Select).value
        return self.drugs.get(value) if isinstance(value, str) else None

    @property
    def by_dose(self) -> bool:
        drug = self.drug
        return drug is not None and str(drug.dose_unit) != "mL/h" and \
            not self.query_one("#by-rate", RadioButton).value

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        snap = self.ws.channel(self.letter)
        what = "Secondary infusion on" if self.secondary else "Program"
        with Vertical(classes="form-dialog"):
            yield Label(f"{what} channel {self.letter} · {snap.label}", classes="dialog-title")
            if self.secondary and self.ws.config.channel(self.letter).kind == "syringe":
                yield from self.close_only(f"Channel {self.letter} is a syringe module: it has "
                                           "no secondary. Use a volumetric channel.")
                return
            yield Static(self._notice(), id="notice", classes="form-notice")
            with VerticalScroll(classes="form-body"):
                yield from self._fields()
                yield Static("", id="result", classes="form-result")
                yield Static("", id="checks", classes="form-checks")
            with Vertical(classes="form-footer"):
                yield from self.status_widgets()
                with Horizontal(classes="form-buttons"):
                    yield GatedButton("Review (Enter)", id="review", variant="primary",
                                      why="fill in the form")
                    yield Button("Cancel (Esc)", id="cancel")

    def _fields(self) -> ComposeResult:
        drugs = [(fp.drug_option(d), d.id) for d in self.drugs.values()]
        weight = self.ws.patient_weight_kg  # the workstation's one patient weight (H10)
        # Type-to-search shown as a field: any word of the name or of another name
        # (noradrenaline / norepinephrine), matched by the library's own search.
        yield form_row("Find drug", SpaceSafeInput(placeholder="type a name (or other name)",
                                                   id="find", compact=True),
                       row_id="row-find", unit_id="find-count")
        yield form_row("Drug", Select(drugs, prompt="Choose the drug (or type in Find)",
                                      id="drug", compact=True), row_id="row-drug")
        yield form_row("Concentration", Select[int]([], prompt="Choose the concentration",
                                                    id="concentration", compact=True),
                       row_id="row-concentration")
        # Locked to the workstation's weight once set: Ctrl+W changes it, for every channel.
        yield form_row("Patient weight", SpaceSafeInput("" if weight is None else fmt(weight),
                                               restrict=fp.NUMBER, max_length=6, id="weight",
                                               compact=True, disabled=weight is not None),
                       "kg" if weight is None else "kg (Ctrl+W)", row_id="row-weight")
        yield form_row("Program by", RadioSet(fp.Choice("Dose", True, id="by-dose"),
                                              fp.Choice("Rate (mL/h)", id="by-rate"),
                                              id="mode"), row_id="row-mode")
        yield form_row("Dose", SpaceSafeInput(restrict=fp.NUMBER, max_length=8, id="dose",
                                              compact=True),
                       row_id="row-dose", unit_id="dose-unit")
        yield form_row("VTBI", SpaceSafeInput(restrict=fp.NUMBER, max_length=7, id="vtbi",
                                              compact=True),
                       "mL", row_id="row-vtbi")
        if self.secondary:
            yield form_row("Callback", fp.Tick("Alarm when the secondary is done",
                                               id="callback"), row_id="row-callback")
        else:
            yield form_row("When VTBI is done", Select(END_OPTIONS, value=EndAction.KVO,
                                                       allow_blank=False, id="end-action",
                                                       compact=True), row_id="row-end")

    def _notice(self) -> str:
        snap = self.ws.channel(self.letter)
        if not snap.online:
            return f"Channel {self.letter} has no pump answering ({snap.state}): sending will " \
                   "fail until it is back."
        if self.secondary and snap.state not in ("INFUSING", "KVO"):
            return "The primary is not running: a secondary starts only on top of a running " \
                   "primary."
        if not self.secondary and snap.state in ("INFUSING", "KVO", "PAUSED"):
            return f"Channel {self.letter} runs {snap.drug or 'an infusion'}: this program " \
                   "replaces it when started (5 Titrate changes only the dose)."
        return ""

    def on_mount(self) -> None:
        if not self.query("#drug"):
            return
        self.query_one("#notice").display = bool(self._notice())
        self._drug_changed()
        # Live even when nobody types: a duplicate drug started elsewhere shows up here.
        self.set_interval(1.0, self.refresh_check)

    # -- reacting to the nurse -------------------------------------------------------------
    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "drug":
            self._drug_changed()
        elif event.select.id == "concentration":
            self._prefill_vtbi()
        self.refresh_check()
        if event.select.has_focus_within:  # chosen from the keyboard: on to what is left
            self.call_after_refresh(self._next_empty_field)

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        # A number typed as a dose must never silently become a rate, or the reverse.
        self.query_one("#dose", Input).value = ""
        self._mode_changed()
        self.refresh_check()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "find":
            self._find(event.value)
            return
        self.refresh_check()

    def _find(self, text: str) -> None:
        """List the drugs the typed text finds; one match is chosen at once."""
        found = self.ws.care_area.search(text)
        select = self.query_one("#drug", Select)
        current = select.value
        select.set_options([(fp.drug_option(d), d.id) for d in found])
        if len(found) == 1:
            select.value = found[0].id
        elif isinstance(current, str) and current in {d.id for d in found}:
            select.value = current
        count = "" if not text.strip() else (f"{len(found)} found" if found else "none found")
        self.query_one("#find-count", Label).update(count)

    # Textual also runs FormScreen's handlers for these unless prevent_default() is called.
    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.prevent_default()
        self.refresh_check()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.prevent_default()
        if event.input.id == "find":  # Enter in Find goes on to the form, never to Review
            self._next_empty_field()
            return
        self.action_review()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        event.prevent_default()
        if event.button.id == "review":
            self.action_review()
        elif event.button.id == "cancel":
            self.action_cancel()

    def _next_empty_field(self) -> None:
        """Focus the first field still to fill (the drug, its container, the dose), so
        found-and-chosen goes straight on to the dose."""
        for selector in ("#drug", "#concentration", "#weight", "#dose", "#vtbi"):
            field = self.query_one(selector)
            value = getattr(field, "value", None)
            empty = value is None or value == "" or value is Select.NULL
            if field.display and field.parent is not None and field.parent.display and empty:
                field.focus()
                return
        self.query_one("#review").focus()

    def _drug_changed(self) -> None:
        drug = self.drug
        concentration = self.query_one("#concentration", Select)
        # Only containers this module takes: no 500 mL bag on a syringe driver (H10).
        kind = self.ws.config.channel(self.letter).kind
        options = [(c.label, i) for i, c in enumerate(drug.concentrations)
                   if c.module_kind == kind] if drug else []
        concentration.set_options(options)
        if len(options) == 1:
            concentration.value = options[0][1]  # the only container: nothing to choose
        dosed = drug is not None and str(drug.dose_unit) != "mL/h"
        self.query_one("#row-weight").display = drug is not None and drug.needs_weight
        self.query_one("#row-mode").display = dosed
        by_dose = self.query_one("#by-dose", RadioButton)
        by_dose.label = f"Dose ({drug.dose_unit})" if drug and dosed else "Dose"
        by_dose.value = True  # a new drug starts by dose
        self.query_one("#by-rate", RadioButton).value = False
        self.query_one("#dose", Input).value = ""
        self._prefill_vtbi()
        self._mode_changed()

    def _mode_changed(self) -> None:
        drug, by_dose = self.drug, self.by_dose
        self.query_one("#row-dose-label", Label).update("Dose" if by_dose else "Rate")
        self.query_one("#dose-unit", Label).update(
            str(drug.dose_unit) if by_dose and drug else "mL/h")

    def _prefill_vtbi(self) -> None:
        """The container's volume, unless the nurse typed another VTBI."""
        vtbi = self.query_one("#vtbi", Input)
        if vtbi.value not in ("", self._vtbi_prefill):
            return
        drug, index = self.drug, self.query_one("#concentration", Select).value
        volume = fmt(drug.concentrations[index].volume_ml) \
            if drug and isinstance(index, int) and index < len(drug.concentrations) else ""
        vtbi.value = self._vtbi_prefill = volume

    # -- live check ------------------------------------------------------------------------
    def build_order(self) -> tuple[InfusionOrder | None, list[str]]:
        """The order on the form, or what is still missing."""
        drug = self.drug
        if drug is None:
            return None, ["Choose the drug"]
        missing = []
        index = self.query_one("#concentration", Select).value
        kind = self.ws.config.channel(self.letter).kind
        if not any(c.module_kind == kind for c in drug.concentrations):
            other = "volumetric" if kind == "syringe" else "syringe"
            missing.append(f"No {drug.name} concentration fits a {kind} module: use a "
                           f"{other} channel")
        elif not isinstance(index, int):
            missing.append("Choose the concentration (the container in your hand)")
        weight = None
        if drug.needs_weight:
            weight = fp.parse_number(self.query_one("#weight", Input).value)
            if weight is None:
                missing.append("Enter the patient's weight in kg")
        value = fp.parse_number(self.query_one("#dose", Input).value)
        if value is None:
            missing.append(f"Enter the dose in {drug.dose_unit}" if self.by_dose
                           else "Enter the rate in mL/h")
        vtbi = fp.parse_number(self.query_one("#vtbi", Input).value)
        if vtbi is None:
            missing.append("Enter the VTBI in mL")
        if missing or value is None or vtbi is None or not isinstance(index, int):
            return None, missing
        end = EndAction.KVO if self.secondary else self.query_one("#end-action", Select).value
        try:
            order = InfusionOrder(
                drug_id=drug.id, concentration=index, vtbi_ml=vtbi, weight_kg=weight,
                dose=value if self.by_dose else None,
                rate_ml_h=None if self.by_dose else value,
                end_action=end if isinstance(end, EndAction) else EndAction.KVO,
                callback=self.secondary and self.query_one("#callback", Checkbox).value)
        except ValidationError as exc:
            return None, [str(e["msg"]) for e in exc.errors()]
        return order, []

    def refresh_check(self) -> None:
        if not self.is_mounted or not self.query("#drug"):
            return
        order, hints = self.build_order()
        check = self.ws.check(self.letter, order, kind=self.kind) if order else None
        self.order, self.check = order, check
        typed = fp.parse_number(self.query_one("#dose", Input).value)
        self.query_one("#result", Static).update(
            fp.live_result(check.plan if check else None, by_dose=self.by_dose, typed=typed))
        if check is not None and check.blocked:
            hints.append("Not allowed: change the values above")
        elif check is not None and check.needs_confirmation:
            hints.append("You will confirm each warning on the review screen")
        self.query_one("#checks", Static).update(fp.check_lines(
            check.checks if check else (), fp.extra_warnings(check) if check else (), hints))
        drug = self.drug
        self.query_one(".form-dialog").set_class(bool(drug and drug.high_alert), "-high-alert")
        self.update_buttons()

    def update_buttons(self) -> None:
        why = ""
        if self.check is None:
            why = "fill in the form (see the → lines)"
        elif self.check.blocked:
            why = "not allowed: change the values above"
        self.show_gate(self.query_one("#review", GatedButton), why)

    def action_review(self) -> None:
        if not self.query("#review"):
            return
        self.refresh_check()
        if self.order is None or self.check is None or self.check.blocked:
            if self.order is not None and self.check is not None:  # a hard-limit attempt
                self.ws.record_blocked(self.letter, self.check, user=self.user,
                                       drug=self.order.drug_id)
            self.app.bell()
            return
        # Hidden under the review: one dialog at a time, the channels and alarms behind it.
        # Back returns to the field Enter was pressed in (never the drug list: H: a stray
        # Enter there would open it and the next keys change the drug).
        self._return_to = self.focused
        self.query_one(".form-dialog").styles.visibility = "hidden"
        self.app.push_screen(ReviewScreen(self.ws, self.letter, self.order, kind=self.kind,
                                          user=self.user), self._reviewed)

    def _reviewed(self, plan: Plan | None) -> None:
        if plan is not None:
            self.dismiss(plan)
            return
        self.query_one(".form-dialog").styles.visibility = "visible"
        back = self._return_to
        if back is not None and back.is_attached:
            self.call_after_refresh(back.focus)
