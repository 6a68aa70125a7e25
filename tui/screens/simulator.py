"""The demo's fault simulator: a trainer breaks the selected channel's simulated module.

Each fault is a big button with a key. It is injected into the ``SimulatedModule`` in the
channel's slot (the rack of the channel's bus), logged as a USER event by "trainer", and
notified. The dialog stays open for more faults; Esc closes it. Space still pauses audio.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from dbc.vocabulary import ModuleKind
from pumps.module import Fault
from pumps.rack import PumpRack
from tui.screens.event_log import VIEWS_CSS
from workstation.api import Workstation
from workstation.demo import module_for

TRAINER = "trainer"


@dataclass(frozen=True)
class FaultButton:
    key: str
    label: str
    fault: Fault
    value: float = 1.0
    syringe_only: bool = False

    @property
    def name(self) -> str:
        return f"fault-{self.key}"


FAULTS = (
    FaultButton("a", "Occlusion on", Fault.OCCLUSION, 1),
    FaultButton("b", "Occlusion off", Fault.OCCLUSION, 0),
    FaultButton("c", "Upstream occlusion", Fault.UPSTREAM_OCCLUSION, 1),
    FaultButton("d", "Air bubble 100 µL", Fault.AIR, 100),
    FaultButton("s", "Air cleared at the pump", Fault.CLEAR_AIR, 1),  # the only way (H12)
    FaultButton("e", "Door open", Fault.DOOR, 1),
    FaultButton("f", "Door close", Fault.DOOR, 0),
    FaultButton("g", "Empty container", Fault.EMPTY, 1),
    FaultButton("h", "Battery low", Fault.BATTERY_LOW, 1),
    FaultButton("i", "Mains back", Fault.MAINS, 1),
    FaultButton("j", "Disconnect (silent)", Fault.SILENT, 1),
    FaultButton("k", "Reconnect", Fault.SILENT, 0),
    FaultButton("l", "Reboot", Fault.REBOOT, 1),
    FaultButton("m", "Corrupt 5 frames", Fault.CORRUPT, 5),
    FaultButton("n", "Calibration +15 %", Fault.CALIBRATION, 15),
    FaultButton("o", "Calibration 0 %", Fault.CALIBRATION, 0),
    FaultButton("p", "Syringe disengaged", Fault.SYRINGE_DISENGAGED, 1, syringe_only=True),
    FaultButton("r", "Syringe engaged", Fault.SYRINGE_DISENGAGED, 0, syringe_only=True),
)
BY_KEY = {f.key: f for f in FAULTS}


class SimulatorScreen(ModalScreen[None]):
    """Big buttons, one per fault, each with its key; Esc closes."""

    CSS_PATH = VIEWS_CSS
    BINDINGS = [Binding("escape", "close", "Close"),
                *(Binding(f.key, f"inject('{f.key}')", f.label, show=False) for f in FAULTS)]

    def __init__(self, ws: Workstation, racks: list[PumpRack], letter: str) -> None:
        super().__init__(classes="dialog-screen")
        self.ws = ws
        self.racks = racks
        self.letter = letter
        self.module = module_for(ws.config, racks, letter)
        self.injected: list[tuple[Fault, float]] = []

    @property
    def syringe(self) -> bool:
        return self.module is not None and self.module.kind is ModuleKind.SYRINGE

    def faults(self) -> list[FaultButton]:
        return [f for f in FAULTS if self.syringe or not f.syringe_only]

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

    def action_inject(self, key: str) -> None:
        button = BY_KEY.get(key)
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
        self.ws.supervisor.record_user_action(
            f"simulated fault {button.fault.value} on {self.letter} (value {button.value:g})",
            user=TRAINER)
        self.notify(f"{button.label} on channel {self.letter}", title="Simulated fault",
                    timeout=4)

    def action_close(self) -> None:
        self.dismiss(None)
