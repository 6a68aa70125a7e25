"""What the bolus and titrate forms share: both change the infusion running on a channel.

Each opens only on a channel infusing a drug it knows (else it says why and offers Close),
shows the drug and what runs now, takes one number (``#dose``) checked live through the API, and
refuses to send when the running program changed since it opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, Static

from channels.druglib import Drug
from channels.plan import Plan
from channels.planning import PlanCheck
from tui.screens import form_parts as fp
from tui.screens.form_parts import Confirmations, FormScreen, form_row
from tui.widgets.inputs import SpaceSafeInput
from workstation.api import Workstation

__all__ = ["HIGH_ALERT", "RunningInfusionForm", "running_infusion"]

HIGH_ALERT = "   ⚠ HIGH-ALERT DRUG"


def running_infusion(ws: Workstation, letter: str, what: str
                     ) -> tuple[Plan | None, Drug | None, str]:
    """The running plan and its drug, or a message saying why there is none."""
    plan = ws.running_plan(letter)
    if plan is None:
        return None, None, (f"Channel {letter} is not infusing ({ws.channel(letter).state}): "
                            f"nothing to {what}. Program it (1) and start it (2) first.")
    if plan.drug_id == "unknown":
        return plan, None, (f"Channel {letter} runs an adopted infusion without drug "
                            "information: program it (1) first.")
    try:
        return plan, ws.care_area.drug(plan.drug_id), ""
    except KeyError:
        return plan, None, (f"{plan.drug_name} is not in the {ws.care_area.name} drug "
                            "library: program it (1) first.")


class RunningInfusionForm(FormScreen):
    """One number for the running infusion. Subclasses give the title, the lines about what
    runs (``about``), the field's label and unit, the live check and the send."""

    AUTO_FOCUS = "#dose, #cancel"
    WHAT: ClassVar[str]  # what there is nothing to do when the channel is not infusing
    TITLE: ClassVar[str]  # "Titrate channel": the letter and the channel's label follow
    ACTION: ClassVar[str]  # the send button

    def __init__(self, ws: Workstation, letter: str, *, user: str) -> None:
        super().__init__()
        self.ws, self.letter, self.user = ws, letter, user
        self.running, self.drug, self.why_not = running_infusion(ws, letter, self.WHAT)

    @property
    def unit(self) -> str:
        raise NotImplementedError

    @property
    def field_label(self) -> str:
        raise NotImplementedError

    def about(self, running: Plan) -> ComposeResult:
        """Lines between the drug's name and the field."""
        raise NotImplementedError

    def refresh_check(self) -> None:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        snap = self.ws.channel(self.letter)
        running = self.running
        with Vertical(classes="form-dialog"):
            yield Label(f"{self.TITLE} {self.letter} · {snap.label}", classes="dialog-title")
            if running is None or self.why_not:
                yield from self.close_only(self.why_not)
                return
            with VerticalScroll(classes="form-body"):
                alert = HIGH_ALERT if running.high_alert else ""
                yield Static(f"{running.drug_name}{alert}", classes="review-drug")
                yield from self.about(running)
                yield form_row(self.field_label, SpaceSafeInput(restrict=fp.NUMBER,
                                                                max_length=8, id="dose",
                                                                compact=True),
                               self.unit, row_id="row-dose")
                yield Static("", id="result", classes="form-result")
                yield Confirmations()
                yield Static("", id="checks", classes="form-checks")
            yield from self.footer(self.ACTION)

    def on_mount(self) -> None:
        if self.query("#dose"):
            self.refresh_check()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_check()

    @property
    def typed(self) -> float | None:
        return fp.parse_number(self.query_one("#dose", Input).value)

    def show_checks(self, check: PlanCheck | None, hints: Sequence[str],
                    messages: Sequence[str], warnings: Sequence[str] = ()) -> None:
        """A tick box per message to confirm, a line per other check, warning and hint, and
        the send button's state."""
        self.query_one(Confirmations).messages = tuple(messages)
        extra = fp.extra_warnings(check) if check else []
        self.query_one("#checks", Static).update(fp.check_lines(
            check.checks if check else (), [*extra, *warnings], hints, skip=messages))
        self.update_buttons()

    def changed_since_opened(self, again: str) -> bool:
        """The channel no longer runs the plan this form opened on: nothing is sent, and the
        nurse is told to close and ``again``."""
        if self.ws.running_plan(self.letter) == self.running:
            return False
        self.stale = True
        self.set_error(f"The running program changed since this opened: close (Esc) and "
                       f"{again}.")
        self.update_buttons()
        return True
