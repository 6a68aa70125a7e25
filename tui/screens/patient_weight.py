"""The patient's weight (Ctrl+W): entered once for the workstation, with who and when.

Changing it while weight-based infusions run says, before anything changes, what happens to
each: the pump keeps its mL/h (nothing is sent), and the dose shown becomes what that rate is
at the new weight, with any library limit the new dose breaks. Every form uses this weight.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from channels.druglib import fmt
from tui.widgets.inputs import SpaceSafeInput
from workstation.api import Workstation
from workstation.weight_change import Reweighing

MIN_KG, MAX_KG = 0.3, 400.0  # the configuration's bounds for patient_weight_kg


def parse_kg(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if MIN_KG < value <= MAX_KG else None


def effect_lines(changes: list[Reweighing], new_kg: float | None) -> str:
    if new_kg is None:
        return f"Enter the patient's weight in kg ({MIN_KG:g} to {MAX_KG:g})."
    if not changes:
        return "No weight-based infusion is running: nothing else changes. Every new order " \
               "uses this weight."
    return "\n".join([
        "Weight-based infusions running: each pump KEEPS ITS mL/h (nothing is sent);",
        f"the dose shown becomes what that rate gives at {fmt(new_kg)} kg:",
        *(f"  {c.describe()}" for c in changes),
        "To give the ordered dose at the new weight, titrate each channel afterwards (5)."])


class PatientWeightScreen(ModalScreen[float | None]):
    """Returns the new weight once set (logged with the user), None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, ws: Workstation, *, user: str) -> None:
        super().__init__(classes="dialog-screen")
        self.ws, self.user = ws, user

    def compose(self) -> ComposeResult:
        now = self.ws.patient_weight
        when = f" at {time.strftime('%H:%M', time.localtime(now.set_at))}" \
            if now.kg is not None and now.set_at is not None else ""
        with Vertical(classes="dialog wide"):
            yield Label("Patient weight (one patient, every channel)", classes="dialog-title")
            yield Static(f"Now: {now.describe()}{when}", id="weight-now", markup=False)
            yield SpaceSafeInput("" if now.kg is None else fmt(now.kg), id="new-weight",
                                 restrict=r"[0-9.,]*", max_length=6, placeholder="kg")
            yield Static("", id="weight-effects", markup=False)
            yield Static("", id="weight-error", classes="error", markup=False)
            with Grid(classes="buttons"):
                yield Button("Cancel (Esc)", id="cancel")
                yield Button("Set weight, keep mL/h (Enter)", id="set", variant="warning")

    def on_mount(self) -> None:
        self._show()

    @property
    def new_kg(self) -> float | None:
        return parse_kg(self.query_one("#new-weight", Input).value)

    def _show(self) -> None:
        kg = self.new_kg
        changes = self.ws.preview_weight_change(kg) if kg is not None else []
        self.query_one("#weight-effects", Static).update(effect_lines(changes, kg))
        self.query_one("#set", Button).disabled = kg is None

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_set()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "set":
            self.action_set()
        else:
            self.action_cancel()

    def action_set(self) -> None:
        kg = self.new_kg
        if kg is None:
            self.query_one("#weight-error", Static).update(
                f"Not a weight: enter kg between {MIN_KG:g} and {MAX_KG:g}")
            return
        if kg == self.ws.patient_weight_kg:
            self.dismiss(None)  # unchanged: nothing to log
            return
        try:
            self.ws.change_patient_weight(kg, user=self.user)
        except ValueError as exc:
            self.query_one("#weight-error", Static).update(str(exc))
            return
        self.dismiss(kg)

    def action_cancel(self) -> None:
        self.dismiss(None)
