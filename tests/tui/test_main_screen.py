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


async def test_space_pauses_audio_even_in_the_pin_dialog(ui: UiBench) -> None:
    from pumps.module import Fault
    from tui.screens.dialogs import PinScreen
    from workstation.alarms import AudioState

    ui.module("B").inject(Fault.BATTERY_LOW)
    await ui.until(lambda: ui.ws.indicator().audio is AudioState.ON, what="battery alarm")
    await ui.pilot.press("ctrl+k")  # lock
    await ui.pilot.press("ctrl+k")  # the PIN dialog opens
    await ui.until(lambda: isinstance(ui.app.screen, PinScreen), what="PIN dialog")
    await ui.pilot.press("space")
    assert ui.ws.indicator().audio is AudioState.PAUSED
    from tests.tui.users_support import NAME, PIN, with_user
    ui.app.screen.users = with_user(ui, ui.ws.event_log.path.parent)  # type: ignore[attr-defined]
    await ui.pilot.press(*NAME, "enter", *PIN, "enter")
    await ui.until(lambda: not ui.app.locked, what="unlocked")
