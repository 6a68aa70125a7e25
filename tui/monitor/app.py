"""The central monitor: every workstation of the unit at once, from their MQTT telemetry.

Messages go into the pure ``MonitorModel`` as they arrive and only mark what changed; the screen
is repainted from the model at ``repaint_hz`` (never per message), and only the rows that
changed are rendered again. An alarm change is drawn at once, but a burst of them (a unit
reconnecting, hundreds of retained lists) is coalesced into one redraw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from tui.flash import FLASH_TICK_S, high_on, medium_on
from tui.monitor.feed import MqttFeed
from tui.monitor.model import ALARMS, DUPLICATE, OLDER_THAN_LIST, MonitorModel
from tui.monitor.widgets.alarm_list import AlarmList
from tui.monitor.widgets.bed_table import BedTable
from tui.monitor.widgets.header import HeaderInfo, MonitorHeader
from tui.monitor.widgets.help import MonitorHelp

ALARM_COALESCE_S = 0.1  # an alarm shows within this; a burst inside it is one redraw
RATE_WINDOW_S = 1.0
NOT_BAD = {DUPLICATE, OLDER_THAN_LIST}  # expected with QoS 1 and outboxes: not shown as bad


class MonitorApp(App[None]):
    CSS_PATH = [Path(str(files("tui") / "styles.tcss")),  # package data
                Path(str(files("tui.monitor") / "monitor.tcss"))]
    TITLE = "ICU central monitor"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("q", "quit", "Quit", show=False),  # not priority: q also closes the help
        Binding("question_mark", "help", "Help"),
        Binding("tab", "focus_next", "Alarms/Beds", show=True),
    ]

    def __init__(self, model: MonitorModel, *, broker: str = "", feed: MqttFeed | None = None,
                 repaint_hz: float = 2.0, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.model = model
        self.feed = feed
        self.broker = broker or (feed.broker if feed is not None else "")
        self.repaint_hz = min(max(repaint_hz, 1.0), 4.0)
        self.clock = clock
        self.connection = "connecting" if feed is not None else "no broker"
        self.header = MonitorHeader()
        self.alarm_list = AlarmList()
        self.beds = BedTable(model)
        self._dirty: set[str] = set()
        self._alarm_pending = False
        self._ticks = 0
        self._rate = 0.0
        self._rate_mark = (clock(), model.received)

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.alarm_list
        yield self.beds
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.set_interval(1 / self.repaint_hz, self.repaint)
        self.set_interval(FLASH_TICK_S, self._flash_tick)
        if self.feed is not None:
            self.run_worker(self.feed.run(self.ingest, self.set_connection), name="mqtt",
                            group="mqtt", exclusive=True, exit_on_error=False)
        self.beds.focus()
        self.repaint()

    # -- input from the feed (or a test) ----------------------------------------------------
    def ingest(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """One message: the model changes now, the screen at the next repaint."""
        changed = self.model.ingest(topic, payload, self.clock(), retained=retained)
        if not changed:
            return
        self._dirty |= changed
        if ALARMS in changed and not self._alarm_pending:
            self._alarm_pending = True
            self.set_timer(ALARM_COALESCE_S, self._draw_alarms)

    def set_connection(self, state: str) -> None:
        self.connection = state
        self._draw_header(self.clock())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "mqtt" and event.state is WorkerState.ERROR:
            # A bug, not a broker outage (those are retried): say so instead of going quiet.
            self.set_connection(f"feed stopped: {event.worker.error!r}")

    # -- drawing ----------------------------------------------------------------------------
    @property
    def high_on(self) -> bool:
        return high_on(self._ticks)

    @property
    def medium_on(self) -> bool:
        return medium_on(self._ticks)

    def repaint(self) -> None:
        now = self.clock()
        dirty, self._dirty = self._dirty, set()
        self.beds.update(now, dirty)
        self._draw_alarms(now)
        self._draw_header(now)

    def _draw_alarms(self, now: float | None = None) -> None:
        # Ages tick every second, so the list is drawn at every repaint (visible lines only).
        self._alarm_pending = False
        now = self.clock() if now is None else now
        self.alarm_list.show(self.model.alarms(now), self.model.counts())

    def _draw_header(self, now: float) -> None:
        mark_t, mark_n = self._rate_mark
        if now - mark_t >= RATE_WINDOW_S:
            self._rate = (self.model.received - mark_n) / (now - mark_t)
            self._rate_mark = (now, self.model.received)
        stale = self.model.stale(now)
        offline = sum(1 for ws in stale if ws.offline)
        self.header.show(HeaderInfo(
            broker=self.broker, connection=self.connection,
            workstations=len(self.model.workstations()), stale=len(stale) - offline,
            offline=offline, messages_per_s=self._rate,
            dropped=sum(n for k, n in self.model.dropped.items() if k not in NOT_BAD)))

    def _flash_tick(self) -> None:
        self._ticks += 1
        self.alarm_list.flash(high_on=self.high_on, medium_on=self.medium_on)
        self.beds.flash(high_on=self.high_on, medium_on=self.medium_on)

    # -- actions ----------------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(MonitorHelp())
