"""H3, H4, H10 and H13 end to end: workstation API -> CAN (virtual) -> simulated modules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.controller import ChannelError
from channels.planning import BolusOrder, InfusionOrder
from tests.integration.conftest import Bench
from workstation.api import ProgrammingBlocked
from workstation.eventlog import EventKind
from workstation.vocabulary import EndAction

FENTANYL = InfusionOrder(drug_id="fentanyl", dose=50, vtbi_ml=50)  # 50 mcg/mL -> 1 mL/h


async def running(b: Bench, letter: str, order: InfusionOrder) -> None:
    await b.api.program(letter, order)
    await b.api.start(letter)
    await b.until(lambda: b.api.channel(letter).state == "INFUSING", 3, f"{letter} infusing")


async def test_h13_a_kvo_the_bus_cannot_carry_is_refused_and_supervision_goes_on(
        bench: Bench) -> None:
    ws = bench.api
    order = InfusionOrder(drug_id="fentanyl", rate_ml_h=2, vtbi_ml=20,
                          end_action=EndAction.STOP, kvo_ml_h=25)
    with pytest.raises(ProgrammingBlocked, match="KVO"):
        await ws.program("B", order)
    assert bench.module("B").firmware.program.pending_id == 0  # nothing was sent
    assert any("blocked" in r.message for r in bench.log_rows(EventKind.PROGRAM, channel="B"))
    # Supervision still runs: the other channel programs and starts, commands are answered.
    await running(bench, "A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100,
                                            vtbi_ml=500))
    supervisor_tasks = [t for t in ws.supervisor.__dict__.values()
                        if hasattr(t, "done") and callable(t.done)]
    assert not any(t.done() for t in supervisor_tasks)


async def test_h4_a_second_bolus_within_the_interval_is_refused_with_the_wait(
        bench: Bench) -> None:
    ws = bench.api
    await running(bench, "B", FENTANYL)
    await ws.bolus("B", BolusOrder(dose=25))
    await bench.until(lambda: ws.supervisor.controllers["B"].bolus is None or
                      bench.module("B").firmware.delivered.bolus_ml > 0.45, 5, "bolus given")
    with pytest.raises(ProgrammingBlocked) as refused:
        await ws.bolus("B", BolusOrder(dose=25))
    assert "at least 5 min" in str(refused.value) and "next bolus" in str(refused.value)
    blocked = [r for r in bench.log_rows(EventKind.PROGRAM, channel="B")
               if "blocked" in r.message]
    assert blocked and "next bolus" in blocked[-1].message


async def test_h10_one_patient_weight_per_workstation(bench: Bench) -> None:
    ws = bench.api
    assert ws.patient_weight_kg == 70.0  # the demo configuration's weight
    norad = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50)
    plan = await ws.program("B", norad)
    assert plan.weight_kg == 70.0
    with pytest.raises(ProgrammingBlocked) as refused:
        await ws.program("B", norad.model_copy(update={"weight_kg": 120}))
    text = str(refused.value)
    assert "120 kg" in text and "70 kg" in text and "set_patient_weight" in text
    ws.set_patient_weight(72.5, user="rn-jones")
    assert ws.patient_weight_kg == 72.5
    rows = [r for r in bench.log_rows(EventKind.USER) if "patient weight" in r.message]
    assert rows and rows[-1].user == "rn-jones" and "72.5 kg" in rows[-1].message
    plan = await ws.program("B", norad)
    assert plan.weight_kg == 72.5


async def test_h10_duplicate_drug_check_covers_a_paused_channel(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(channels=4)
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await running(b, "B", FENTANYL)
        await ws.pause("B")
        await b.until(lambda: ws.channel("B").state == "PAUSED", 3, "B paused")
        assert ws.check("D", FENTANYL).duplicates == ("B",)
    finally:
        await b.close()


@pytest.mark.parametrize(("letter", "order"), [
    ("A", InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50)),  # a syringe on a pump
    ("B", InfusionOrder(drug_id="plasma-lyte-148", concentration=1, rate_ml_h=80,
                        vtbi_ml=500)),  # a 500 mL bag on a syringe driver
], ids=["syringe-on-volumetric", "bag-on-syringe"])
async def test_h10_a_container_must_fit_the_module(bench: Bench, letter: str,
                                                   order: InfusionOrder) -> None:
    with pytest.raises(ProgrammingBlocked, match="module"):
        await bench.api.program(letter, order)
    assert bench.module(letter).firmware.program.pending_id == 0


async def test_h3_titration_after_a_library_change_never_falls_back_to_concentration_0(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory()
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        # Fentanyl 1000 mcg / 100 mL (10 mcg/mL) on the volumetric channel, 20 mcg/h = 2 mL/h.
        await running(b, "A", InfusionOrder(drug_id="fentanyl", concentration=1, dose=20,
                                            vtbi_ml=100))
        await b.stop_workstation()
        # Restarted with the cardiac profile, whose fentanyl is 2500 mcg / 50 mL only.
        b.config = b.config.model_copy(update={"care_area": "cardiac-icu"})
        ws = await b.start_workstation()
        snap = await b.until(lambda: (s := ws.channel("A")).drug and s, 5, "adopted")
        assert snap.concentration.startswith("1000 mcg / 100 mL")
        with pytest.raises(ChannelError, match="1000 mcg / 100 mL"):
            await ws.titrate("A", dose=40)
        assert b.module("A").firmware.motor_rate() == pytest.approx(2.0)
        with pytest.raises(ChannelError, match="concentration"):
            await ws.bolus("A", BolusOrder(dose=25))
        plan = await ws.titrate("A", rate_ml_h=3)  # by rate: the dose follows the real bag
        assert plan.concentration.startswith("1000 mcg / 100 mL")
        assert plan.dose == pytest.approx(30)
        await b.until(lambda: b.module("A").firmware.motor_rate() == pytest.approx(3.0), 3,
                      "3 mL/h")
    finally:
        await b.close()
