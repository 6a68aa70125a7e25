"""The demo's fault simulator: a trainer breaks the selected channel's simulated module.

Each fault is a big button with a key. It is injected into the simulated module in the
channel's slot (found by the ``FaultSimulator`` that ``icu_ws`` gives the app: the faults and the
modules are the demo's), logged as a USER event by "trainer", and notified. The dialog stays
open for more faults; Esc closes it. Space still pauses audio.
"""

from __future__ import annotations

from enum import Enum

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from dbc.vocabulary import ModuleKind
from tui.fault_simulator import FaultButton, FaultSimulator
from tui.screens.event_log import VIEWS_CSS
from workstation.api import Workstation

TRAINER = "trainer"


class SimulatorScreen(ModalScreen[None]):
    """Big buttons, one per fault, each with its key; Esc closes."""

    CSS_PATH = VIEWS_CSS
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, ws: Workstation, simulator: FaultSimulator, letter: str) -> None:
        super().__init__(classes="dialog-screen")
        self.ws = ws
        self.letter = letter
        self.by_key = {f.key: f for f in simulator.faults}
        self.module = simulator.module_for(letter)
        self.injected: list[tuple[Enum, float]] = []

    @property
    def syringe(self) -> bool:
        return self.module is not None and self.module.kind is ModuleKind.SYRINGE

    def faults(self) -> list[FaultButton]:
        return [f for f in self.by_key.values() if self.syringe or not f.syringe_only]

    def compose(self) -> ComposeResult:
        channel = self.ws.config.channel(self.letter)
        if self.module is None:
            where = f"no simulated module in slot {channel.slot} on {channel.bus}"
        else:
            where = (f"{self.module.kind.name.lower()} module, slot {channel.slot} on "
                     f"{channel.bus}")
        with Vertical(classes="dialog wide", id="simulator"):
            yield Label(f"Simulate a fault on channel {self.letter}", classes="dialog-title")
            yield Static(f"{channel.label or 'channel ' + self.letter}: {where}. Training "
                         "only: every fault is logged. Esc closes.", id="sim-target")
            with Grid(id="sim-grid"):
                for f in self.faults():
                    yield Button(f"{f.key}  {f.label}", id=f.name, classes="sim-button",
                                 disabled=self.module is None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        key = (event.button.id or "").removeprefix("fault-")
        self.action_inject(key)

    def on_key(self, event: Key) -> None:
        # A fault's key, as a binding would: the faults come with the simulator, not the class.
        if event.key in self.by_key:
            event.stop()
            self.action_inject(event.key)

    def action_inject(self, key: str) -> None:
        button = self.by_key.get(key)
        if button is None:
            return
        if self.module is None:
            self.notify(f"Channel {self.letter} has no simulated module", severity="error")
            return
        if button.syringe_only and not self.syringe:
            self.notify(f"Channel {self.letter} is not a syringe module", severity="warning")
            return
        try:
            self.module.inject(button.fault, button.value)
        except ValueError as exc:
            self.notify(str(exc), title="Simulator", severity="error")
            return
        self.injected.append((button.fault, button.value))
        self.ws.record_user_action(
            f"simulated fault {button.fault.value} on {self.letter} (value {button.value:g})",
            user=TRAINER)
        self.notify(f"{button.label} on channel {self.letter}", title="Simulated fault",
                    timeout=4)

    def action_close(self) -> None:
        self.dismiss(None)
