"""One line: broker and connection on the left, counts and the clock always on the right."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

TITLE = " ICU central monitor "


@dataclass(frozen=True)
class HeaderInfo:
    broker: str = ""
    connection: str = "not connected"  # "connected", or what went wrong
    workstations: int = 0
    stale: int = 0
    offline: int = 0
    messages_per_s: float = 0.0
    dropped: int = 0  # bad input of every kind, duplicates excluded


def render_header(info: HeaderInfo, width: int, clock: float | None = None) -> Text:
    connected = info.connection == "connected"
    state, _, detail = info.connection.partition(": ")
    left = Text(no_wrap=True)  # the connection state first: it must never be cut off
    left.append(" connected " if connected else f" {state.upper()} ",
                style="bold black on green" if connected else "bold white on red")
    left.append(f" {info.broker} ", style="bold")
    if detail:
        left.append(f"{detail} ", style="red")  # why: cut first when space is short
    right = Text(no_wrap=True)
    right.append(f" {info.workstations} workstations ")
    if info.stale:
        right.append(f" {info.stale} STALE ", style="bold black on grey62")
    if info.offline:
        right.append(f" {info.offline} OFFLINE ", style="bold white on grey35")
    right.append(f" {info.messages_per_s:,.0f} msg/s ", style="dim")
    if info.dropped:
        right.append(f" {info.dropped} bad ", style="yellow")
    right.append(time.strftime(" %H:%M:%S ", time.localtime(clock)))
    room = width - right.cell_len
    if left.cell_len + len(TITLE) <= room:  # the title goes first when space is short
        left = Text.assemble((TITLE, "bold reverse"), left)
    left.truncate(max(room, 0), overflow="ellipsis")
    left.append(" " * max(room - left.cell_len, 0))
    return Text.assemble(left, right, no_wrap=True, overflow="ellipsis")


class MonitorHeader(Widget):
    DEFAULT_CSS = "MonitorHeader { height: 1; background: $panel; }"

    def __init__(self) -> None:
        super().__init__(id="monitor-header")
        self.info = HeaderInfo()

    def show(self, info: HeaderInfo) -> None:
        self.info = info
        self.refresh()

    def render(self) -> Text:
        return render_header(self.info, self.size.width)
