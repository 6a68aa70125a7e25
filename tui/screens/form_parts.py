"""Shared parts of the programming dialogs: number fields, check lines, confirmations, sending.

Every number is shown with its unit, every limit check as a coloured line that also carries a
word (NOT ALLOWED / CONFIRM / OK) for monochrome terminals, and every soft limit or warning as a
checkbox the nurse must tick before the send button enables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Digits, Input, Label, RadioButton, Static

from channels import quantities
from channels.controller import ChannelError
from channels.druglib import Drug, fmt
from channels.limits import LimitCheck, Verdict
from channels.plan import Plan, PlanKind
from channels.planning import PlanCheck
from dbc.vocabulary import EndAction
from tui.widgets.inputs import GatedButton
from workstation.api import Workstation

STYLES = Path(str(files("tui.screens") / "forms.tcss"))  # package data
# Digits and one decimal point only: no sign, no exponent, nothing a gloved finger adds by mistake.
NUMBER = r"[0-9]*\.?[0-9]*"
_ORDER = {Verdict.HARD: 0, Verdict.SOFT: 1, Verdict.OK: 2}
_TAGS = {Verdict.HARD: ("$error", "✖ NOT ALLOWED"), Verdict.SOFT: ("$warning", "⚠ CONFIRM"),
         Verdict.OK: ("$success", "✔ OK")}


def parse_number(text: str) -> float | None:
    """A positive number typed by the nurse, or None (empty, '.', zero)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def rate_text(rate_ml_h: float) -> str:
    """'6.0 mL/h', '125 mL/h': the one rule for rates (channels.quantities)."""
    return quantities.rate(rate_ml_h)


def num(value: float) -> str:
    """A dose number by the one rule (3 significant figures), as the cards show doses."""
    return quantities.dose_number(value)


def dose_text(dose: float | None, unit: str) -> str:
    return quantities.dose(dose, unit)


def pair(old: float, new: float) -> tuple[str, str]:
    """Two numbers with the same decimals so the eye compares them: ('0.10', '0.15')."""
    a, b = num(old), num(new)
    places = max(len(x.partition(".")[2]) for x in (a, b))
    return f"{float(a):.{places}f}", f"{float(b):.{places}f}"


def duration_text(volume_ml: float, rate_ml_h: float) -> str:
    if rate_ml_h <= 0:
        return ""
    minutes = round(volume_ml / rate_ml_h * 60)
    if minutes < 1:
        return f"{round(volume_ml / rate_ml_h * 3600)} s"
    hours, mins = divmod(minutes, 60)
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


def extra_warnings(check: PlanCheck) -> list[str]:
    """Problems that are not limit checks: the duplicate-drug warning."""
    limit_messages = {c.message for c in check.checks}
    return [p for p in check.problems() if p not in limit_messages]


def rate_and_dose(plan: Plan) -> str:
    """'0.1 mcg/kg/min = 6.0 mL/h', or '100.0 mL/h' for a plain fluid."""
    dose = dose_text(plan.dose, plan.dose_unit)
    return f"{dose} = {rate_text(plan.rate_ml_h)}" if dose else rate_text(plan.rate_ml_h)


def plan_details(plan: Plan) -> str:
    """The review's plain-text lines: every number with its unit."""
    weight = f" for {fmt(plan.weight_kg)} kg" if plan.weight_kg else ""
    lines = [f"Dose and rate   {rate_and_dose(plan)}{weight}",
             f"VTBI            {quantities.volume(plan.vtbi_ml)} (about "
             f"{duration_text(plan.vtbi_ml, plan.rate_ml_h)})"]
    if plan.kind is PlanKind.SECONDARY:
        lines.append("When done       back to the primary"
                     + (", with a callback alarm" if plan.callback else ""))
    else:
        end = {EndAction.KVO: f"KVO at {rate_text(plan.kvo_ml_h)}",
               EndAction.STOP: "STOP the motor",
               EndAction.CONTINUE: f"CONTINUE at {rate_text(plan.rate_ml_h)}"}
        lines.append(f"When VTBI done  {end[plan.end_action]}")
    lines.append(f"Occlusion limit {plan.occlusion_mmhg} mmHg")
    return "\n".join(lines)


