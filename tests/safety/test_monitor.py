"""The harness and its invariants themselves: a normal infusion is clean, and each invariant
catches what it is meant to when the system under test is sabotaged on purpose."""

from __future__ import annotations

import pytest

from channels.planning import InfusionOrder
from dbc.frames import PrimaryPage, Status
from dbc.vocabulary import PumpState

from .machine import SafetyMachine
from .monitor import SafetyViolation
from .test_found_sequences import fitting


def _start(machine: SafetyMachine, letter: str, rate_ml_h: float, vtbi_ml: float) -> None:
    order = InfusionOrder(drug_id="basic-infusion", concentration=fitting(machine, letter),
                          rate_ml_h=rate_ml_h, vtbi_ml=vtbi_ml)
    assert machine.program_order(letter, order, then_start=True), machine.steps


@pytest.mark.parametrize("letter", ["A", "B"])
def test_a_normal_infusion_runs_clean_and_delivers_its_rate(machine: SafetyMachine,
                                                            letter: str) -> None:
    _start(machine, letter, 36.0, 50.0)
    machine.wait_long(60.0)
    machine.safe()
    shown = machine.ws.channel(letter)
    assert shown.state == "INFUSING" and shown.programmed_rate_ml_h == 36.0
    assert shown.volume_infused_ml == pytest.approx(0.6, abs=0.1)  # 36 mL/h for 60 s
    assert machine.monitor.checks > 1000  # every 50 ms quantum was checked


@pytest.mark.parametrize("letter", ["A", "B"])
def test_a_motor_faster_than_confirmed_is_caught(machine: SafetyMachine, letter: str) -> None:
    _start(machine, letter, 20.0, 50.0)
    program = machine.rig.modules[letter].firmware.program
    program.active = {**program.active, PrimaryPage.PAGE: PrimaryPage(rate_ml_h=40.0,
                                                                      vtbi_ml=50.0)}
    with pytest.raises(SafetyViolation, match="40 mL/h"):
        machine.wait_short(0.3)


@pytest.mark.parametrize("letter", ["A", "B"])
def test_a_stop_nobody_alarms_is_caught(machine: SafetyMachine, letter: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _start(machine, letter, 20.0, 50.0)
    monkeypatch.setattr(machine.ws.supervisor.alarms, "raise_", lambda *a, **k: [])
    machine.pump_fault(letter=letter, fault="occlusion")
    with pytest.raises(SafetyViolation, match=r"silent stop|not heard"):
        machine.wait_long(180.0)  # the pressure builds up to the limit, the pump stops


def test_a_screen_that_stops_following_the_pump_is_caught(machine: SafetyMachine,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _start(machine, "A", 20.0, 50.0)
    station = machine.ws.supervisor
    on_frame = station.on_frame
    monkeypatch.setattr(station, "on_frame", lambda bus, frame: None if isinstance(
        frame, Status) else on_frame(bus, frame))
    machine.rig.modules["A"].firmware._set_state(PumpState.PAUSED,
                                                 machine.rig.modules["A"].firmware.mode)
    machine.monitor.nurse_running("A", False)
    with pytest.raises(SafetyViolation, match="shows state"):
        machine.wait_long(15.0)
