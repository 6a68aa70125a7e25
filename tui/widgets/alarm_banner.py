"""The shared alarm indicator: the highest-priority alarm first, then how many others.

IEC 60601-1-8 look: HIGH red flashing ~2 Hz, MEDIUM yellow flashing ~0.5 Hz, LOW cyan steady,
with ``***``/``**``/``*`` so it reads without colour too. The app drives the flash phase.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget

from workstation.alarms import Alarm, AudioState, Indicator, Priority

ON_STYLE = {Priority.HIGH: "bold white on red", Priority.MEDIUM: "bold black on yellow",
            Priority.LOW: "black on cyan", Priority.INFO: "white on blue"}
OFF_STYLE = {Priority.HIGH: "bold red on black", Priority.MEDIUM: "bold yellow on black"}


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def render_banner(indicator: Indicator, top: Alarm | None, now: float, width: int, *,
                  flash_on: bool) -> Text:
    """One line: marker, channel, text, age | others | audio state."""
    audio = {AudioState.ON: ("AUDIO ON", "bold"), AudioState.OFF: ("audio off", "dim"),
             AudioState.PAUSED: (f"AUDIO PAUSED {_age(indicator.pause_left_s)}",
                                 "bold black on white")}[indicator.audio]
    if indicator.priority is None or top is None:
        text = Text(" No alarms", style="green", no_wrap=True)
    else:
        style = ON_STYLE[indicator.priority]
        if not flash_on and indicator.priority in OFF_STYLE and not top.acknowledged:
            style = OFF_STYLE[indicator.priority]
        marker = indicator.priority.marker or "i"
        ack = "  (acknowledged)" if top.acknowledged else ""
        text = Text(f" {marker} {top.key.source}  {top.text}  {_age(top.age(now))}{ack} ",
                    style=style, no_wrap=True, overflow="ellipsis")
        others = indicator.total - 1
        if others:
            counts = ", ".join(f"{indicator.counts[p]} {p.name}" for p in
                               (Priority.HIGH, Priority.MEDIUM, Priority.LOW, Priority.INFO)
                               if indicator.counts.get(p))
            text.append(f"  +{others} more ({counts})", style="bold")
    room = width - len(audio[0]) - 2
    text.truncate(max(room, 10), overflow="ellipsis")
    text.append(" " * max(room - text.cell_len, 1))
    text.append(f" {audio[0]} ", style=audio[1])
    return text


class AlarmBanner(Widget):
    DEFAULT_CSS = "AlarmBanner { height: 1; }"

    def __init__(self, *, id: str | None = "alarm-banner", classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.indicator: Indicator | None = None
        self.top: Alarm | None = None
        self.now = 0.0
        self.flash_on = True

    def show(self, indicator: Indicator, top: Alarm | None, now: float, flash_on: bool) -> None:
        self.indicator, self.top, self.now, self.flash_on = indicator, top, now, flash_on
        self.refresh()

    def render(self) -> Text:
        if self.indicator is None:
            return Text(" starting…", style="dim")
        return render_banner(self.indicator, self.top, self.now, self.size.width,
                             flash_on=self.flash_on)


class ScreenBanner(AlarmBanner):
    """The banner on top of a dialog or another screen, on the very row the main screen's
    banner uses (below the 1-row header): opening a dialog moves nothing, hides nothing. Docked,
    so a dialog is laid out in the rows below it and scrolls there."""

    DEFAULT_CSS = """
    ScreenBanner { dock: top; height: 1; margin-top: 1; }
    """

    def __init__(self) -> None:
        super().__init__(id=None, classes="screen-banner")


def attach_banner(screen: Screen[object], base: Screen[object]) -> AlarmBanner | None:
    """Give ``screen`` the alarm banner unless it is ``base`` (which composes its own) or
    already has one (the event log mirrors it). Returns the banner the screen shows."""
    if screen is base:
        return None
    found = screen.query(AlarmBanner)
    if found:
        return found.first()
    banner = ScreenBanner()
    screen.mount(banner)
    return banner


def screen_banners(screen: Screen[object]) -> list[AlarmBanner]:
    """The banners a screen shows (none on the main screen's list: it has its own)."""
    return list(screen.query(ScreenBanner))
