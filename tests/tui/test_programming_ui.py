"""Programming dialogs driven like a nurse would: program + review, limits, titrate, bolus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import Button, Input, Label, RadioButton, Select, Static

from channels.events import EventKind
from channels.planning import InfusionOrder
from pumps.module import Fault
from tests.tui.conftest import UiBench, make_bench
from tui.screens.bolus import BolusScreen
from tui.screens.form_parts import Tick
from tui.screens.program import ProgramScreen, ReviewScreen
from tui.screens.titrate import TitrateScreen

NORAD_80KG = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50, weight_kg=80)


@pytest.fixture
async def ui(tmp_path: Path) -> AsyncIterator[UiBench]:
    """Four demo channels (A, C volumetric; B, D syringe), nothing infusing, unlocked; the
    workstation's one patient weight set to the 80 kg these orders carry (H10)."""
    async for bench in make_bench(tmp_path):
        bench.ws.set_patient_weight(80.0, user="rn-test")
        yield bench


def text(screen: Screen[Any]) -> str:
    """Every static text on the screen (labels, results, check lines)."""
    return "\n".join(str(s.content) for s in screen.query(Static))


def enabled(screen: Screen[Any], button_id: str) -> bool:
    button = screen.query_one(f"#{button_id}", Button)
    return not button.disabled and not button.has_class("-gated")


async def open_program(ui: UiBench, letter: str, key: str = "1") -> ProgramScreen:
    await ui.pilot.press(letter.lower(), key)
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="program screen")
    screen = ui.app.screen
    assert isinstance(screen, ProgramScreen)
    return screen


async def fill(ui: UiBench, screen: Screen[Any], drug: str, dose: str,
               concentration: int = 0, weight: str | None = None) -> None:
    """Set the form's values directly (selects are awkward to type into), letting each change
    land before the next, as a nurse's would."""
    screen.query_one("#drug", Select).value = drug
    await ui.pilot.pause()
    screen.query_one("#concentration", Select).value = concentration
    if weight is not None:
        screen.query_one("#weight", Input).value = weight
    screen.query_one("#dose", Input).value = dose
    await ui.pilot.pause()


async def review(ui: UiBench, screen: ProgramScreen) -> ReviewScreen:
    await ui.pilot.click("#review")
    await ui.until(lambda: isinstance(ui.app.screen, ReviewScreen), what="review screen")
    review = ui.app.screen
    assert isinstance(review, ReviewScreen)
    return review


async def start_via_api(ui: UiBench, letter: str, order: InfusionOrder) -> None:
    await ui.ws.program(letter, order)
    await ui.ws.start(letter)
    await ui.until(lambda: ui.ws.channel(letter).state == "INFUSING", what=f"{letter} infusing")


async def test_program_fluid_by_rate_with_keys_and_noradrenaline_by_dose(ui: UiBench) -> None:
    # Channel A with the keyboard only: drug, container, rate, VTBI, Enter, Enter.
    screen = await open_program(ui, "A")
    assert screen.focused is screen.query_one("#find")
    await ui.pilot.press(*"plasma", "enter")  # Find, shown on screen; Enter goes on
    await ui.until(lambda: screen.query_one("#drug", Select).value == "plasma-lyte-148")
    await ui.pilot.press("enter", *"500", "enter")  # the 500 mL bag
    await ui.until(lambda: screen.query_one("#concentration", Select).value == 1)
    assert not screen.query_one("#row-mode").display  # a plain fluid: rate only
    await ui.until(lambda: screen.focused is screen.query_one("#dose"), what="on to the rate")
    await ui.pilot.press(*"125", "tab", *"250")
    assert screen.query_one("#dose", Input).value == "125"
    assert screen.query_one("#vtbi", Input).value == "250"
    assert "=  125 mL/h" in str(screen.query_one("#result", Static).content)
    await ui.pilot.press("enter")
    await ui.until(lambda: isinstance(ui.app.screen, ReviewScreen), what="review of A")
    assert "125 mL/h" in text(ui.app.screen) and "250 mL" in text(ui.app.screen)
    await ui.pilot.press("enter")  # focus is on "Confirm and start": nothing to tick
    await ui.until(lambda: ui.ws.channel("A").state == "INFUSING", what="A infusing")
    assert ui.app.screen is ui.app.screen_stack[0]  # both dialogs closed
    assert ui.ws.channel("A").rate_ml_h == 125.0

    # Channel B by dose: the review shows the dose in its unit AND the rate in mL/h.
    screen = await open_program(ui, "B")
    await fill(ui, screen, "noradrenaline", "0.1", weight="80")
    assert "0.1 mcg/kg/min =  6.0 mL/h" in str(screen.query_one("#result", Static).content)
    rev = await review(ui, screen)
    details = str(rev.query_one("#review-details", Static).content)
    assert "0.1 mcg/kg/min = 6.0 mL/h for 80 kg" in details
    assert "VTBI            50 mL" in details and "KVO at 0.5 mL/h" in details
    assert "300 mmHg" in details and "HIGH-ALERT" in text(rev)
    assert ui.ws.channel("B").label in text(rev) and "4 mg / 50 mL (80 mcg/mL)" in text(rev)
    await ui.pilot.click("#confirm")
    await ui.until(lambda: ui.ws.channel("B").state == "INFUSING", what="B infusing")
    assert ui.module("B").firmware.state.name == "INFUSING"
    assert ui.ws.channel("B").dose_text == "0.1 mcg/kg/min"


