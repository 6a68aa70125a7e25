"""The views (event log, diagnostics, fault simulator) and the alarm keys, driven by Pilot."""

from __future__ import annotations

import itertools
from pathlib import Path

from textual.widgets import DataTable, Input, Static

from channels.events import EventKind
from channels.planning import InfusionOrder
from pumps.module import Fault
from pumps.syringe import SyringeMechanism
from tests.tui.conftest import UiBench
from tests.tui.users_support import NAME, PIN, with_user
from tui.app import InfusionApp
from tui.screens.diagnostics import DiagnosticsScreen
from tui.screens.dialogs import HelpScreen, PinScreen
from tui.screens.event_log import EventLogScreen
from tui.screens.simulator import SimulatorScreen
from tui.widgets.alarm_banner import render_banner
from workstation.alarms import AudioState, Priority
from workstation.login_guard import LoginGuard


def banner_text(ui: UiBench) -> str:
    indicator = ui.ws.indicator()
    top = next((a for a in ui.ws.active_alarms() if a.id == indicator.alarm_id), None)
    return render_banner(indicator, top, ui.ws.supervisor.clock(), 120, flash_on=True).plain


async def start_a(ui: UiBench) -> None:
    await ui.ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100,
                                           vtbi_ml=500))
    await ui.ws.start("A")
    await ui.until(lambda: ui.ws.channel("A").state == "INFUSING", what="A infusing")


async def occlude_a(ui: UiBench) -> None:
    """Start A, then clamp its line from the simulator: a HIGH occlusion alarm on A."""
    await start_a(ui)
    await ui.pilot.press("a", "ctrl+f")
    assert isinstance(ui.app.screen, SimulatorScreen)
    await ui.pilot.press("a")  # "a  Occlusion on"
    await ui.until(lambda: ui.ws.indicator().priority is Priority.HIGH and
                   ui.ws.indicator().source == "A", timeout=10, what="HIGH alarm on A")
    await ui.pilot.press("escape")
    assert ui.app.screen is ui.app.screen_stack[0]


async def open_door(ui: UiBench, letter: str = "A") -> None:
    """A MEDIUM alarm that sounds, straight on the module (no simulator: works when locked)."""
    ui.module(letter).inject(Fault.DOOR, 1)
    await ui.until(lambda: ui.ws.indicator().audio is AudioState.ON, what="an alarm sounding")


# -- event log -----------------------------------------------------------------------------
async def test_event_log_shows_rows_newest_first_and_filters(ui: UiBench) -> None:
    await ui.pilot.press("ctrl+o")
    screen = ui.app.screen
    assert isinstance(screen, EventLogScreen)
    table = screen.query_one("#log-table", DataTable)
    assert table.row_count > 0
    ids = [table.get_row_at(i)[0] for i in range(table.row_count)]
    assert ids == sorted(ids, reverse=True)
    total = table.row_count

    await ui.pilot.press("slash", *"appeared")
    assert screen.query_one(Input).value == "appeared"
    assert 0 < table.row_count < total
    assert all("appeared" in str(table.get_row_at(i)[5]) for i in range(table.row_count))
    await ui.pilot.press("q")  # typed into the filter, does not close
    assert isinstance(ui.app.screen, EventLogScreen) and table.row_count == 0

    ui.ws.supervisor.record_user_action("appeared in the log later", user="tester")
    screen.refresh_rows()  # what the 2 s timer does
    await ui.pilot.pause()
    assert table.row_count == 0  # filter is "appearedq"
    await ui.pilot.press("backspace")
    assert table.get_row_at(0)[5] == "appeared in the log later"
    assert table.get_row_at(0)[4] == "tester"
    await ui.pilot.press("escape")
    assert not isinstance(ui.app.screen, EventLogScreen)


async def test_event_log_timer_adds_only_new_rows(ui: UiBench) -> None:
    await ui.pilot.press("ctrl+o")
    screen = ui.app.screen
    assert isinstance(screen, EventLogScreen)
    table = screen.query_one("#log-table", DataTable)
    before = screen.last_id
    ui.ws.supervisor.record_user_action("a new event", user="tester")
    await ui.until(lambda: screen.last_id > before, timeout=4, what="refresh within 2 s")
    await ui.pilot.pause()
    assert table.get_row_at(0)[5] == "a new event"
    assert sorted(int(k.value or 0) for k in table.rows) == [r.id for r in reversed(screen.rows)]


