"""The app's alarm display: the shared banner on every screen, flashing cards, the bell.

A part of ``InfusionApp`` (``tui.app``), which sets the attributes declared here. Alarm changes
are drawn as soon as the workstation reports them, not at the next repaint.
"""

from __future__ import annotations

import time

from textual.app import App
from textual.screen import Screen

from tui.flash import high_on, medium_on
from tui.widgets.alarm_banner import AlarmBanner, attach_banner, screen_banners
from tui.widgets.channel_grid import ChannelGrid
from workstation.alarms import AudioState, Priority
from workstation.api import Workstation
from workstation.supervisor import Notice

__all__ = ["BELL_EVERY_S", "AlarmDisplay"]

BELL_EVERY_S = {Priority.HIGH: 2.0, Priority.MEDIUM: 10.0}


class AlarmDisplay(App[None]):
    ws: Workstation
    grid: ChannelGrid
    banner: AlarmBanner
    bell_enabled: bool
    _ticks: int  # flash ticks since the start
    _last_bell: float  # time.monotonic() of the last bell

    @property
    def high_on(self) -> bool:
        return high_on(self._ticks)

    @property
    def medium_on(self) -> bool:
        return medium_on(self._ticks)

    def draw_alarms(self) -> None:
        if not self.screen_stack:
            return  # the app is closing: a timer or a notice arrived after the last screen left
        indicator = self.ws.indicator()
        alarms = self.ws.active_alarms()
        top = next((a for a in alarms if a.id == indicator.alarm_id), None)
        flash = self.high_on if indicator.priority is Priority.HIGH else self.medium_on
        for banner in [self.banner, *screen_banners(self.screen)]:
            banner.show(indicator, top, self.ws.clock(), flash)

    def _banner_on(self, screen: Screen[object]) -> None:
        if attach_banner(screen, self.screen_stack[0]) is not None:
            self.call_later(self.draw_alarms)  # drawn before the dialog's first frame settles

    def _on_notice(self, notice: Notice) -> None:
        if notice.alarm_changes:
            # Alarms are drawn at once, not at the next repaint.
            self.call_later(self._alarm_changed, notice)

    def _alarm_changed(self, notice: Notice) -> None:
        if not self.screen_stack:
            return
        self.draw_alarms()
        letters = {c.alarm.key.source for c in notice.alarm_changes if c.alarm is not None}
        self.grid.update(self.ws.channels(letters),
                         high_on=self.high_on, medium_on=self.medium_on)
        if any(c.kind.name == "RAISED" for c in notice.alarm_changes):
            self._ring(force=True)

    def _flash_tick(self) -> None:
        if not self.screen_stack:
            return
        self._ticks += 1
        self.draw_alarms()
        # Only channels with a flashing (HIGH or MEDIUM) alarm change between repaints.
        flashing = {a.key.source for a in self.ws.active_alarms()
                    if a.priority >= Priority.MEDIUM}
        self.grid.update(self.ws.channels(flashing) if flashing else [],
                         high_on=self.high_on, medium_on=self.medium_on)
        self._ring()

    def _ring(self, *, force: bool = False) -> None:
        """The terminal bell follows the audible state: silent when paused or off."""
        indicator = self.ws.indicator()
        if not self.bell_enabled or indicator.audio is not AudioState.ON or \
                indicator.priority is None:
            return
        now = time.monotonic()
        every = BELL_EVERY_S.get(indicator.priority)
        if force or (every is not None and now - self._last_bell >= every):
            self._last_bell = now
            self.bell()
