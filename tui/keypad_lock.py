"""The keypad lock: what works while locked, unlocking with a user name and PIN, the auto-lock.

A part of ``InfusionApp`` (``tui.app``), which sets the attributes declared here. While locked
only the audio pause, the arrows, the help and the unlock work; every other key says so.
"""

from __future__ import annotations

import time

from textual.app import App
from textual.binding import Binding
from textual.events import Event, Key, MouseDown

from tui.screens.dialogs import PinScreen
from tui.widgets.station_header import StationHeader
from workstation.api import Workstation
from workstation.login_guard import LoginGuard
from workstation.users import User, UserStore

__all__ = ["ALLOWED_WHEN_LOCKED", "KeypadLock"]

ALLOWED_WHEN_LOCKED = {"audio_pause", "help", "lock", "move"}


class KeypadLock(App[None]):
    ws: Workstation
    header: StationHeader
    users: UserStore  # named users, hashed PINs
    guard: LoginGuard
    user: str  # who unlocked last: every action is logged with this name
    locked: bool
    last_activity: float  # time.monotonic() of the last key or click

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While locked the footer lists only what works (Space, arrows, ?, unlock)."""
        return not self.locked or action in ALLOWED_WHEN_LOCKED

    def _refused_when_locked(self, event: Key) -> bool:
        """A key of an action hidden while locked: say why nothing happens (never silent)."""
        if not self.locked or self.screen is not self.screen_stack[0]:
            return False
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action not in ALLOWED_WHEN_LOCKED and \
                    event.key in [k.strip() for k in binding.key.split(",")]:
                self._allowed(binding.action)  # notifies how to unlock
                event.stop()
                return True
        return False

    async def on_event(self, event: Event) -> None:
        # Any key or click postpones the auto-lock, also those a dialog's field consumes
        # (typing a long form is activity): seen here, before the focused widget gets it.
        if isinstance(event, Key | MouseDown):
            self.last_activity = time.monotonic()
        await super().on_event(event)

    def _allowed(self, action: str) -> bool:
        self.last_activity = time.monotonic()
        if self.locked and action not in ALLOWED_WHEN_LOCKED:
            self.notify("Locked: press Ctrl+K, then your user name and PIN. Space still "
                        "pauses audio.",
                        severity="warning", timeout=4)
            return False
        return True

    def set_locked(self, locked: bool, *, why: str = "") -> None:
        self.locked = locked
        self.header.locked = locked
        self.header.refresh()
        self.refresh_bindings()  # the footer shows only what works now
        self.ws.record_user_action(("keypad locked" if locked else "keypad unlocked") + why,
                                   user=self.user)

    def action_lock(self) -> None:
        self._allowed("lock")
        if not self.locked:
            self.set_locked(True)
            return

        def unlocked(user: User | None) -> None:
            if user is not None:  # from now on, every action is logged with this user
                self.user = user.name
                self.set_locked(False, why=f" by {user.name} ({user.role.value})")
        self.push_screen(PinScreen(self.users, self.guard, self.ws.record_user_action),
                         unlocked)


    def relock_when_idle(self) -> None:
        """Lock again after ``ui.relock_s`` without a key or a click."""
        relock_s = self.ws.config.ui.relock_s
        if not self.locked and time.monotonic() - self.last_activity > relock_s:
            self.set_locked(True, why=f" automatically after {relock_s:g} s without a key")
