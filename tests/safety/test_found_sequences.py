"""Sequences the stateful safety suite found, kept as plain regression tests (shrunk steps).

Each test drives the same coupled system (``SafetyMachine``) by hand, with the rules in the
order Hypothesis shrank them to, and checks every invariant. A test marked ``xfail(strict=True)``
is a hazard still present in the code: when its fix lands the test passes, strict xfail fails,
and the mark must go.
"""

from __future__ import annotations

import random

import pytest

from channels.planning import InfusionOrder
from dbc.vocabulary import EndAction

from . import orders
from .machine import SafetyMachine


def fitting(machine: SafetyMachine, letter: str, drug_id: str = "basic-infusion") -> int:
    """The first concentration of ``drug_id`` whose container goes on ``letter``'s module."""
    drug = machine.ws.care_area.drug(drug_id)
    kind = machine.rig.config.channel(letter).kind
    return next(i for i, c in enumerate(drug.concentrations) if orders.fits(c, kind))


@pytest.mark.parametrize("letter", ["A", "B"])
@pytest.mark.parametrize("end_action", [EndAction.STOP, EndAction.CONTINUE])
def test_h13_kvo_the_bus_cannot_carry_is_refused_before_sending(
        machine: SafetyMachine, letter: str, end_action: EndAction) -> None:
    # Shrunk: program_out_of_range(case=0, drug=0, letter='A') -> EncodeError escaped the API.
    order = InfusionOrder(drug_id="basic-infusion", concentration=fitting(machine, letter),
                          rate_ml_h=2.0, vtbi_ml=20.0, end_action=end_action, kvo_ml_h=25.0)
    assert machine.program_order(letter, order, then_start=False) is False  # refused...
    assert "KVO" in machine.steps[-1]  # ...for the KVO, with a reason
    assert not machine.rig.modules[letter].firmware.program.pending  # nothing reached the pump
    machine.wait_short(5.0)  # retries, lost-module detection and the tick go on
    machine.safe()


def _infusing(machine: SafetyMachine, letter: str, rate_ml_h: float = 120.0,
              vtbi_ml: float = 50.0, drug_id: str = "basic-infusion") -> None:
    order = InfusionOrder(drug_id=drug_id, concentration=fitting(machine, letter, drug_id),
                          rate_ml_h=rate_ml_h, vtbi_ml=vtbi_ml)
    assert machine.program_order(letter, order, then_start=True), machine.steps


@pytest.mark.parametrize("letter", ["A", "B"])
def test_h18_a_module_silent_across_a_workstation_restart_is_alarmed(
        machine: SafetyMachine, letter: str) -> None:
    # Shrunk: both infusing; drop 100 % of B's frames for 20 s; workstation restart (2 s
    # down); wait 20 s -> "module not heard for 5.1 s (pump INFUSING), no alarm".
    _infusing(machine, letter)
    machine.wire_fault(letter=letter, kind="drop", p=1.0, seconds=20.0)
    machine.restart_workstation(downtime=2.0)
    machine.wait_medium(seconds=20.0)
    machine.safe()


@pytest.mark.parametrize("letter", ["A", "B"])
def test_h7_a_command_in_flight_when_its_module_goes_silent_ends_in_a_channel_error(
        machine: SafetyMachine, letter: str) -> None:
    # Shrunk: infusing; module silent for 5 s; wait 1.5 s; pause -> TimeoutError escaped.
    _infusing(machine, letter)
    machine.wire_fault(letter=letter, kind="silent", p=1.0, seconds=5.0)
    machine.wait_short(seconds=1.0)
    machine.pause(letter)  # must end: acknowledged or refused with a reason
    machine.wait_medium(seconds=10.0)
    machine.safe()


@pytest.mark.parametrize(("letter", "drug_id"), [("A", "basic-infusion"), ("B", "morphine")])
def test_h2_an_occluded_line_never_stops_silently(machine: SafetyMachine, letter: str,
                                                  drug_id: str) -> None:
    # Shrunk (baseline, syringe): B 8.3 mL/h; occlusion at B; wait 180 + 60 + 600 s
    # -> "silent stop: pump ALARM for 5.2 s (the nurse started it), no MEDIUM or HIGH alarm".
    _infusing(machine, letter, rate_ml_h=8.3, drug_id=drug_id)
    machine.pump_fault(letter=letter, fault="occlusion")
    machine.wait_long(seconds=600.0)
    machine.safe()


