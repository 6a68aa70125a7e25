"""The main screen: every channel's card, the alarm banner, selection."""

from __future__ import annotations

from tests.tui.conftest import UiBench
from tui.widgets.channel_card import render_card


async def test_every_channel_has_a_card_with_units(ui: UiBench) -> None:
    await ui.pilot.pause(0.3)
    cards = ui.app.grid.cards
    assert list(cards) == ["A", "B", "C", "D"]
    text = render_card(ui.ws.channel("A"), 40).plain
    assert "A" in text and "mL/h" in text and "mmHg" in text and "IDLE" in text


async def test_letters_and_arrows_select_a_channel(ui: UiBench) -> None:
    await ui.pilot.press("c")
    assert ui.app.grid.selected == "C"
    await ui.pilot.press("left")
    assert ui.app.grid.selected == "B"
    await ui.pilot.press("down")  # one row down: as many cards on as there are columns
    assert ui.app.grid.selected == ui.ws.letters[min(1 + ui.app.grid.columns, 3)]
