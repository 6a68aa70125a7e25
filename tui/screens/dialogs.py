"""Small dialogs: yes/no, a message, PIN, help, and the action menu of a channel."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from dbc.errors import InfusionError
from tui.widgets.inputs import SpaceSafeInput
from workstation.login_guard import LoginGuard, Verdict
from workstation.users import NAME, User, UserStore

ACTIONS = [("program", "1 Program"), ("start", "2 Start"), ("pause", "3 Pause"),
           ("stop", "4 Stop"), ("titrate", "5 Titrate"), ("bolus", "6 Bolus"),
           ("secondary", "7 Secondary"), ("acknowledge", "8 Acknowledge")]


def fmt_duration(seconds: float) -> str:
    """'5 min', '90 s': how the help states a duration."""
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("y", "yes", "Yes")]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.question, self.detail = question, detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            if self.detail:
                yield Static(self.detail)
            with Grid(classes="buttons"):
                yield Button("No (Esc)", id="no")
                yield Button("Yes (Y)", id="yes", variant="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class MessageScreen(ModalScreen[None]):
    """Something the nurse must read (an action that failed unexpectedly); Esc or OK closes."""

    BINDINGS = [Binding("escape,enter", "close", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.text, id="message-text", markup=False)
            with Grid(classes="buttons"):
                yield Button("OK (Enter)", id="ok", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class PinScreen(ModalScreen[User | None]):
    """Unlock as a named user: user name, then PIN. Wrong answers say so and stay, with the
    rate limit and lock-out of ``LoginGuard``; every failure is logged (``record``). Esc
    leaves it locked. Returns the user."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, users: UserStore, guard: LoginGuard,
                 record: Callable[[str], None], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(classes="dialog-screen")
        self.users, self.guard, self.record, self.clock = users, guard, record, clock

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Unlock: your user name, Enter, then your PIN", classes="dialog-title")
            yield SpaceSafeInput(id="user", placeholder="user name (e.g. rn-jones)",
                                 restrict=r"[a-zA-Z0-9._-]*", max_length=32)
            yield SpaceSafeInput(password=True, id="pin", placeholder="PIN", restrict=r"[0-9]*",
                                 max_length=12)
            yield Static("", id="pin-error", classes="error", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = self.query_one("#user", Input).value.strip().lower()
        if event.input.id == "user" or not name:
            self.query_one("#pin" if name else "#user", Input).focus()
            return
        pin = event.input.value
        event.input.value = ""
        self._attempt(name, pin)

    def _attempt(self, name: str, pin: str) -> None:
        error = self.query_one("#pin-error", Static)
        limit = self.guard.max_failures
        now = self.clock()
        allowed = self.guard.may_try(name, now)
        if allowed.verdict is not Verdict.OK:
            error.update(allowed.message(limit))
            return
        try:
            if not self.users.users():
                error.update(f"No users yet in {self.users.path}: add one with "
                             "icu-ws user add NAME --role nurse")
                return
            user = self.users.verify(name, pin)
        except InfusionError as exc:  # unreadable users file: say which and why
            error.update(str(exc))
            return
        if user is not None:
            self.guard.succeeded(name)
            self.dismiss(user)
            return
        outcome = self.guard.failed(name, now)
        # A PIN typed into the name field is not a name: never write it to the log.
        shown = repr(name) if NAME.fullmatch(name) else "(not a user name)"
        self.record(f"unlock refused for user name {shown}: wrong user or PIN "
                    f"(failure {outcome.failures} of {limit})"
                    + (f"; locked out for {outcome.wait_s:g} s"
                       if outcome.verdict is Verdict.LOCKED_OUT else ""))
        error.update(outcome.message(limit))

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, bindings: Sequence[BindingType], *, demo: bool,
                 relock_s: float | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self._keys = [b for b in bindings if isinstance(b, Binding)]
        self._demo = demo
        self._relock_s = relock_s

    def compose(self) -> ComposeResult:
        lines = ["Select a channel: its letter (two letters quickly for AA..), or the arrows.",
                 ""]
        for b in self._keys:
            if b.action.startswith("move") or (b.action == "simulator" and not self._demo):
                continue
            keys = " or ".join(k.strip().replace("_", " ") for k in b.key.split(","))
            lines.append(f"{keys:<22} {b.description}")
        lines += ["", "When locked: Space (audio pause), the arrows and ? still work.",
                  "Unlock: Ctrl+K, your user name, Enter, your PIN, Enter (users: icu-ws user "
                  "add). Every action is logged with your name."]
        if self._relock_s is not None:
            lines.append(f"Auto-lock: after {fmt_duration(self._relock_s)} without a key "
                         "([ui] relock_s).")
        lines += ["In the program form: type in Find drug to search (other names too, e.g.",
                  "norepinephrine); x (or Enter) ticks a confirmation box, since Space is",
                  "always audio pause."]
        lines.append("Esc closes a dialog without changing anything.")
        with Vertical(classes="dialog wide"):
            yield Label("Keys", classes="dialog-title")
            yield Static("\n".join(lines), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)


class ActionMenuScreen(ModalScreen[str | None]):
    """Big buttons for one channel: easy with gloves, and with a mouse."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, letter: str) -> None:
        super().__init__(classes="dialog-screen")
        self.letter = letter

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Channel {self.letter}", classes="dialog-title")
            with Grid(id="action-grid"):
                for action, label in ACTIONS:
                    yield Button(label, id=f"do-{action}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("do-") or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
