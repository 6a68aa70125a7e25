"""The stateful machine's library update (H3), driven by hand on both module kinds.

A (volumetric) runs a bag whose concentration the update keeps at another index; B (syringe)
runs a syringe concentration the update withdraws. Titration keeps each line's own concentration
(by rate only once it is withdrawn); a bolus out of a withdrawn concentration is refused with the
reason, never recomputed on another.
"""

from __future__ import annotations

import pytest

from channels.druglib import Concentration
from channels.plan import Plan
from channels.planning import InfusionOrder
from workstation.api import Workstation

from . import orders
from .machine import SafetyMachine
from .monitor import SafetyViolation
from .test_found_sequences import fitting


def _by_dose(machine: SafetyMachine, letter: str, drug_id: str, dose: float) -> None:
    order = InfusionOrder(drug_id=drug_id, concentration=fitting(machine, letter, drug_id),
                          dose=dose, vtbi_ml=20.0)
    assert machine.program_order(letter, order, then_start=True), machine.steps


def _running(machine: SafetyMachine, letter: str) -> Plan:
    plan = machine.ws.running_plan(letter)
    assert plan is not None, machine.steps
    return plan


def _container(plan: Plan) -> tuple[str, Concentration | None]:
    return plan.concentration, plan.strength


def _infusing_through_an_update(machine: SafetyMachine, letter: str, drug_id: str,
                                dose: float) -> Plan:
    """Infusing ``drug_id`` by dose when the update is installed; the plan running before it."""
    _by_dose(machine, letter, drug_id, dose)
    running = _running(machine, letter)
    machine.library_update()
    machine.wait_short(seconds=1.0)
    return running


def _given_from_the_same_container(machine: SafetyMachine, letter: str, running: Plan) -> None:
    """The last action was accepted, the line still infuses its own container, and the
    invariants hold 20 s on."""
    assert "refused" not in machine.steps[-1], machine.steps
    assert _container(_running(machine, letter)) == _container(running)
    machine.wait_medium(seconds=20.0)
    machine.safe()


def test_the_update_withdraws_the_syringe_concentration_and_moves_the_bag(
        machine: SafetyMachine) -> None:
    before = {c.label for c in machine.ws.care_area.drug("noradrenaline").concentrations}
    machine.library_update()
    drug = machine.ws.care_area.drug("noradrenaline")
    labels = [c.label for c in drug.concentrations]
    assert machine.ws.library.version == "update-1"
    assert "4 mg / 50 mL (80 mcg/mL)" in before and "4 mg / 50 mL (80 mcg/mL)" not in labels
    assert labels[0] == "4 mg / 250 mL (16 mcg/mL)"  # was the third
    assert "library update update-1" in machine.steps[-1]


def test_titration_by_dose_after_an_update_keeps_a_moved_concentration(
        machine: SafetyMachine) -> None:
    # the bag: third before, first after
    running = _infusing_through_an_update(machine, "A", "noradrenaline", 0.1)
    machine.titrate("A", factor=1.5, by_dose=True)  # checks every plan it sends
    assert _running(machine, "A").dose == pytest.approx(0.15, rel=0.02)
    _given_from_the_same_container(machine, "A", running)


def test_after_an_update_a_withdrawn_concentration_is_titrated_by_rate_only(
        machine: SafetyMachine) -> None:
    # the 4 mg / 50 mL syringe, withdrawn
    running = _infusing_through_an_update(machine, "B", "noradrenaline", 0.1)
    machine.titrate("B", factor=1.5, by_dose=True)
    assert "refused" in machine.steps[-1] and "titrate by rate" in machine.steps[-1]
    machine.titrate("B", factor=1.5, by_dose=False)
    _given_from_the_same_container(machine, "B", running)


def test_a_bolus_out_of_a_withdrawn_concentration_is_refused_with_the_reason(
        machine: SafetyMachine) -> None:
    _infusing_through_an_update(machine, "B", "heparin", 18.0)
    machine.bolus("B", by_dose=True, fraction=0.5)
    assert "refused" in machine.steps[-1] and "no longer" in machine.steps[-1], machine.steps
    machine.safe()


def test_a_bolus_out_of_a_kept_concentration_is_given_from_it(machine: SafetyMachine) -> None:
    running = _infusing_through_an_update(machine, "A", "heparin", 18.0)
    machine.bolus("A", by_dose=True, fraction=0.5)
    _given_from_the_same_container(machine, "A", running)


def test_the_container_check_catches_a_plan_from_another_concentration(
        machine: SafetyMachine) -> None:
    """The check has teeth: an action that sends another container's plan is a violation."""
    _by_dose(machine, "B", "noradrenaline", 0.1)
    running = _running(machine, "B")
    other = InfusionOrder(drug_id="noradrenaline", concentration=1, dose=0.1, vtbi_ml=20.0)
    assert orders.fits(machine.ws.care_area.drug("noradrenaline").concentrations[1], "syringe")

    async def swap(ws: Workstation) -> None:
        await ws.program("B", other, confirm=True, user="rn")

    with pytest.raises(SafetyViolation, match="which holds noradrenaline"):
        machine.from_the_same_container("B", running, "titrate B (swapped)", swap)