# -- diagnostics ---------------------------------------------------------------------------
async def test_diagnostics_lists_modules_and_bus_counters(ui: UiBench) -> None:
    await ui.pilot.press("ctrl+d")
    screen = ui.app.screen
    assert isinstance(screen, DiagnosticsScreen)
    modules = screen.query_one("#diag-modules", DataTable)
    rows = [[str(c) for c in modules.get_row_at(i)] for i in range(modules.row_count)]
    assert [r[2] for r in rows] == ["A", "B", "C", "D"]
    assert [r[4] for r in rows] == ["100001", "100002", "100003", "100004"]
    assert [r[3] for r in rows] == ["volumetric", "syringe", "volumetric", "syringe"]
    assert all(r[7] == "yes" for r in rows)
    buses = screen.query_one("#diag-buses", DataTable)
    assert buses.row_count == 1
    rx = int(str(buses.get_cell(ui.ws.config.buses[0].name, "rx")))
    assert rx > 0
    await ui.until(lambda: screen.rates.get(ui.ws.config.buses[0].name) is not None,
                   timeout=3, what="a receive rate")
    assert (screen.rates[ui.ws.config.buses[0].name] or 0) > 0
    await ui.pilot.press("escape")
    assert not isinstance(ui.app.screen, DiagnosticsScreen)


# -- simulator and alarms ------------------------------------------------------------------
async def test_simulated_occlusion_raises_a_visible_high_alarm(ui: UiBench) -> None:
    await occlude_a(ui)
    text = banner_text(ui)
    assert "***" in text and " A " in text
    await ui.pilot.pause(0.3)
    card = ui.app.grid.cards["A"]
    alarm_text = ui.ws.channel("A").alarm_text
    assert alarm_text  # the card is narrow: the start of the text, after the marker
    assert f"*** {alarm_text[:20]}" in card.render().plain
    logged = ui.ws.event_log.query(kinds=[EventKind.USER], text="simulated fault occlusion")
    assert [(r.message, r.user) for r in logged] == [
        ("simulated fault occlusion on A (value 1)", "trainer")]


async def test_simulator_offers_syringe_faults_only_on_syringe_modules(ui: UiBench) -> None:
    await ui.pilot.press("a", "ctrl+f")
    screen = ui.app.screen
    assert isinstance(screen, SimulatorScreen)
    assert not screen.query("#fault-p")  # A is volumetric
    await ui.pilot.press("p")
    assert screen.injected == []
    await ui.pilot.press("escape", "b", "ctrl+f")
    screen = ui.app.screen
    assert isinstance(screen, SimulatorScreen) and screen.letter == "B"
    await ui.pilot.click("#fault-p")  # "Syringe disengaged", with the mouse
    assert screen.injected == [(Fault.SYRINGE_DISENGAGED, 1)]
    syringe = ui.module("B").mechanism
    assert isinstance(syringe, SyringeMechanism) and not syringe.is_engaged
    await ui.pilot.press("r")
    assert syringe.is_engaged


async def test_views_do_not_pass_channel_commands_through(ui: UiBench) -> None:
    await ui.ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100,
                                           vtbi_ml=500))
    for key in ("ctrl+o", "ctrl+d"):
        await ui.pilot.press(key, "2", "4")  # start, stop: not from a view
        await ui.pilot.pause(0.3)
        assert isinstance(ui.app.screen, (EventLogScreen, DiagnosticsScreen))
        assert ui.ws.channel("A").state != "INFUSING"
        await ui.pilot.press(key)  # the same key closes the view
        assert ui.app.screen is ui.app.screen_stack[0]


async def test_acknowledge_key(ui: UiBench) -> None:
    await occlude_a(ui)
    await ui.pilot.press("8")
    await ui.until(lambda: all(a.acknowledged for a in ui.ws.active_alarms()
                               if a.key.source == "A"), what="acknowledged")
    assert "(acknowledged)" in banner_text(ui)


async def test_audio_pause_key(ui: UiBench) -> None:
    await occlude_a(ui)
    await ui.pilot.press("space")
    assert ui.ws.indicator().audio is AudioState.PAUSED
    assert "AUDIO PAUSED" in banner_text(ui)
    await ui.pilot.pause(0.3)
    assert "AUDIO PAUSED" in ui.app.banner.render().plain


