"""The monitor's help: keys, and how to read the screen (markers, STALE, OFFLINE)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

HELP_TEXT = """\
q, ctrl+q           quit (the workstations are not affected)
tab, shift+tab      the alarm list / the beds
arrows, PgUp, PgDn  scroll; Home / End: top / bottom
?                   this help; Esc closes it

*** HIGH    red, flashing twice a second
**  MEDIUM  yellow, flashing every two seconds
*   LOW     cyan, steady
Acknowledged alarms stop flashing.

STALE    nothing heard for a while: the values are old
OFFLINE  the workstation stopped, or the broker lost it
Read-only: alarms are acknowledged at the bedside."""


class MonitorHelp(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Central monitor: keys", classes="dialog-title")
            yield Static(HELP_TEXT, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