def live_result(plan: Plan | None, *, by_dose: bool, typed: float | None) -> Content:
    """'0.1 mcg/kg/min = 6.0 mL/h' with the computed side highlighted, and how long it runs."""
    if plan is None:
        return Content.from_markup("[dim]= … mL/h: fill in the form[/]")
    dose, rate = dose_text(plan.dose, plan.dose_unit), rate_text(plan.rate_ml_h)
    if not dose:
        line = Content.from_markup("= [reverse] $rate [/]", rate=rate)
    elif by_dose:
        line = Content.from_markup("$dose = [reverse] $rate [/]", dose=dose, rate=rate)
    else:
        line = Content.from_markup("$rate = [reverse] $dose [/]", dose=dose, rate=rate)
    if dose and by_dose and typed is not None and num(typed) != num(plan.dose or 0):
        line += Content(f"  (pump steps of 0.1 mL/h deliver {dose})")
    runs = duration_text(plan.vtbi_ml, plan.rate_ml_h)
    return line + Content(f"\nVTBI {quantities.volume(plan.vtbi_ml)} at {rate}: about {runs}")


def big_numbers(plan: Plan) -> Horizontal:
    """Dose and rate in 3-line digits, each followed by its unit."""
    parts: list[Widget] = []
    if dose_text(plan.dose, plan.dose_unit) and plan.dose is not None:
        parts += [Digits(num(plan.dose)), Label(f"{plan.dose_unit}  =")]
    parts += [Digits(quantities.tenths(plan.rate_ml_h)), Label("mL/h")]
    return Horizontal(*parts, classes="review-big")


def drug_option(drug: Drug) -> str:
    """'⚠ Noradrenaline (norepinephrine) (high alert)': synonyms so either name is found."""
    also = f" ({', '.join(drug.synonyms)})" if drug.synonyms else ""
    return f"⚠ {drug.name}{also} (high alert)" if drug.high_alert else f"{drug.name}{also}"


def check_lines(checks: Iterable[LimitCheck], warnings: Sequence[str] = (),
                hints: Sequence[str] = (), *, skip: Collection[str] = ()) -> Content:
    """One coloured line per check, worst first; warnings (duplicate drug, large change) are
    SOFT lines; hints say what is still missing. ``skip``: messages already shown as tick
    boxes."""
    lines = [(c.verdict, c.message) for c in checks]
    lines += [(Verdict.SOFT, w) for w in warnings]
    lines = [line for line in lines if line[1] not in skip]
    lines.sort(key=lambda line: _ORDER[line[0]])
    out = [Content.from_markup(f"[bold {_TAGS[v][0]}]{_TAGS[v][1]}[/] [{_TAGS[v][0]}]$m[/]",
                               m=message) for v, message in lines]
    out += [Content.from_markup("[bold]→[/] $m", m=hint) for hint in hints]
    return Content("\n").join(out)


def form_row(label: str, field: Widget, unit: str = "", *, row_id: str,
             unit_id: str | None = None) -> Horizontal:
    """Label, field and unit on one line: the unit sits right next to the number."""
    parts = [Label(label, classes="form-label", id=f"{row_id}-label"), field]
    if unit or unit_id:
        parts.append(Label(unit, classes="form-unit", id=unit_id))
    return Horizontal(*parts, classes="form-row", id=row_id)


TICK_HINT = "Tick a box with x (or Enter on it); Space is audio pause."


class Tick(Checkbox):
    """A checkbox whose box is empty when off: not ticked must not look ticked in monochrome.
    Space is the audio pause everywhere, so ``x`` (or Enter) ticks."""

    BUTTON_INNER = " "
    BINDINGS: ClassVar[list[BindingType]] = [Binding("x", "toggle_button", "Tick", show=False)]

    def watch_value(self) -> None:
        self.BUTTON_INNER = "✔" if self.value else " "
        super().watch_value()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Wrapped (see forms.tcss): what the nurse confirms is read in full, never cut short.
        return max(1, len(self.render().wrap(width)))