async def test_space_pauses_audio_even_in_the_log_filter(ui: UiBench) -> None:
    await open_door(ui)
    await ui.pilot.press("ctrl+o", "slash", "d")
    assert isinstance(ui.app.focused, Input)
    await ui.pilot.press("space")
    assert ui.ws.indicator().audio is AudioState.PAUSED
    assert ui.app.screen.query_one(Input).value == "d"


async def test_lock_blocks_commands_and_simulator_but_not_audio_pause(ui: UiBench) -> None:
    await ui.ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100,
                                           vtbi_ml=500))
    await ui.pilot.press("a", "ctrl+k")
    assert ui.app.locked
    await ui.pilot.press("2")
    await ui.pilot.pause(0.5)
    assert ui.ws.channel("A").state != "INFUSING"
    await ui.pilot.press("ctrl+f")
    assert not isinstance(ui.app.screen, SimulatorScreen)
    await open_door(ui)
    await ui.pilot.press("space")
    assert ui.ws.indicator().audio is AudioState.PAUSED


async def test_named_user_unlocks_and_a_wrong_pin_does_not(ui: UiBench,
                                                          tmp_path: Path) -> None:
    with_user(ui, tmp_path)
    await ui.pilot.press("ctrl+k")
    assert ui.app.locked
    await ui.pilot.press("ctrl+k")
    assert isinstance(ui.app.screen, PinScreen)
    await ui.pilot.press(*NAME, "enter", *"9999", "enter")
    assert isinstance(ui.app.screen, PinScreen) and ui.app.locked
    assert "Wrong user or PIN" in str(ui.app.screen.query_one("#pin-error", Static).content)
    ui.app.screen.guard = LoginGuard(delay_s=0)  # the next try without waiting
    await ui.pilot.press(*PIN, "enter")
    assert not isinstance(ui.app.screen, PinScreen)
    assert not ui.app.locked and ui.app.user == NAME
    refused = ui.ws.event_log.query(text="unlock refused")
    assert len(refused) == 1 and NAME in refused[0].message
    unlocked = ui.ws.event_log.query(text="keypad unlocked")
    assert unlocked[-1].user == NAME


async def test_help_lists_every_key(ui: UiBench) -> None:
    await ui.pilot.press("question_mark")
    assert isinstance(ui.app.screen, HelpScreen)
    text = str(ui.app.screen.query_one("#help-text", Static).content)
    for binding in InfusionApp.BINDINGS:
        assert not isinstance(binding, tuple)
        if binding.action.startswith("move"):
            continue
        assert binding.description in text, binding.description
        for key in binding.key.split(","):
            assert key.strip().replace("_", " ") in text, key


async def test_help_closes_with_escape(ui: UiBench) -> None:
    await ui.pilot.press("question_mark")
    assert isinstance(ui.app.screen, HelpScreen)
    await ui.pilot.press("escape")
    assert not isinstance(ui.app.screen, HelpScreen)
    assert ui.app.is_running


async def test_card_flash_phase_high_2hz_medium_half_hz(ui: UiBench) -> None:
    await occlude_a(ui)
    app, card = ui.app, ui.app.grid.cards["A"]
    highs, flashes, mediums = [], [], []
    for _ in range(16):  # 16 ticks of 0.25 s: 4 s
        app._flash_tick()
        highs.append(app.high_on)
        flashes.append(card.flash_on)
        mediums.append(app.medium_on)
    assert highs == [highs[0], not highs[0]] * 8  # toggles every 0.25 s tick: 2 Hz
    assert flashes == highs  # the HIGH card follows that phase
    changes = [i for i in range(1, 16) if mediums[i] != mediums[i - 1]]
    assert len(changes) >= 3  # MEDIUM toggles every 4 ticks: 0.5 Hz
    assert {b - a for a, b in itertools.pairwise(changes)} == {4}


# -- issue 12 point 10: what the logs and diagnostics show -----------------------------------
async def test_diagnostics_show_each_modules_power(ui: UiBench) -> None:
    await ui.pilot.press("ctrl+d")
    screen = ui.app.screen
    assert isinstance(screen, DiagnosticsScreen)
    modules = screen.query_one("#diag-modules", DataTable)

    def power(letter: str) -> str:
        row = [str(c) for c in modules.get_row_at(ui.ws.letters.index(letter))]
        return row[9]

    await ui.until(lambda: power("A").startswith("mains"), what="A on mains")
    ui.module("B").inject(Fault.BATTERY_LOW)
    await ui.until(lambda: power("B").startswith("BATTERY"), timeout=5, what="B on battery")
    assert "%" in power("B") and "min" in power("B")


