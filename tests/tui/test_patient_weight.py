"""One patient, one weight (issue 12 point 2): entered once with who and when, shown in the
header and on weight-based cards, used by every form; changing it says what happens to the
running weight-based infusions (the pumps keep their mL/h, the dose shown is recomputed)."""

from __future__ import annotations

from textual.widgets import Input, Select, Static

from channels.events import EventKind
from channels.planning import InfusionOrder
from tests.tui.conftest import UiBench
from tui.screens.patient_weight import PatientWeightScreen
from tui.screens.program import ProgramScreen
from tui.widgets.channel_card import render_card
from tui.widgets.station_header import render_header


async def test_weight_change_keeps_ml_h_recomputes_the_dose_and_is_logged(ui: UiBench) -> None:
    assert ui.ws.patient_weight_kg == 70  # the demo patient
    await ui.ws.program("B", InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50))
    await ui.ws.start("B")
    await ui.until(lambda: ui.ws.channel("B").state == "INFUSING", what="B infusing")
    rate, dose = ui.ws.channel("B").rate_ml_h, ui.ws.channel("B").dose or 0.0
    new_dose = f"{rate * 80 / 60 / 80:.3g}"  # 80 mcg/mL at the same mL/h, for 80 kg
    program_id = ui.module("B").firmware.program.active_id
    assert "70 kg" in render_header(ui.ws, locked=False, width=160).plain
    assert "70 kg" in render_card(ui.ws.channel("B"), 60).plain
    ui.app.user = "rn-jones"

    await ui.pilot.press("ctrl+w")
    screen = ui.app.screen
    assert isinstance(screen, PatientWeightScreen)
    assert "70 kg (set by configuration)" in str(screen.query_one("#weight-now", Static).content)
    screen.query_one("#new-weight", Input).value = ""
    await ui.pilot.press(*"80")
    effects = str(screen.query_one("#weight-effects", Static).content)
    assert "KEEPS ITS mL/h" in effects and "nothing is sent" in effects
    assert f"B: Noradrenaline stays {rate:g} mL/h; dose {dose:.3g} → {new_dose} mcg/kg/min at " \
        "80 kg" in effects
    await ui.pilot.press("enter")
    await ui.until(lambda: not isinstance(ui.app.screen, PatientWeightScreen), what="closed")

    snap = ui.ws.channel("B")
    assert ui.ws.patient_weight_kg == 80 and snap.weight_kg == 80
    assert snap.rate_ml_h == rate and snap.dose_text == f"{new_dose} mcg/kg/min"
    assert ui.module("B").firmware.program.active_id == program_id  # the pump untouched
    assert "80 kg" in render_header(ui.ws, locked=False, width=160).plain
    assert "80 kg" in render_card(snap, 60).plain
    set_row = ui.ws.event_log.query(kinds=[EventKind.USER], text="patient weight set")[-1]
    assert set_row.user == "rn-jones" and "80 kg" in set_row.message
    moved = ui.ws.event_log.query(channel="B", text="new patient weight")[-1]
    assert moved.user == "rn-jones" and moved.data["step"] == "reweighed"

    # Every form uses it, locked: the program form's weight is the workstation's.
    await ui.pilot.press("d", "1")
    await ui.until(lambda: isinstance(ui.app.screen, ProgramScreen), what="program form")
    form = ui.app.screen
    form.query_one("#drug", Select).value = "noradrenaline"
    await ui.pilot.pause()
    weight = form.query_one("#weight", Input)
    assert weight.value == "80" and weight.disabled


async def test_cancel_changes_nothing(ui: UiBench) -> None:
    await ui.pilot.press("ctrl+w")
    screen = ui.app.screen
    assert isinstance(screen, PatientWeightScreen)
    screen.query_one("#new-weight", Input).value = "95"
    await ui.pilot.press("escape")
    assert ui.ws.patient_weight_kg == 70
    assert not ui.ws.event_log.query(text="patient weight set to 95")
