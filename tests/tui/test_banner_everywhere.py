"""A HIGH alarm is never hidden: the banner (``***``, channel, text) stays on the main screen's
row, on top, in every screen and dialog, at the smallest and the largest supported size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from channels.planning import InfusionOrder
from pumps.module import Fault
from tests.tui.conftest import UiBench, make_bench
from tests.tui.test_snapshots import screen_text
from tui.screens.program import ProgramScreen, ReviewScreen
from workstation.alarms import Priority

SIZES = [(80, 24), (160, 50)]
FLUID = InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100, vtbi_ml=500)


@pytest.fixture(params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def alarmed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UiBench]:
    """A occluded (HIGH), C infusing a fluid, C selected."""
    async for ui in make_bench(tmp_path, size=request.param):
        await occlude_a_with_c_running(ui)
        yield ui


async def occlude_a_with_c_running(ui: UiBench) -> None:
    for letter in "AC":
        await ui.ws.program(letter, FLUID)
        await ui.ws.start(letter)
    await ui.until(lambda: ui.ws.channel("C").state == "INFUSING", what="C infusing")
    ui.module("A").inject(Fault.OCCLUSION, 1)
    await ui.until(lambda: ui.ws.indicator().priority is Priority.HIGH, timeout=10,
                   what="HIGH occlusion alarm on A")
    await ui.pilot.press("c")


def banner_row(ui: UiBench) -> str:
    """Row 1, under the header: where the nurse looks for alarms on every screen."""
    return screen_text(ui.app).splitlines()[1]


async def assert_banner(ui: UiBench, where: str) -> None:
    await ui.pilot.pause(0.3)
    row = banner_row(ui)
    assert "*** A" in row and "cclusion" in row, f"{where}: banner row reads {row!r}"


# keys from the main screen (channel C selected) -> the dialog they open
DIALOGS = [("1", "program"), ("5", "titrate"), ("6", "bolus"), ("7", "secondary"),
           ("ctrl+f", "simulator"), ("question_mark", "help"), ("enter", "action menu"),
           ("4", "stop question"), ("ctrl+q", "quit question")]


async def test_banner_on_top_of_every_dialog(alarmed: UiBench) -> None:
    ui = alarmed
    await assert_banner(ui, "main screen")
    for key, name in DIALOGS:
        await ui.pilot.press(key)
        await ui.until(lambda: ui.app.screen is not ui.app.screen_stack[0], what=name)
        await assert_banner(ui, name)
        await ui.pilot.press("escape")
        await ui.until(lambda: ui.app.screen is ui.app.screen_stack[0], what=f"{name} closed")


async def test_banner_over_the_program_form_and_its_review(alarmed: UiBench) -> None:
    ui = alarmed
    await ui.pilot.press("1")
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="program form")
    form = ui.app.screen
    assert isinstance(form, ProgramScreen)
    form.query_one("#drug").value = "noradrenaline"  # type: ignore[attr-defined]
    await ui.pilot.pause()
    form.query_one("#dose").value = "0.1"  # type: ignore[attr-defined]
    await ui.pilot.pause()
    await assert_banner(ui, "program form, filled in")
    # The form is laid out below the banner: its top border never covers row 1.
    assert form.query_one(".form-dialog").region.y >= 2
    form.query_one("#dose").focus()
    await ui.pilot.press("enter")
    await ui.until(lambda: isinstance(ui.app.screen, ReviewScreen), what="review")
    await assert_banner(ui, "review")
    assert ui.app.screen.query_one(".form-dialog").region.y >= 2
