"""The review before sending a program: the whole plan, large, with a tick per soft limit or
warning. Opened by ``ProgramScreen`` (``tui.screens.program``) over the hidden form; only this
screen sends, and only if the checks are still those the nurse ticked.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from channels.plan import Plan, PlanKind
from channels.planning import InfusionOrder, PlanCheck
from tui.screens import form_parts as fp
from tui.screens.form_parts import Confirmations, FormScreen
from workstation.api import Workstation

__all__ = ["ReviewScreen"]


class ReviewScreen(FormScreen):
    """The whole plan, large, with a tick per soft limit or warning; sends and verifies."""

    # The first box to tick, else the send button (so Enter starts), else Back.
    AUTO_FOCUS = "Tick, #confirm, #cancel"

    def __init__(self, ws: Workstation, letter: str, order: InfusionOrder, *,
                 kind: PlanKind, user: str) -> None:
        super().__init__()
        self.ws, self.letter, self.order, self.kind, self.user = ws, letter, order, kind, user
        self.check: PlanCheck | None = ws.check(letter, order, kind=kind)

    def compose(self) -> ComposeResult:
        check, snap = self.check, self.ws.channel(self.letter)
        assert check is not None  # set in __init__
        plan = check.plan
        action = "Confirm and start" + (" secondary" if self.kind is PlanKind.SECONDARY else "")
        alert = plan is not None and plan.high_alert
        with Vertical(classes="form-dialog" + (" -high-alert" if alert else "")):
            yield Label(f"Review: channel {self.letter} · {snap.label}", classes="dialog-title")
            if plan is None or check.blocked:
                yield from self.close_only("Not allowed: " + "; ".join(check.problems()))
                return
            with VerticalScroll(classes="form-body"):
                yield Static(plan.drug_name + ("   ⚠ HIGH-ALERT DRUG" if alert else ""),
                             id="review-drug", classes="review-drug")
                yield Static(plan.concentration, id="review-concentration")
                if plan.notes:  # the library's advisory, e.g. "central line only" (H10)
                    yield Static(f"ⓘ {plan.notes}", id="review-notes", classes="form-notice")
                yield fp.big_numbers(plan)
                yield Static(fp.plan_details(plan), id="review-details")
                # Each soft limit or warning is a tick box stating it; nothing else to read.
                messages = check.problems() if check.needs_confirmation else []
                if not messages:
                    yield Static(fp.check_lines([], hints=["Within every drug-library limit"]))
                confirmations = Confirmations()
                confirmations.set_reactive(Confirmations.messages, tuple(messages))
                yield confirmations
            yield from self.footer(action, "Back (Esc)", ready=not messages)

    def on_mount(self) -> None:
        self.update_buttons()

    def action_confirm(self) -> None:
        now, then = self.ws.check(self.letter, self.order, kind=self.kind), self.check
        if then is None or now.plan != then.plan or now.problems() != then.problems():
            # Another channel started the same drug, say: what was ticked is not what is true.
            self.stale = True
            self.set_error("The checks changed since this review opened: go back (Esc) and "
                           "review again.")
            self.update_buttons()
            return
        ws, letter, order, user = self.ws, self.letter, self.order, self.user
        confirm = now.needs_confirmation

        async def call() -> Plan:
            if self.kind is PlanKind.SECONDARY:
                return await ws.secondary(letter, order, confirm=confirm, user=user)
            plan = await ws.program(letter, order, confirm=confirm, user=user)
            self.set_status(f"Read-back verified. Starting channel {letter}…")
            await ws.start(letter, user=user)
            return plan

        self.send(call, f"Sending to channel {letter}… verifying read-back",
                  lambda p: f"Channel {letter} started: {p.drug_name} {fp.rate_and_dose(p)}")