@pytest.mark.parametrize(("letter", "rate_ml_h", "vtbi_ml"),
                         [("B", 237.5, 2.0), ("A", 999.0, 3.0)])
def test_h19_no_more_than_the_vtbi_reaches_the_patient(machine: SafetyMachine, letter: str,
                                                       rate_ml_h: float, vtbi_ml: float) -> None:
    # Shrunk (baseline): B 2 mL at 237.5 mL/h, end KVO; wait -> "over-infusion: 2.203 mL
    # delivered, 2.000 mL authorised (allowed 2.200 mL with the tolerance)".
    _infusing(machine, letter, rate_ml_h=rate_ml_h, vtbi_ml=vtbi_ml)
    machine.wait_long(seconds=60.0)
    machine.safe()


@pytest.mark.parametrize("letter", ["A", "B"])
def test_h5_an_acknowledged_high_alarm_that_persists_sounds_again(machine: SafetyMachine,
                                                                  letter: str) -> None:
    # Shrunk (baseline): B infusing; battery low at B; wait 600 s (depleted, HIGH);
    # acknowledge it; wait 180 s -> "HIGH alarm BATTERY_DEPLETED acknowledged 125 s ago, its
    # condition persists, and it is silent".
    _infusing(machine, letter, rate_ml_h=5.0)
    machine.pump_fault(letter=letter, fault="battery-low")
    machine.wait_long(seconds=600.0)
    high = [a for a in machine.ws.active_alarms()
            if a.key.source == letter and a.priority.name == "HIGH"]
    assert high, [str(a.key) for a in machine.ws.active_alarms()]
    machine.acknowledge(index=machine.ws.active_alarms().index(high[0]))
    machine.wait_long(seconds=180.0)
    machine.safe()


# -- sequences from issues 9 and 14, replayed: the invariants catch each on e2757c8 ------------

def test_h1_a_secondary_after_kvo_never_returns_to_the_full_primary_rate(
        machine: SafetyMachine) -> None:
    # Caught on e2757c8: "over-infusion: 15.937 mL delivered, 15.082 mL authorised".
    _infusing(machine, "A", rate_ml_h=120.0, vtbi_ml=10.0)
    machine.wait_long(seconds=600.0)  # VTBI done: KVO
    order = InfusionOrder(drug_id="basic-infusion", concentration=fitting(machine, "A"),
                          rate_ml_h=100.0, vtbi_ml=5.0)
    machine.nurse("secondary A", lambda ws: ws.secondary("A", order, confirm=True, user="rn"))
    machine.wait_long(seconds=600.0)
    machine.wait_long(seconds=600.0)
    machine.safe()


@pytest.mark.parametrize("letter", ["A", "B"])
def test_h14_a_reboot_while_infusing_is_alarmed(machine: SafetyMachine, letter: str) -> None:
    # Caught on e2757c8: "silent stop: pump PROGRAMMED for 5.2 s (the nurse started it)".
    _infusing(machine, letter)
    machine.pump_fault(letter=letter, fault="reboot")
    machine.wait_medium(seconds=10.0)
    machine.safe()


@pytest.mark.parametrize("seed", [1, 3])
@pytest.mark.parametrize("letter", ["A", "B"])
def test_h16_lost_acknowledgements_never_leave_the_view_empty(machine: SafetyMachine,
                                                             letter: str, seed: int) -> None:
    # Caught on e2757c8 (wire seeds 1 and 3): "the workstation shows drug '', the pump runs
    # 'Basic infusion (no drug)' (PRIMARY) for 3.2 s" after a start whose acks were corrupted.
    machine.rig.rng = random.Random(seed)
    order = InfusionOrder(drug_id="basic-infusion", concentration=fitting(machine, letter),
                          rate_ml_h=120.0, vtbi_ml=50.0)
    assert machine.program_order(letter, order, then_start=False), machine.steps
    machine.wire_fault(letter=letter, kind="corrupt", p=0.7, seconds=5.0)
    machine.start(letter)
    machine.wait_medium(seconds=20.0)
    machine.safe()