async def test_event_log_view_shows_the_alarm_priority(ui: UiBench) -> None:
    await occlude_a(ui)
    await ui.pilot.press("ctrl+o")
    screen = ui.app.screen
    assert isinstance(screen, EventLogScreen)
    table = screen.query_one("#log-table", DataTable)
    kinds = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
    assert "alarm HIGH" in kinds


async def test_a_hard_limit_attempt_on_the_form_is_logged_for_the_pharmacy(ui: UiBench) -> None:
    from textual.widgets import Select

    from tui.screens.program import ProgramScreen

    ui.ws.set_patient_weight(80.0, user="rn-test")
    ui.app.user = "rn-jones"
    await ui.pilot.press("b", "1")
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="program screen")
    screen = ui.app.screen
    screen.query_one("#drug", Select).value = "noradrenaline"
    await ui.pilot.pause()
    screen.query_one("#concentration", Select).value = 0
    screen.query_one("#dose", Input).value = "3"  # 0.3 keyed as 3: above the hard maximum
    await ui.pilot.pause()
    screen.query_one("#dose", Input).focus()
    await ui.pilot.press("enter")
    rows = ui.ws.event_log.query(channel="B", text="hard limit")
    assert len(rows) == 1, [r.message for r in rows]
    row = rows[0]
    assert row.user == "rn-jones" and "Noradrenaline" in row.message
    assert "dose 3 mcg/kg/min" in row.message and "limit 1 mcg/kg/min" in row.message
    assert row.data["drug_id"] == "noradrenaline"
    limits = row.data["limits"]
    assert isinstance(limits, list) and limits[0]["value"] == 3 and limits[0]["limit"] == 1
    assert not ui.ws.channel("B").program_pending  # nothing sent


# -- issue 12 point 7: the line advisory on the review ---------------------------------------
async def test_central_only_drug_on_a_peripheral_channel_needs_a_tick_on_review(
        ui: UiBench) -> None:
    from textual.widgets import Select

    from channels.planning import InfusionOrder as Order
    from tui.screens.form_parts import Confirmations
    from tui.screens.program import ProgramScreen, ReviewScreen
    from workstation.api import ConfirmationRequired

    label = ui.ws.channel("C").label
    assert "Peripheral" in label
    order = Order(drug_id="adrenaline", concentration=1, dose=0.05, vtbi_ml=250)
    try:
        await ui.ws.program("C", order)
        raise AssertionError("programmed without confirming the line")
    except ConfirmationRequired as exc:
        assert "Dedicated central lumen" in str(exc) and label in str(exc)
    assert not ui.ws.channel("C").program_pending

    await ui.pilot.press("c", "1")
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="program form")
    form = ui.app.screen
    form.query_one("#drug", Select).value = "adrenaline"
    await ui.pilot.pause()
    form.query_one("#concentration", Select).value = 1
    form.query_one("#dose", Input).value = "0.05"
    form.query_one("#vtbi", Input).value = "250"
    await ui.pilot.pause()
    await ui.pilot.click("#review")
    await ui.until(lambda: isinstance(ui.app.screen, ReviewScreen), what="review")
    messages = ui.app.screen.query_one(Confirmations).messages
    assert any(label in m and "central" in m for m in messages), messages


async def test_a_hard_limit_attempt_on_titration_is_logged_too(ui: UiBench) -> None:
    from tui.screens.titrate import TitrateScreen

    await ui.ws.program("B", InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50))
    await ui.ws.start("B")
    await ui.until(lambda: ui.ws.channel("B").state == "INFUSING", what="B infusing")
    ui.app.user = "rn-jones"
    await ui.pilot.press("b", "5")
    await ui.until(lambda: isinstance(ui.app.screen, TitrateScreen), what="titrate screen")
    dose = ui.app.screen.query_one("#dose", Input)
    dose.value = "3"  # 0.3 keyed as 3: above the hard maximum (1 mcg/kg/min)
    await ui.pilot.pause()
    dose.focus()
    await ui.pilot.press("enter")
    rows = ui.ws.event_log.query(channel="B", text="hard limit")
    assert len(rows) == 1 and rows[0].user == "rn-jones"
    assert "dose 3 mcg/kg/min" in rows[0].message
