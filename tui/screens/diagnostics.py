"""Diagnostics for the biomedical technician: the modules seen on each bus, and each bus's counters.

Refreshed once a second; only cells whose text changed are redrawn. The receive rate is the
difference of accepted frames between two refreshes over the (monotonic) time between them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from dbc.frames import Power
from dbc.registry import ModuleInfo
from tui.screens.event_log import BANNER_S, BLOCKED_KEYS, VIEWS_CSS, mirror_alarms
from tui.widgets.alarm_banner import AlarmBanner
from workstation.api import BusDiagnostics, Workstation
from workstation.bus_view import LinkFigures

REFRESH_S = 1.0
ERROR_KINDS = ("crc", "counter", "length", "range", "foreign")
MODULE_COLUMNS = (("bus", "bus"), ("slot", "slot"), ("ch", "channel"), ("kind", "kind"),
                  ("serial", "serial"), ("firmware", "firmware"), ("state", "state"),
                  ("online", "online"), ("last seen", "age"), ("power", "power"))
# Short headings: the whole row fits 100 columns. rx = frames accepted; crc..foreign, other =
# frames rejected by kind; resync = BOOT heartbeats that restarted a node's counter check.
BUS_COLUMNS = (("bus", "bus"), ("interface/channel", "where"), ("open", "open"),
               ("rx", "rx"), ("rx/s", "rate"), ("tx", "tx"), ("tx err", "tx_err"),
               *((k, k) for k in ERROR_KINDS), ("other", "other"), ("resync", "resyncs"),
               ("handler", "handler"), ("bus fail", "failures"))

Cell = str | Text


def _count(value: int, *, bad: bool = False) -> Text:
    """Right-aligned; error counters in bold red once they are not zero."""
    return Text(str(value), style="bold red" if bad and value else "", justify="right")


def _age(seconds: float) -> str:
    return f"{seconds:.1f} s ago" if seconds < 60 else f"{int(seconds // 60)} min ago"


LOW_BATTERY_PERCENT = 20


def power_cell(power: Power | None) -> Text:
    """From the module's Power frame: 'mains 100% 240 min' or, on battery, in yellow (red
    when low): the technician sees which module would stop first in a power cut."""
    if power is None:
        return Text("-")
    source = "mains" if power.on_mains else "BATTERY"
    style = "" if power.on_mains else (
        "bold red" if power.battery_percent < LOW_BATTERY_PERCENT else "yellow")
    return Text(f"{source} {power.battery_percent}% {power.battery_minutes} min", style=style)


def module_cells(info: ModuleInfo, letter: str, now: float,
                 power: Power | None = None) -> tuple[Cell, ...]:
    online = Text("yes", style="green") if info.online else Text("NO", style="bold red")
    return (info.bus, Text(str(info.node), justify="right"), letter, info.kind.name.lower(),
            str(info.serial), info.firmware, info.state.name, online,
            _age(max(0.0, now - info.last_seen)), power_cell(power))


def missing_cells(bus: str, slot: int, letter: str) -> tuple[Cell, ...]:
    """A configured channel whose module never sent a heartbeat."""
    return (bus, Text(str(slot), justify="right"), letter, "-", "-", "-", "-",
            Text("never seen", style="bold red"), "-", "-")


def bus_cells(link: LinkFigures, rate: float | None) -> tuple[Cell, ...]:
    other = sum(n for kind, n in link.rx_errors if kind not in ERROR_KINDS)
    is_open = Text("yes", style="green") if link.is_open else Text("NO", style="bold red")
    return (link.bus, link.where, is_open, _count(link.rx_accepted),
            Text("-" if rate is None else f"{rate:.1f}", justify="right"),
            _count(link.tx_frames), _count(link.tx_errors, bad=True),
            *(_count(link.rx_error(k), bad=True) for k in ERROR_KINDS), _count(other, bad=True),
            _count(link.rx_resyncs), _count(link.handler_errors, bad=True),
            _count(link.bus_failures, bad=True))


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def put_rows(table: DataTable[Cell], columns: Sequence[tuple[str, str]],
             rows: dict[str, tuple[Cell, ...]]) -> None:
    """Show ``rows`` (by key, in order): update changed cells, rebuild if the rows changed."""
    if [k.value for k in table.rows] != list(rows):
        table.clear()
        for key, cells in rows.items():
            table.add_row(*cells, key=key)
        return
    for key, cells in rows.items():
        old = table.get_row(key)
        for (_, column), new, was in zip(columns, cells, old, strict=True):
            if _plain(new) != _plain(was):
                table.update_cell(key, column, new, update_width=True)


class DiagnosticsScreen(Screen[None]):
    """Modules and buses, 1 Hz; Esc or q closes."""

    CSS_PATH = VIEWS_CSS
    BINDINGS = [
        Binding("escape,q,ctrl+d", "close", "Close"),
        Binding(BLOCKED_KEYS, "blocked", show=False),
    ]

    def __init__(self, ws: Workstation) -> None:
        super().__init__(classes="view")
        self.ws = ws
        self.banner = AlarmBanner()
        self.modules: DataTable[Cell] = DataTable(id="diag-modules", cursor_type="row",
                                                  zebra_stripes=True)
        self.buses: DataTable[Cell] = DataTable(id="diag-buses", cursor_type="row",
                                                zebra_stripes=True)
        self._previous: dict[str, tuple[float, int]] = {}  # bus -> (monotonic, accepted)
        self.rates: dict[str, float | None] = {}

    def compose(self) -> ComposeResult:
        yield self.banner
        yield Static("Modules", classes="view-title")
        yield self.modules
        yield Static("Buses", classes="view-title")
        yield self.buses
        yield Static("", id="diag-status", classes="view-status")
        yield Static("", id="diag-bus-health", classes="view-status")  # issue 10, B7/B8
        yield Static("", id="diag-telemetry", classes="view-status")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        for label, key in MODULE_COLUMNS:
            self.modules.add_column(label, key=key)
        for label, key in BUS_COLUMNS:
            self.buses.add_column(label, key=key)
        self.refresh_tables()
        self.modules.focus()
        mirror_alarms(self.banner, self.ws, self.app)
        self.set_interval(REFRESH_S, self.refresh_tables)
        self.set_interval(BANNER_S, self._banner_tick)

    def _banner_tick(self) -> None:
        mirror_alarms(self.banner, self.ws, self.app)

    def _letters(self) -> dict[tuple[str, int], str]:
        return {(c.bus, c.slot): c.letter for c in self.ws.config.channels}

    def module_rows(self, diag: BusDiagnostics) -> dict[str, tuple[Cell, ...]]:
        letters = self._letters()
        rows = {}
        for info in diag.modules:
            letter = letters.get((info.bus, info.node), "")
            rows[f"{info.bus}/{info.node}"] = module_cells(info, letter, diag.now,
                                                           diag.power_of(letter))
        for (bus, slot), letter in sorted(letters.items()):
            if f"{bus}/{slot}" not in rows:
                rows[f"{bus}/{slot}"] = missing_cells(bus, slot, letter)
        return rows

    def bus_rows(self, diag: BusDiagnostics) -> dict[str, tuple[Cell, ...]]:
        now = time.monotonic()
        rows = {}
        for link in diag.links:
            name, accepted = link.bus, link.rx_accepted
            before = self._previous.get(name)
            if before is not None and now > before[0]:
                self.rates[name] = (accepted - before[1]) / (now - before[0])
            self._previous[name] = (now, accepted)
            rows[name] = bus_cells(link, self.rates.get(name))
        return rows

    def refresh_tables(self) -> None:
        diag = self.ws.bus_diagnostics()
        modules = self.module_rows(diag)
        put_rows(self.modules, MODULE_COLUMNS, modules)
        put_rows(self.buses, BUS_COLUMNS, self.bus_rows(diag))
        online = sum(1 for i in diag.modules if i.online)
        self.query_one("#diag-status", Static).update(
            f"{online} of {len(modules)} modules online · {diag.bad_frames} bad frames "
            f"received · refreshed every {REFRESH_S:g} s")
        self.query_one("#diag-bus-health", Static).update(  # controller state and load
            " · ".join(f"bus {bus}: {line}" for bus, line in diag.health))
        telemetry = self.ws.telemetry
        self.query_one("#diag-telemetry", Static).update(
            telemetry.summary() if telemetry is not None else "telemetry off")

    def action_blocked(self) -> None:
        self.notify("Close this view (Esc) to act on a channel", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)
