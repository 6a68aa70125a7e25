"""'Same drug on another channel' is confirmed once per pair of channels and program (issue
12.4): titrating again does not re-ask, it is logged once, and a change asks again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input

from channels.events import EventKind
from channels.planning import InfusionOrder
from tests.tui.conftest import UiBench, make_bench
from tests.tui.test_programming_ui import text
from tui.screens.form_parts import Tick
from tui.screens.titrate import TitrateScreen

NORAD_A = InfusionOrder(drug_id="noradrenaline", concentration=2, dose=0.1, vtbi_ml=250,
                        weight_kg=80)
NORAD_D = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50, weight_kg=80)


@pytest.fixture
async def ui(tmp_path: Path) -> AsyncIterator[UiBench]:
    async for bench in make_bench(tmp_path):
        bench.ws.set_patient_weight(80.0, user="rn-test")
        yield bench


def confirmations(ui: UiBench) -> list[str]:
    return [r.message for r in ui.ws.event_log.query(kinds=[EventKind.CONFIRMATION])
            if "Same drug" in r.message]


async def titrate(ui: UiBench, letter: str, dose: str) -> TitrateScreen:
    await ui.pilot.press(letter.lower(), "5")
    await ui.until(lambda: isinstance(ui.app.screen, TitrateScreen), what="titrate form")
    screen = ui.app.screen
    assert isinstance(screen, TitrateScreen)
    screen.query_one("#dose", Input).value = dose
    await ui.pilot.pause()
    return screen


async def until_dose(ui: UiBench, letter: str, dose: str) -> None:
    await ui.until(lambda: ui.ws.channel(letter).dose_text == f"{dose} mcg/kg/min" and
                   ui.app.screen is ui.app.screen_stack[0], what=f"{letter} at {dose}")


async def test_pair_never_confirmed_is_asked_once_then_never_again(ui: UiBench) -> None:
    # Both programmed before either ran: nobody was asked about the pair (volumetric A,
    # syringe D: both module kinds; both central lines).
    await ui.ws.program("A", NORAD_A, confirm=True)  # line advisories aside
    await ui.ws.program("D", NORAD_D, confirm=True)
    for letter in "AD":
        await ui.ws.start(letter)
    await ui.until(lambda: ui.ws.channel("A").state == ui.ws.channel("D").state == "INFUSING",
                   what="A and D infusing")
    assert confirmations(ui) == []

    screen = await titrate(ui, "A", "0.12")
    ticks = list(screen.query(Tick))
    assert [str(t.label) for t in ticks] == [
        "I confirm: Same drug already running on channel D"], text(screen)
    ticks[0].focus()
    await ui.pilot.press("x", "tab", "enter")
    await until_dose(ui, "A", "0.12")
    assert confirmations(ui) == ["A: confirmed: Same drug already running on channel D"]

    for letter, dose in (("A", "0.14"), ("D", "0.12")):  # either side of the pair
        screen = await titrate(ui, letter, dose)
        assert not screen.query(Tick), text(screen)
        await ui.pilot.press("enter")
        await until_dose(ui, letter, dose)
    assert len(confirmations(ui)) == 1  # logged once


async def test_a_new_program_asks_again(ui: UiBench) -> None:
    await ui.ws.program("A", NORAD_A, confirm=True)  # line advisories aside
    await ui.ws.start("A")
    await ui.until(lambda: ui.ws.channel("A").state == "INFUSING", what="A infusing")
    check = ui.ws.check("D", NORAD_D)
    assert check.duplicates == ("A",)
    await ui.ws.program("D", NORAD_D, confirm=True)
    await ui.ws.start("D")
    await ui.until(lambda: ui.ws.channel("D").state == "INFUSING", what="D infusing")
    assert not ui.ws.check_titration("A", dose=0.12).needs_confirmation
    assert not ui.ws.check_titration("D", dose=0.12).needs_confirmation
    # D programmed anew (same drug again): the pair is asked again, at the program and after.
    assert ui.ws.check("D", NORAD_D).duplicates == ("A",)
    await ui.ws.program("D", NORAD_D, confirm=True)
    assert not ui.ws.check_titration("A", dose=0.12).needs_confirmation
    assert len(confirmations(ui)) == 2