async def test_hard_limit_blocks_shows_the_limit_and_sends_nothing(ui: UiBench) -> None:
    screen = await open_program(ui, "B")
    await fill(ui, screen, "noradrenaline", "3")  # 0.3 keyed 3.0: blocked, not confirmed (H10)
    shown = str(screen.query_one("#checks", Static).content)
    assert "NOT ALLOWED" in shown and "hard limit 1 mcg/kg/min" in shown
    assert not enabled(screen, "review")
    screen.query_one("#dose", Input).focus()
    await ui.pilot.press("enter")  # Enter on the form is Review: refused while blocked
    await ui.pilot.click("#review")
    await ui.pilot.pause(0.2)
    assert ui.app.screen is screen
    assert ui.module("B").firmware.program.pending_id == 0
    assert not ui.ws.channel("B").program_pending
    # Back within limits, Review enables: the block was the limit, not the form.
    screen.query_one("#dose", Input).value = "0.1"
    await ui.pilot.pause()
    assert enabled(screen, "review")


async def test_soft_limit_needs_a_deliberate_tick_and_is_logged(ui: UiBench) -> None:
    screen = await open_program(ui, "B")
    await fill(ui, screen, "noradrenaline", "0.8")
    assert "CONFIRM" in str(screen.query_one("#checks", Static).content)
    assert enabled(screen, "review")  # soft: reviewable, confirmed on the review
    rev = await review(ui, screen)
    tick = rev.query_one("#confirm-0", Tick)
    assert "I confirm: Dose 0.8 mcg/kg/min is above the soft limit 0.5" in str(tick.label)
    assert rev.focused is tick and not enabled(rev, "confirm")
    await ui.pilot.click("#confirm")  # greyed: nothing is sent, the screen says why
    await ui.pilot.pause(0.2)
    assert ui.module("B").firmware.program.pending_id == 0 and ui.app.screen is rev
    assert "greyed: tick each 'I confirm' box above (x)" in text(rev)
    tick.focus()  # the click focused the greyed button (it stays reachable)
    await ui.pilot.press("enter")  # ticks the focused box
    assert tick.value and enabled(rev, "confirm")
    await ui.pilot.click("#confirm")
    await ui.until(lambda: ui.ws.channel("B").state == "INFUSING", what="B infusing")
    overrides = ui.ws.event_log.query(kinds=[EventKind.OVERRIDE])
    assert overrides and "soft limit" in overrides[0].message and overrides[0].user == "nurse"


