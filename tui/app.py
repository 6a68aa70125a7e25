"""The nurse's terminal: every channel, the shared alarm indicator, keyboard-first actions.

The app reads the workstation through its public API only. Channel values are repainted at
``ui.repaint_hz`` from snapshots; alarm changes are drawn as soon as the supervisor reports them.
Screens and dialogs live in ``tui.screens``, widgets by screen area in ``tui.widgets``; the
alarm display (``tui.alarm_display``) and the keypad lock (``tui.keypad_lock``) are parts of the
app class, each in its own module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Key

from channels.controller import ChannelError
from tui.alarm_display import AlarmDisplay
from tui.fault_simulator import FaultSimulator
from tui.flash import FLASH_TICK_S
from tui.keypad_lock import KeypadLock
from tui.quit_notice import quit_consequence
from tui.screens.dialogs import ActionMenuScreen, ConfirmScreen, HelpScreen, MessageScreen
from tui.widgets.alarm_banner import AlarmBanner
from tui.widgets.channel_grid import ChannelGrid
from tui.widgets.key_footer import KeyFooter
from tui.widgets.station_header import StationHeader
from workstation.api import Workstation
from workstation.login_guard import LoginGuard
from workstation.users import UserStore

log = logging.getLogger(__name__)

LETTER_WINDOW_S = 0.8  # a second letter within this selects a two-letter channel (AA..)


class InfusionApp(AlarmDisplay, KeypadLock):
    CSS_PATH = Path(str(files("tui") / "styles.tcss"))  # package data
    TITLE = "ICU infusion workstation"
    # The footer shows what a nurse needs under alarm load; the rest is in the action menu
    # (Enter) and the help (?).
    BINDINGS = [
        Binding("space", "audio_pause", "Audio pause", priority=True),
        Binding("enter", "menu", "Actions"),
        Binding("f2,1", "program", "Program"),
        Binding("f3,2", "start", "Start"),
        Binding("f4,3", "pause", "Pause"),
        Binding("f5,4", "stop", "Stop"),
        Binding("f6,5", "titrate", "Titrate", show=False),
        Binding("f7,6", "bolus", "Bolus", show=False),
        Binding("f8,7", "secondary", "Secondary", show=False),
        Binding("f9,8", "acknowledge", "Acknowledge"),
        Binding("up", "move('up')", "Up", show=False),
        Binding("down", "move('down')", "Down", show=False),
        Binding("left", "move('left')", "Left", show=False),
        Binding("right", "move('right')", "Right", show=False),
        Binding("ctrl+k", "lock", "Lock"),
        Binding("ctrl+w", "patient_weight", "Patient weight", show=False),
        Binding("ctrl+o", "log", "Event log", show=False),
        Binding("ctrl+d", "diagnostics", "Diagnostics", show=False),
        Binding("ctrl+f", "simulator", "Simulate fault", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+q", "quit_app", "Quit", priority=True, show=False),
    ]

    def __init__(self, ws: Workstation, *, simulator: FaultSimulator | None = None,
                 bell: bool | None = None, locked: bool = False, user: str = "nurse",
                 users: UserStore | None = None) -> None:
        super().__init__()
        self.ws = ws
        ui = ws.config.ui
        self.users = users or UserStore(ui.users_file)  # named users, hashed PINs
        self.guard = LoginGuard(max_failures=ui.max_failures, lockout_s=ui.lockout_s)
        self.simulator = simulator  # the demo's simulated modules (Ctrl+F), or None
        self.bell_enabled = ws.config.ui.bell if bell is None else bell
        self.user = user
        self.locked = locked
        self.last_activity = time.monotonic()
        self.grid = ChannelGrid(ws.letters)
        self.banner = AlarmBanner()
        self.header = StationHeader(ws)
        self._ticks = 0
        self._last_bell = 0.0
        self._letters = ""
        self._letters_at = 0.0

    # -- layout and drawing ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.header
        yield self.banner
        yield self.grid
        yield KeyFooter()  # whole keys only, and only those that work now

    def on_mount(self) -> None:
        self.ws.subscribe(self._on_notice)
        # Every screen and dialog shows the alarm banner, on top, on the main screen's row.
        self.screen_change_signal.subscribe(self, self._banner_on)
        self.set_interval(1 / self.ws.config.ui.repaint_hz, self.repaint)
        self.set_interval(FLASH_TICK_S, self._flash_tick)
        self.header.locked = self.locked
        self.repaint()

    def on_unmount(self) -> None:
        self.ws.unsubscribe(self._on_notice)

    def repaint(self) -> None:
        """Channel values, from the cache of snapshots: only changed cards redraw."""
        if not self.screen_stack:
            return
        self.grid.update(self.ws.channels(), high_on=self.high_on, medium_on=self.medium_on)
        self.header.locked = self.locked
        self.header.refresh()
        self.draw_alarms()
        self.relock_when_idle()

    # -- input -----------------------------------------------------------------------------
    def on_key(self, event: Key) -> None:
        if self._refused_when_locked(event):
            return
        char = event.character
        if char is None or not char.isalpha() or len(char) != 1 or self.screen is not \
                self.screen_stack[0]:
            return
        now = time.monotonic()
        letter = char.upper()
        candidate = self._letters + letter if now - self._letters_at < LETTER_WINDOW_S else ""
        if candidate in self.grid.cards:
            self._select(candidate)
        elif letter in self.grid.cards:
            self._select(letter)
        self._letters, self._letters_at = (candidate or letter), now
        event.stop()

    def _select(self, letter: str) -> None:
        self.grid.select(letter)
        self.repaint()

    def _run(self, what: str, call: Callable[[], Awaitable[object]]) -> None:
        """Run an API call without blocking the screen; failures become clear messages.

        Never ``exit_on_error``: a failed action must not take every channel's display down
        (Textual's default for a worker that raises is to exit the app)."""
        async def work() -> None:
            try:
                await call()
            except Exception as exc:
                self.show_error(what, exc)
        self.run_worker(work(), group="commands", exit_on_error=False)

    def _safely(self, what: str, call: Callable[[], object]) -> None:
        """Run a synchronous API call from an action; its failure is shown, never fatal."""
        try:
            call()
        except Exception as exc:
            self.show_error(what, exc)

    def show_error(self, what: str, exc: Exception) -> None:
        """A refused or failed action: the reason in a notification (``ChannelError``), or,
        for anything unexpected, logged with its traceback and shown in a dialog."""
        if isinstance(exc, ChannelError):
            self.notify(str(exc), title=what, severity="error", timeout=10, markup=False)
            return
        log.error("%s failed unexpectedly", what, exc_info=exc)
        self.notify(f"{type(exc).__name__}: {exc}", title=f"{what}: unexpected error",
                    severity="error", timeout=15, markup=False)
        self.push_screen(MessageScreen(
            f"{what} failed", f"Unexpected error: {type(exc).__name__}: {exc}\n\nEvery channel "
            "is still supervised. Check this channel at the pump before trying again."))

    @property
    def letter(self) -> str:
        return self.grid.selected

    # -- actions ---------------------------------------------------------------------------
    def action_move(self, direction: str) -> None:
        if not self._allowed("move"):
            return
        cols = self.grid.columns
        step = {"up": -cols, "down": cols, "left": -1, "right": 1}[direction]
        self.grid.move(step)
        self.repaint()

    def action_audio_pause(self) -> None:
        self._allowed("audio_pause")
        user = None if self.locked else self.user  # locked: whoever is at the keypad
        self._safely("Audio pause", lambda: self.ws.audio_pause(user=user))
        self.draw_alarms()

    def action_acknowledge(self) -> None:
        if not self._allowed("acknowledge"):
            return
        alarms = self.ws.active_alarms()
        mine = [a for a in alarms if a.key.source == self.letter]
        target = (mine or alarms)[0] if alarms else None  # this channel's first, else the top
        if target is None:
            self.notify("No alarm to acknowledge", timeout=3)
            return
        # The alarm may have gone between the list and the press: say so, never exit.
        self._safely("Acknowledge", lambda: self.ws.acknowledge(target.id, user=self.user))
        self.draw_alarms()
        self.repaint()

    def action_start(self) -> None:
        if self._allowed("start"):
            letter = self.letter
            self._run(f"Start {letter}", lambda: self.ws.start(letter, user=self.user))

    def action_pause(self) -> None:
        if self._allowed("pause"):
            letter = self.letter
            self._run(f"Pause {letter}", lambda: self.ws.pause(letter, user=self.user))

    def action_stop(self) -> None:
        if not self._allowed("stop"):
            return
        letter = self.letter
        snap = self.ws.channel(letter)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._run(f"Stop {letter}", lambda: self.ws.stop(letter, user=self.user))
        self.push_screen(ConfirmScreen(f"Stop channel {letter}?",
                                       f"{snap.drug or 'infusion'} at {snap.rate_ml_h:g} mL/h "
                                       "stops now."), confirmed)

    def action_program(self) -> None:
        if self._allowed("program"):
            from tui.screens.program import ProgramScreen
            self.push_screen(ProgramScreen(self.ws, self.letter, user=self.user))

    def action_secondary(self) -> None:
        if self._allowed("secondary"):
            from channels.plan import PlanKind
            from tui.screens.program import ProgramScreen
            self.push_screen(ProgramScreen(self.ws, self.letter, user=self.user,
                                           kind=PlanKind.SECONDARY))

    def action_titrate(self) -> None:
        if self._allowed("titrate"):
            from tui.screens.titrate import TitrateScreen
            self.push_screen(TitrateScreen(self.ws, self.letter, user=self.user))

    def action_bolus(self) -> None:
        if self._allowed("bolus"):
            from tui.screens.bolus import BolusScreen
            self.push_screen(BolusScreen(self.ws, self.letter, user=self.user))

    def action_menu(self) -> None:
        if not self._allowed("menu"):
            return

        def chosen(action: str | None) -> None:
            if action:
                self.call_later(self.run_action, action)
        self.push_screen(ActionMenuScreen(self.letter), chosen)

    def action_log(self) -> None:
        if self._allowed("log"):
            from tui.screens.event_log import EventLogScreen
            self.push_screen(EventLogScreen(self.ws))

    def action_diagnostics(self) -> None:
        if self._allowed("diagnostics"):
            from tui.screens.diagnostics import DiagnosticsScreen
            self.push_screen(DiagnosticsScreen(self.ws))

    def action_simulator(self) -> None:
        if not self._allowed("simulator"):
            return
        if self.simulator is None:
            self.notify("Fault simulation is only available in the demo", timeout=4)
            return
        from tui.screens.simulator import SimulatorScreen
        self.push_screen(SimulatorScreen(self.ws, self.simulator, self.letter))

    def action_patient_weight(self) -> None:
        if not self._allowed("patient_weight"):
            return
        from tui.screens.patient_weight import PatientWeightScreen

        def done(kg: float | None) -> None:
            if kg is not None:
                self.notify(f"Patient weight {kg:g} kg, set by {self.user}", timeout=5)
                self.repaint()
        self.push_screen(PatientWeightScreen(self.ws, user=self.user), done)

    def action_help(self) -> None:
        self._allowed("help")
        self.push_screen(HelpScreen(self.BINDINGS, demo=self.simulator is not None,
                                    relock_s=self.ws.config.ui.relock_s))

    def action_quit_app(self) -> None:
        if not self._allowed("quit"):
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.exit()
        self.push_screen(ConfirmScreen("Quit the workstation?", quit_consequence(
            demo=self.simulator is not None, running=[s.letter for s in self.ws.channels()
                                            if s.state in ("INFUSING", "KVO")])), confirmed)
