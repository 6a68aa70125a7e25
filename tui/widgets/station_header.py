"""Who and where: bed, care area, drug library, bus, telemetry, clock and the keypad lock."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widget import Widget

from workstation.api import Workstation


def render_header(ws: Workstation, *, locked: bool, width: int) -> Text:
    """Bed and patient on the left; bus, telemetry, clock and lock always visible on the
    right; care area and drug library in between, shortened first when space is short."""
    config = ws.config
    buses = ws.bus_diagnostics()
    buses_ok, errors = buses.buses_open, buses.bad_frames
    left = Text(f" {config.unit}/{config.bed} ", style="bold reverse")
    if ws.patient_weight_kg:  # the workstation's one patient weight, as set (H10)
        left.append(f" {ws.patient_weight_kg:g} kg ", style="bold")
    else:  # weight-based doses need it: say where to enter it
        left.append(" weight not set (Ctrl+W) ", style="bold black on yellow")
    right = Text(no_wrap=True)
    right.append(f" bus {'OK' if buses_ok else 'FAILED'} ",
                 style="bold black on green" if buses_ok else "bold white on red")
    if errors:
        right.append(f" {errors} bad frames", style="yellow")
    telemetry = ws.telemetry
    if telemetry is None:
        right.append(" telemetry off ", style="dim")
    elif telemetry.connected:
        right.append(" telemetry OK ", style="black on green")
    else:  # the central station does not see this bed: as visible as the bus
        right.append(" telemetry DOWN ", style="bold black on yellow")
    right.append(time.strftime(" %H:%M:%S "))
    right.append(" LOCKED " if locked else " unlocked ",
                 style="bold black on yellow" if locked else "dim")
    middle = Text(f" {ws.care_area.name} · {ws.library.label} ", no_wrap=True,
                  overflow="ellipsis")
    room = width - left.cell_len - right.cell_len
    middle.truncate(max(room, 0), overflow="ellipsis")
    middle.append(" " * max(room - middle.cell_len, 0))
    return Text.assemble(left, middle, right, no_wrap=True, overflow="ellipsis")


class StationHeader(Widget):
    DEFAULT_CSS = "StationHeader { height: 1; background: $panel; }"

    def __init__(self, ws: Workstation) -> None:
        super().__init__(id="station-header")
        self.ws = ws
        self.locked = False

    def render(self) -> Text:
        return render_header(self.ws, locked=self.locked, width=self.size.width)