async def test_same_drug_on_another_channel_warns_and_needs_confirmation(ui: UiBench) -> None:
    await start_via_api(ui, "B", NORAD_80KG)
    screen = await open_program(ui, "D")
    await fill(ui, screen, "noradrenaline", "0.1")
    assert "Same drug already running on channel B" in str(
        screen.query_one("#checks", Static).content)
    rev = await review(ui, screen)
    assert "channel B" in str(rev.query_one("#confirm-0", Tick).label)
    assert not enabled(rev, "confirm")
    await ui.pilot.click("#confirm-0")
    assert enabled(rev, "confirm")
    await ui.pilot.click("#confirm")
    await ui.until(lambda: ui.ws.channel("D").state == "INFUSING", what="D infusing")
    plan = ui.ws.supervisor.controllers["D"].plan
    assert plan is not None and plan.warnings == ("Same drug on channel B",)


async def test_titrate_from_0_1_to_0_15_shows_old_and_new_in_both_units(ui: UiBench) -> None:
    await start_via_api(ui, "B", NORAD_80KG)
    await ui.pilot.press("b", "5")
    await ui.until(lambda: isinstance(ui.app.screen, TitrateScreen), what="titrate screen")
    screen = ui.app.screen
    assert "Now: 0.1 mcg/kg/min = 6.0 mL/h" in text(screen)
    await ui.pilot.press(*"0.3")  # triple the rate: needs its own tick
    assert "Large change: 6.0 mL/h → 18.0 mL/h" in str(screen.query_one("#confirm-0", Tick).label)
    assert not enabled(screen, "confirm")
    await ui.pilot.press("backspace", "backspace", *".15")
    await ui.pilot.pause()
    result = str(screen.query_one("#result", Static).content)
    assert "0.10 → 0.15 mcg/kg/min = 6.0 → 9.0 mL/h" in result
    assert not screen.query("#confirm-0") and enabled(screen, "confirm")
    await ui.pilot.press("enter")
    await ui.until(lambda: ui.ws.channel("B").rate_ml_h == 9.0, what="B at 9.0 mL/h")
    assert ui.ws.channel("B").state == "INFUSING" and ui.app.screen is ui.app.screen_stack[0]
    titrated = ui.ws.event_log.query(kinds=[EventKind.PROGRAM], channel="B", text="titrated")
    assert titrated


async def test_titrate_refuses_with_a_clear_message(ui: UiBench) -> None:
    await ui.pilot.press("a", "5")
    await ui.until(lambda: isinstance(ui.app.screen, TitrateScreen), what="titrate screen")
    assert "not infusing" in text(ui.app.screen) and not ui.app.screen.query("#dose")
    await ui.pilot.press("escape")
    await start_via_api(ui, "B", NORAD_80KG)
    controller = ui.ws.supervisor.controllers["B"]
    assert controller.plan is not None  # as after a restart without the event log:
    controller.plan = controller.plan.model_copy(update={"drug_id": "unknown"})
    await ui.pilot.press("b", "5")
    await ui.until(lambda: isinstance(ui.app.screen, TitrateScreen), what="titrate screen")
    assert "adopted infusion without drug information: program it" in text(ui.app.screen)
    assert not ui.app.screen.query("#dose") and not ui.app.screen.query("#confirm")


async def test_bolus_of_fentanyl_within_its_limits(ui: UiBench) -> None:
    await start_via_api(ui, "D", InfusionOrder(drug_id="fentanyl", dose=50, vtbi_ml=50))
    await ui.pilot.press("d", "6")
    await ui.until(lambda: isinstance(ui.app.screen, BolusScreen), what="bolus screen")
    screen = ui.app.screen
    limits = str(screen.query_one("#limits", Static).content)
    assert "at most 100 mcg" in limits and "300 mL/h" in limits
    await ui.pilot.press(*"500")
    assert "above the maximum 100 mcg" in str(screen.query_one("#checks", Static).content)
    assert not enabled(screen, "confirm")
    await ui.pilot.press("backspace", "backspace", "backspace", *"25")
    result = str(screen.query_one("#result", Static).content)
    assert "Bolus 25 mcg =  0.5 mL  at 300 mL/h" in result
    await ui.pilot.press("enter")
    await ui.until(lambda: ui.module("D").firmware.delivered.bolus_ml > 0.4, what="bolus given")
    assert ui.app.screen is ui.app.screen_stack[0]
    # H4: the lockout the screen states is enforced: a second bolus now is NOT ALLOWED, with
    # the time until the next one.
    await ui.pilot.press("d", "6")
    await ui.until(lambda: isinstance(ui.app.screen, BolusScreen), what="bolus screen again")
    screen = ui.app.screen
    assert "at most 4 boluses and 200 mcg per hour" in \
        str(screen.query_one("#limits", Static).content)
    await ui.pilot.press(*"25")
    checks = str(screen.query_one("#checks", Static).content)
    assert "NOT ALLOWED" in checks and "next bolus in" in checks
    assert not enabled(screen, "confirm")