class Choice(RadioButton):
    """A radio button with an empty dot when off, for the same reason."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "●" if self.value else " "
        super().watch_value()


class Confirmations(Vertical):
    """A checkbox 'I confirm: <message>' per message. Ticks are kept per message text, so a
    changed dose (a new message) needs a new tick."""

    messages: reactive[tuple[str, ...]] = reactive((), recompose=True)

    def __init__(self, *, id: str = "confirmations") -> None:
        super().__init__(id=id)
        self._ticked: dict[str, bool] = {}

    def compose(self) -> ComposeResult:
        if self.messages:
            yield Static(TICK_HINT, classes="tick-hint")
        for i, message in enumerate(self.messages):
            yield Tick(f"I confirm: {message}", self._ticked.get(message, False),
                       id=f"confirm-{i}", name=message)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.name is not None:
            self._ticked[event.checkbox.name] = event.value

    @property
    def all_ticked(self) -> bool:
        return all(self._ticked.get(m, False) for m in self.messages)


class FormScreen(ModalScreen[Plan | None]):
    """Base of the programming dialogs: Esc closes (unless a command is in flight), a status
    line shows what is being sent, an API error is shown in red and nothing closes. The send
    button (#confirm) enables only for a checked, unblocked plan with every warning ticked."""

    CSS_PATH = STYLES
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    # Short terminals get a denser layout (see forms.tcss).
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen form-screen")
        self.busy = False
        self.stale = False  # what the nurse ticked no longer matches the checks
        self.check: PlanCheck | None = None

    def status_widgets(self) -> ComposeResult:
        yield Static("", id="status", classes="form-status")
        yield Static("", id="error", classes="error")
        yield Static("", id="why", classes="form-why")  # why the send button is greyed

    def footer(self, action: str, cancel: str = "Cancel (Esc)", *,
               ready: bool = False) -> ComposeResult:
        with Vertical(classes="form-footer"):
            yield from self.status_widgets()
            with Horizontal(classes="form-buttons"):
                yield GatedButton(action, id="confirm", why="" if ready else "…")
                yield Button(cancel, id="cancel")

    def close_only(self, message: str) -> ComposeResult:
        """A clear message and nothing to do but close: no form, so nothing can be sent."""
        yield Static(message, id="message", classes="form-message")
        with Horizontal(classes="form-buttons"):
            yield Button("Close (Esc)", id="cancel")

    def set_status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def set_error(self, text: str) -> None:
        self.query_one("#error", Static).update(text)

    def why_not_ready(self) -> str:
        """Why the send button cannot act now ("" when it can)."""
        check = self.check
        if self.busy:
            return "sending: wait for the pump's answer"
        if check is None:
            return "enter the value above"
        if check.blocked:
            return "not allowed: change the value above"
        if self.stale:
            return "the checks changed: go back (Esc) and review again"
        if not all(c.all_ticked for c in self.query(Confirmations)):
            return "tick each 'I confirm' box above (x)"
        return ""

    @property
    def ready(self) -> bool:
        return not self.why_not_ready()

    def update_buttons(self) -> None:
        if self.query("#confirm"):
            button = self.query_one("#confirm", GatedButton)
            self.show_gate(button, self.why_not_ready())
            self.query_one("#cancel", Button).disabled = self.busy

    def show_gate(self, button: GatedButton, why: str) -> None:
        button.gate(why)
        label = str(button.label).split(" (")[0]
        self.query_one("#why", Static).update(f"{label} is greyed: {why}" if why else "")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.update_buttons()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter sends when everything is ready; otherwise it goes to the first unticked box."""
        event.stop()
        if self.ready:
            self.action_confirm()
            return
        self.app.bell()
        ws, letter = getattr(self, "ws", None), getattr(self, "letter", None)
        if self.check is not None and self.check.blocked and isinstance(ws, Workstation) and \
                isinstance(letter, str):  # a hard-limit attempt: the pharmacy reviews these
            ws.record_blocked(letter, self.check, user=getattr(self, "user", None))
        unticked = [t for t in self.query(Tick) if not t.value]
        if self.check is not None and not self.check.blocked and unticked:
            unticked[0].focus()

    def action_confirm(self) -> None:
        """Send (subclasses)."""

    def action_cancel(self) -> None:
        if self.busy:
            # The command is already on the bus: closing now would hide its outcome.
            self.set_status("Wait: the pump has not answered yet.")
            return
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.action_cancel()
        elif event.button.id == "confirm" and self.ready:
            self.action_confirm()

    def send(self, call: Callable[[], Awaitable[Plan]], sending: str,
             done: Callable[[Plan], str]) -> None:
        """Run an API call off the input loop; dismiss with its plan, or show why it failed
        (the dialog stays open so nothing is lost)."""
        # Busy at once, not when the worker starts: a second Enter must not send twice.
        self.busy = True
        self.set_error("")
        self.set_status(sending)
        self.update_buttons()

        async def work() -> None:
            plan: Plan | None = None
            try:
                plan = await call()
            except ChannelError as exc:
                self.set_error(str(exc))
            except TimeoutError:
                self.set_error("The pump did not answer in time: check the channel before "
                               "trying again.")
            except Exception as exc:  # a crash here would take every channel's display down
                self.set_error(f"Unexpected error ({type(exc).__name__}: {exc}): check the "
                               "channel before trying again.")
            finally:
                self.busy = False
            if plan is None:
                self.set_status("")
                self.update_buttons()
                self.query_one("#cancel").focus()  # after a refusal, the safe key is Back
                return
            self.set_status("Done.")
            self.app.notify(done(plan), title="Confirmed by the pump", timeout=5)
            self.dismiss(plan)

        self.run_worker(work(), group="send", exit_on_error=False)
