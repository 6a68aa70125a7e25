"""The program form's flow as a nurse types it (issue 12.3): Find with other names, Back
returns to the field, Tab reaches a greyed send button that says why, x ticks, and the
keystrokes a program by dose and a titration take."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from tests.tui.conftest import UiBench, make_bench
from tests.tui.test_programming_ui import NORAD_80KG, start_via_api, text
from tui.screens.form_parts import Tick
from tui.screens.program import ProgramScreen, ReviewScreen
from tui.screens.titrate import TitrateScreen


@pytest.fixture
async def ui(tmp_path: Path) -> AsyncIterator[UiBench]:
    async for bench in make_bench(tmp_path):
        bench.ws.set_patient_weight(80.0, user="rn-test")
        yield bench


class Keys:
    """Presses keys and counts them: what the nurse's fingers do."""

    def __init__(self, ui: UiBench) -> None:
        self.ui, self.count = ui, 0

    async def __call__(self, *keys: str) -> None:
        self.count += len(keys)
        await self.ui.pilot.press(*keys)


async def program_norad_by_dose(ui: UiBench, keys: Keys, letter: str, dose: str) -> None:
    await keys(letter.lower(), "1")
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="program form")
    await keys(*"norepi")  # another name of noradrenaline
    await keys("enter")  # on to the first empty field: the container in hand
    await ui.until(lambda: ui.app.screen.focused is ui.app.screen.query_one("#concentration"))
    await keys("enter", "down", "enter")  # open the list, take the first syringe
    await ui.until(lambda: ui.app.screen.focused is ui.app.screen.query_one("#dose"),
                   what="on to the dose")
    await keys(*dose, "enter")
    await ui.until(lambda: isinstance(ui.app.screen, ReviewScreen), what="review")


async def test_program_by_dose_and_titration_keystrokes(ui: UiBench) -> None:
    keys = Keys(ui)
    await program_norad_by_dose(ui, keys, "B", "0.1")
    await keys("enter")  # Confirm and start (nothing to tick)
    await ui.until(lambda: ui.ws.channel("B").state == "INFUSING", what="B infusing")
    assert ui.ws.channel("B").dose_text == "0.1 mcg/kg/min"
    # 17; was 22: Enter to open the drug list, type, Enter, then a Tab to the container and
    # three Tabs (weight, mode, dose) after it.
    assert keys.count == 2 + 6 + 1 + 3 + 4 + 1
    keys.count = 0
    await keys("5")
    await ui.until(lambda: isinstance(ui.app.screen, TitrateScreen), what="titrate form")
    await keys(*"0.12", "enter")
    await ui.until(lambda: ui.ws.channel("B").dose_text == "0.12 mcg/kg/min", what="titrated")
    assert keys.count == 6


async def test_find_shows_matches_by_other_name(ui: UiBench) -> None:
    await ui.pilot.press("b", "1")
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="program form")
    form = ui.app.screen
    assert isinstance(form, ProgramScreen)
    assert form.focused is form.query_one("#find")
    await ui.pilot.press("m")  # magnesium, midazolam, …: the list shows only those found
    found = str(form.query_one("#find-count").render())
    assert found.endswith("found") and not found.startswith(("0", "1 ")), found
    assert form.query_one("#drug", Select).value is Select.NULL
    form.query_one("#find", Input).value = ""
    await ui.pilot.press(*"epinephrine")  # adrenaline's other name
    await ui.pilot.pause()
    assert form.query_one("#drug", Select).value == "adrenaline"
    form.query_one("#find", Input).value = ""
    await ui.pilot.press(*"norepinephrine")
    await ui.pilot.pause()
    assert form.query_one("#drug", Select).value == "noradrenaline"
    assert "1 found" in str(form.query_one("#find-count").render())


async def test_back_from_review_returns_to_the_dose_not_the_drug(ui: UiBench) -> None:
    keys = Keys(ui)
    await program_norad_by_dose(ui, keys, "B", "0.1")
    await ui.pilot.press("escape")  # Back
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="back on the form")
    form = ui.app.screen
    await ui.until(lambda: form.focused is form.query_one("#dose"), what="focus on the dose")
    await ui.pilot.press("enter")  # the same Enter reviews again, never opens the drug list
    await ui.until(lambda: isinstance(ui.app.screen, ReviewScreen), what="review again")


async def test_tab_reaches_the_greyed_confirm_which_says_why_and_x_ticks(ui: UiBench) -> None:
    await start_via_api(ui, "B", NORAD_80KG)
    keys = Keys(ui)
    await program_norad_by_dose(ui, keys, "D", "0.1")  # same drug as B: a tick is needed
    review = ui.app.screen
    assert isinstance(review, ReviewScreen)
    tick = review.query_one(Tick)
    assert review.focused is tick
    assert "x (or Enter on it); Space is audio pause" in text(review)
    await ui.pilot.press("tab")
    assert review.focused is review.query_one("#confirm")  # reachable while greyed
    assert "Confirm and start is greyed: tick each 'I confirm' box" in text(review)
    await ui.pilot.press("enter")  # says why, sends nothing
    await ui.pilot.pause(0.2)
    assert ui.app.screen is review and not ui.ws.channel("D").program_pending
    await ui.pilot.press("shift+tab", "x")
    assert tick.value and "greyed" not in text(review)
    await ui.pilot.press("tab", "enter")
    await ui.until(lambda: ui.ws.channel("D").state == "INFUSING", what="D infusing")