async def test_drug_without_bolus_has_no_form(ui: UiBench) -> None:
    await start_via_api(ui, "B", NORAD_80KG)
    await ui.pilot.press("b", "6")
    await ui.until(lambda: isinstance(ui.app.screen, BolusScreen), what="bolus screen")
    assert "No bolus is set up for Noradrenaline" in text(ui.app.screen)
    assert not ui.app.screen.query("#dose")


async def test_pump_refusal_is_shown_in_red_and_nothing_closes(ui: UiBench) -> None:
    ui.module("A").inject(Fault.DOOR)
    await ui.until(lambda: any(a.key.condition == "DOOR_OPEN" for a in ui.ws.active_alarms()),
                   what="door alarm")
    screen = await open_program(ui, "A")
    await fill(ui, screen, "sodium-chloride-0-9", "100")
    rev = await review(ui, screen)
    await ui.pilot.click("#confirm")
    error = rev.query_one("#error", Static)
    await ui.until(lambda: "DOOR_OPEN" in str(error.content), what="refusal shown")
    assert "error" in error.classes and ui.app.screen is rev
    assert enabled(rev, "confirm") and enabled(rev, "cancel")  # can retry once the door shuts
    assert ui.ws.channel("A").state != "INFUSING"


async def test_escape_cancels_without_sending(ui: UiBench) -> None:
    screen = await open_program(ui, "B")
    await fill(ui, screen, "noradrenaline", "0.1")
    await review(ui, screen)
    await ui.pilot.press("escape")  # back to the form, values kept
    await ui.until(lambda: ui.app.screen is screen, what="back on the form")
    assert screen.query_one("#dose", Input).value == "0.1"
    assert screen.query_one(".form-dialog").styles.visibility == "visible"
    await ui.pilot.press("escape")
    await ui.until(lambda: ui.app.screen is ui.app.screen_stack[0], what="main screen")
    await ui.pilot.pause(0.3)
    assert ui.module("B").firmware.program.pending_id == 0
    assert not ui.ws.event_log.query(kinds=[EventKind.PROGRAM], channel="B")
    assert ui.ws.channel("B").state == "IDLE"


async def test_switching_dose_to_rate_clears_the_number(ui: UiBench) -> None:
    ui.ws.set_patient_weight(70.0, user="rn-test")  # the demo patient's weight
    screen = await open_program(ui, "B")
    await fill(ui, screen, "noradrenaline", "4")
    screen.query_one("#by-rate", RadioButton).value = True
    await ui.pilot.pause()
    assert screen.query_one("#dose", Input).value == ""  # 4 mcg/kg/min never becomes 4 mL/h
    assert str(screen.query_one("#dose-unit", Static).content) == "mL/h"
    screen.query_one("#dose", Input).value = "6"
    await ui.pilot.pause()
    assert "6.0 mL/h = " in str(screen.query_one("#result", Static).content)
    assert "=  0.114 mcg/kg/min" in str(screen.query_one("#result", Static).content)  # 70 kg


async def test_secondary_on_a_running_primary(ui: UiBench) -> None:
    await start_via_api(ui, "A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=50,
                                               vtbi_ml=1000))
    screen = await open_program(ui, "A", key="7")
    assert not screen.query("#end-action") and screen.query("#callback")
    await fill(ui, screen, "sodium-chloride-0-9", "200", concentration=2)
    screen.query_one("#callback", Tick).value = True
    rev = await review(ui, screen)
    assert str(rev.query_one("#confirm", Button).label) == "Confirm and start secondary"
    assert "callback alarm" in text(rev)
    await ui.pilot.click("#confirm")
    await ui.until(lambda: ui.ws.supervisor.controllers["A"].secondary is not None,
                   what="secondary running")
    await ui.pilot.press("b", "7")  # B is a syringe module
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="secondary on B")
    assert "syringe module" in text(ui.app.screen) and not ui.app.screen.query("#drug")


