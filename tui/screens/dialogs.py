"""Small dialogs: yes/no, a message, PIN, help, and the action menu of a channel."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.widgets.inputs import SpaceSafeInput

ACTIONS = [("program", "1 Program"), ("start", "2 Start"), ("pause", "3 Pause"),
           ("stop", "4 Stop"), ("titrate", "5 Titrate"), ("bolus", "6 Bolus"),
           ("secondary", "7 Secondary"), ("acknowledge", "8 Acknowledge")]


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


class PinScreen(ModalScreen[bool]):
    """Unlock the keypad. A wrong PIN says so and stays; Esc leaves it locked."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, pin: str) -> None:
        super().__init__(classes="dialog-screen")
        self._pin = pin

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Unlock: enter the PIN", classes="dialog-title")
            yield SpaceSafeInput(password=True, id="pin", placeholder="PIN", restrict=r"[0-9]*",
                        max_length=8)
            yield Static("", id="pin-error", classes="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value == self._pin:
            self.dismiss(True)
            return
        self.query_one("#pin-error", Static).update("Wrong PIN")
        event.input.value = ""

    def action_cancel(self) -> None:
        self.dismiss(False)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, bindings: Sequence[BindingType], *, demo: bool) -> None:
        super().__init__(classes="dialog-screen")
        self._keys = [b for b in bindings if isinstance(b, Binding)]
        self._demo = demo

    def compose(self) -> ComposeResult:
        lines = ["Select a channel: its letter (two letters quickly for AA..), or the arrows.",
                 ""]
        for b in self._keys:
            if b.action.startswith("move") or (b.action == "simulator" and not self._demo):
                continue
            keys = " or ".join(k.strip().replace("_", " ") for k in b.key.split(","))
            lines.append(f"{keys:<22} {b.description}")
        lines += ["", "When locked: Space (audio pause), the arrows and ? still work.",
                  "Esc closes a dialog without changing anything."]
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
