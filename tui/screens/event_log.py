"""The event log, read-only: the newest events first, a text filter, new rows every 2 s.

Rows come from ``ws.event_log`` (the workstation's open log). Only rows newer than the last one
shown are read on each refresh; ids grow with every event, so "newer" is "id above the last".
The shared alarm banner is mirrored at the top: alarms stay visible on every screen.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from channels.events import EventKind, LogRow, kind_text
from tui.widgets.alarm_banner import AlarmBanner
from tui.widgets.inputs import SpaceSafeInput
from workstation.api import Workstation

VIEWS_CSS = Path(str(files("tui.screens") / "views.tcss"))  # package data
MAX_ROWS = 500
REFRESH_S = 2.0
BANNER_S = 0.25  # the mirrored alarm banner follows the main screen's flash rhythm
KIND_STYLE = {EventKind.ALARM: "bold red", EventKind.CONFIRMATION: "yellow",
              EventKind.OVERRIDE: "bold yellow", EventKind.USER: "cyan",
              EventKind.BUS: "magenta", EventKind.MODULE: "magenta",
              EventKind.PROGRAM: "green", EventKind.SYSTEM: "dim"}
COLUMNS = (("#", "id"), ("time", "time"), ("kind", "kind"), ("ch", "channel"),
           ("user", "user"), ("message", "message"))
# Channel commands act on the main screen's selected channel, which is not in view here.
BLOCKED_KEYS = "f2,1,f3,2,f4,3,f5,4,f6,5,f7,6,f8,7,enter"


def mirror_alarms(banner: AlarmBanner, ws: Workstation, app: App[object]) -> None:
    """Draw the shared alarm indicator, as the main screen does, on another screen."""
    indicator = ws.indicator()
    top = next((a for a in ws.active_alarms() if a.id == indicator.alarm_id), None)
    phase = "high_on" if indicator.priority is not None and indicator.priority.name == "HIGH" \
        else "medium_on"
    banner.show(indicator, top, ws.clock(), bool(getattr(app, phase, True)))


PRIORITY_STYLE = {"HIGH": "bold red", "MEDIUM": "bold yellow", "LOW": "cyan", "INFO": "dim"}


def row_cells(row: LogRow) -> tuple[int, str, Text, str, str, str]:
    local = row.wall_time.astimezone().strftime("%H:%M:%S")
    shown = kind_text(row)  # an alarm with its priority: "alarm HIGH"
    style = PRIORITY_STYLE.get(shown.removeprefix("alarm "), KIND_STYLE.get(row.kind, "")) \
        if row.kind is EventKind.ALARM else KIND_STYLE.get(row.kind, "")
    kind = Text(shown, style=style)
    return row.id, local, kind, row.channel or "", row.user or "", row.message


def matches(row: LogRow, needle: str) -> bool:
    """Case-insensitive substring of any shown column."""
    if not needle:
        return True
    shown = (str(row.id), row.wall_time.astimezone().strftime("%H:%M:%S"), kind_text(row),
             row.channel or "", row.user or "", row.message)
    return any(needle in value.lower() for value in shown)


class EventLogScreen(Screen[None]):
    """Newest events first; type in the filter to narrow them; Esc or q closes."""

    CSS_PATH = VIEWS_CSS
    BINDINGS = [
        Binding("escape,q,ctrl+o", "close", "Close"),
        Binding("slash", "focus_filter", "Filter"),
        Binding(BLOCKED_KEYS, "blocked", show=False),
    ]

    def __init__(self, ws: Workstation) -> None:
        super().__init__(classes="view")
        self.ws = ws
        self.rows: list[LogRow] = []  # newest first, at most MAX_ROWS
        self.last_id = 0
        self.needle = ""
        self.banner = AlarmBanner()
        self.table: DataTable[object] = DataTable(id="log-table", cursor_type="row",
                                                  zebra_stripes=True)

    def compose(self) -> ComposeResult:
        yield self.banner
        yield Static("Event log (read-only)", classes="view-title")
        yield SpaceSafeInput(placeholder="filter: text in any column (/ to focus, Tab to the "
                          "table; Space pauses audio)", id="log-filter")
        yield self.table
        yield Static("", id="log-status", classes="view-status")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        for label, key in COLUMNS:
            self.table.add_column(label, key=key)
        self.rows = self.ws.event_log.query(newest_first=True, limit=MAX_ROWS)
        self.last_id = self.rows[0].id if self.rows else 0
        self._rebuild()
        self.table.focus()
        mirror_alarms(self.banner, self.ws, self.app)
        self.set_interval(REFRESH_S, self.refresh_rows)
        self.set_interval(BANNER_S, self._banner_tick)

    def _banner_tick(self) -> None:
        mirror_alarms(self.banner, self.ws, self.app)

    # -- rows ------------------------------------------------------------------------------
    def new_rows(self) -> list[LogRow]:
        """Rows with an id above the last one seen, newest first (ids only grow)."""
        newest = self.ws.event_log.last_id()
        if newest <= self.last_id:
            return []
        limit = min(newest - self.last_id, MAX_ROWS)
        fresh = [r for r in self.ws.event_log.query(newest_first=True, limit=limit)
                 if r.id > self.last_id]
        if fresh:
            self.last_id = fresh[0].id
        return fresh

    def refresh_rows(self) -> None:
        """Add what is new at the top; drop what falls beyond MAX_ROWS."""
        fresh = self.new_rows()
        if not fresh:
            return
        self.rows = (fresh + self.rows)[:MAX_ROWS]
        keep = {str(r.id) for r in self.rows}
        for key in [k for k in self.table.rows if k.value not in keep]:
            self.table.remove_row(key)
        shown = [r for r in fresh if matches(r, self.needle)]
        cursor = self.table.cursor_row
        for row in reversed(shown):
            self.table.add_row(*row_cells(row), key=str(row.id))
        if shown:
            self.table.sort("id", reverse=True)
            if cursor > 0:  # keep the highlighted event under the cursor
                self.table.move_cursor(row=cursor + len(shown), scroll=False)
        self._status()

    def _rebuild(self) -> None:
        self.table.clear()
        for row in self.rows:  # keyed by id: new rows and trimming find them
            if matches(row, self.needle):
                self.table.add_row(*row_cells(row), key=str(row.id))
        self._status()

    def _status(self) -> None:
        total = len(self.rows)
        text = f"{self.table.row_count} of the newest {total} events"
        if self.needle:
            text += f" match {self.needle!r}"
        self.query_one("#log-status", Static).update(text)

    # -- input -----------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip().lower()
        self._rebuild()

    def action_focus_filter(self) -> None:
        self.query_one("#log-filter", Input).focus()

    def action_blocked(self) -> None:
        self.notify("Close this view (Esc) to act on a channel", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)