async def test_small_terminal_keeps_results_and_buttons_visible(tmp_path: Path) -> None:
    async for ui in make_bench(tmp_path, size=(80, 24)):
        ui.ws.set_patient_weight(80.0, user="rn-test")
        await program_on_a_small_terminal(ui)


async def program_on_a_small_terminal(ui: UiBench) -> None:
    visible = Region(0, 0, 80, 24)
    screen = await open_program(ui, "B")
    await fill(ui, screen, "noradrenaline", "0.1", weight="80")
    for selector in ("#dose", "#vtbi", "#result", "#review", "#cancel"):
        region = screen.query_one(selector).region
        assert region.area and visible.contains_region(region), selector
    assert "6.0 mL/h" in str(screen.query_one("#result", Static).content)
    rev = await review(ui, screen)
    for selector in ("#review-details", "#confirm", "#cancel"):
        region = rev.query_one(selector).region
        assert region.area and visible.contains_region(region), selector
    await ui.pilot.click("#confirm")
    await ui.until(lambda: ui.ws.channel("B").state == "INFUSING", what="B infusing")


async def test_review_shows_the_drug_advisory_and_the_card_too(ui: UiBench) -> None:
    # H10: the library's notes ("Dedicated central lumen...") were loaded but never shown.
    screen = await open_program(ui, "B")
    await fill(ui, screen, "noradrenaline", "0.1")
    rev = await review(ui, screen)
    assert "Dedicated central lumen" in str(rev.query_one("#review-notes", Static).content)
    await ui.pilot.click("#confirm")
    await ui.until(lambda: ui.ws.channel("B").state == "INFUSING", what="B infusing")
    assert "Dedicated central lumen" in ui.ws.channel("B").notes
    card = ui.app.query_one("#card-B")
    await ui.until(lambda: "Dedicated central lumen" in str(card.render()), what="advisory")


async def test_a_syringe_channel_offers_only_syringe_concentrations(ui: UiBench) -> None:
    # H10: a 500 mL bag was selectable on a syringe channel.
    screen = await open_program(ui, "B")
    screen.query_one("#drug", Select).value = "plasma-lyte-148"
    await ui.pilot.pause()
    assert "No Plasma-Lyte 148 concentration fits a syringe module" in \
        str(screen.query_one("#checks", Static).content)
    screen.query_one("#drug", Select).value = "noradrenaline"
    await ui.pilot.pause()
    options = screen.query_one("#concentration", Select)._options  # (label, value) pairs
    labels = [str(label) for label, _ in options]
    assert any("4 mg / 50 mL" in x for x in labels)
    assert not any("250 mL" in x for x in labels)


async def test_titrate_shows_the_running_concentration_and_refuses_dose_when_it_left_the_library(
        ui: UiBench) -> None:
    # H3: the running bag is fentanyl 1000 mcg / 100 mL; the library now only has 2500/50.
    await start_via_api(ui, "A", InfusionOrder(drug_id="fentanyl", concentration=1, dose=20,
                                               vtbi_ml=100))
    fentanyl = ui.ws.care_area.drug("fentanyl")
    narrowed = fentanyl.model_copy(update={"concentrations": fentanyl.concentrations[:1]})
    drugs = [narrowed if d.id == "fentanyl" else d for d in ui.ws.care_area.drugs]
    ui.ws.care_area = ui.ws.care_area.model_copy(update={"drugs": drugs})
    await ui.pilot.press("a", "5")
    await ui.until(lambda: isinstance(ui.app.screen, TitrateScreen), what="titrate screen")
    screen = ui.app.screen
    shown = text(screen)
    assert "Running concentration: 1000 mcg / 100 mL (10 mcg/mL)" in shown
    assert "no longer in the" in shown and "titrate by rate" in shown
    assert str(screen.query_one("#row-dose-label", Label).content) == "New rate"
    screen.query_one("#dose", Input).value = "3"
    await ui.pilot.pause()
    assert "30 mcg/h" in str(screen.query_one("#checks", Static).content) or \
        "3.0 mL/h" in str(screen.query_one("#result", Static).content)
