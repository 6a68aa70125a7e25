"""All channels at once: cards in as many columns as the terminal is wide, scrolling beyond.

Channels scrolled out of view are never silent: a line at the bottom of the grid says how many
are above and below and which of them are alarming (marker and letter)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from rich.text import Text
from textual.containers import ScrollableContainer
from textual.widget import Widget
from textual.widgets import Static

from tui.widgets.channel_card import ChannelCard
from workstation.snapshot import ChannelSnapshot

CARD_MIN_WIDTH = 38
MARKER_ORDER = {"***": 0, "**": 1, "*": 2}


def off_screen_text(above: list[str], below: list[str], markers: Mapping[str, str]) -> Text:
    """'▼ 6 channels below, 2 above: alarming *** K, ** M' (empty when all are in view)."""
    if not above and not below:
        return Text("")
    parts = []
    if below:
        parts.append(f"▼ {len(below)} channel{'s' if len(below) > 1 else ''} below")
    if above:
        parts.append(f"▲ {len(above)} above")
    text = Text(" " + ", ".join(parts) + ": ", style="bold")
    alarming = sorted((MARKER_ORDER[markers[x]], x) for x in above + below
                      if markers.get(x) in MARKER_ORDER)
    if not alarming:
        text.append("none alarming", style="green")
    else:
        worst = alarming[0][0]
        style = ("bold white on red", "bold black on yellow", "black on cyan")[worst]
        text.append("alarming " + ", ".join(f"{m} {x}" for m, x in
                                            ((markers[x], x) for _, x in alarming)), style=style)
    text.append("  (arrows or the letter to see)", style="dim")
    return text


class ChannelGrid(ScrollableContainer):
    """Lays cards out in rows of ``columns``; keeps the selected card in view."""

    def __init__(self, letters: list[str]) -> None:
        super().__init__(id="channels")
        self.letters = letters
        self.cards = {letter: ChannelCard(letter) for letter in letters}
        self.selected = letters[0] if letters else ""
        self.columns = 1
        self.off_screen = Static("", id="off-screen")
        self._off_text = Text("")

    def compose(self) -> Iterator[Widget]:
        yield from self.cards.values()
        yield self.off_screen

    def hidden_letters(self) -> tuple[list[str], list[str]]:
        """Channels not wholly in view: those above, those below."""
        top = self.scroll_offset.y
        bottom = top + self.scrollable_content_region.height
        above, below = [], []
        for letter, card in self.cards.items():
            region = card.virtual_region
            if region.height == 0:
                continue  # not laid out yet
            if region.y < top:
                above.append(letter)
            elif region.bottom > bottom:
                below.append(letter)
        return above, below

    def show_off_screen(self) -> None:
        markers = {x: c.snapshot.alarm_marker for x, c in self.cards.items()
                   if c.snapshot is not None}
        text = off_screen_text(*self.hidden_letters(), markers)
        if text != self._off_text:
            self._off_text = text
            self.off_screen.update(text)
            self.off_screen.display = bool(text.plain)

    def on_resize(self) -> None:
        columns = max(1, self.size.width // CARD_MIN_WIDTH)
        if columns != self.columns:
            self.columns = columns
            self.styles.grid_size_columns = columns

    def update(self, snapshots: list[ChannelSnapshot], *, high_on: bool, medium_on: bool
               ) -> None:
        """Give every card its snapshot and its flash phase (HIGH 2 Hz, MEDIUM 0.5 Hz)."""
        for snap in snapshots:
            card = self.cards.get(snap.letter)
            if card is not None:
                flash_on = high_on if snap.alarm_marker == "***" else medium_on
                card.show(snap, selected=snap.letter == self.selected, flash_on=flash_on)
        self.show_off_screen()

    def select(self, letter: str) -> None:
        if letter in self.cards:
            self.selected = letter
            self.cards[letter].scroll_visible(animate=False)

    def move(self, step: int) -> str:
        """Move the selection by ``step`` cards (±1 across, ±columns down/up)."""
        if not self.letters:
            return ""
        index = self.letters.index(self.selected) if self.selected in self.letters else 0
        index = max(0, min(len(self.letters) - 1, index + step))
        self.select(self.letters[index])
        return self.selected
