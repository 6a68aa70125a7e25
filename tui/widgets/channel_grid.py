"""All channels at once: cards in as many columns as the terminal is wide, scrolling beyond."""

from __future__ import annotations

from collections.abc import Iterator

from textual.containers import ScrollableContainer
from textual.widget import Widget

from tui.widgets.channel_card import ChannelCard
from workstation.snapshot import ChannelSnapshot

CARD_MIN_WIDTH = 38


class ChannelGrid(ScrollableContainer):
    """Lays cards out in rows of ``columns``; keeps the selected card in view."""

    def __init__(self, letters: list[str]) -> None:
        super().__init__(id="channels")
        self.letters = letters
        self.cards = {letter: ChannelCard(letter) for letter in letters}
        self.selected = letters[0] if letters else ""
        self.columns = 1

    def compose(self) -> Iterator[Widget]:
        yield from self.cards.values()

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
