"""H3, H4, H10 and H13 end to end: workstation API -> CAN (virtual) -> simulated modules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.controller import ChannelError
from channels.events import EventKind
from channels.planning import BolusOrder, InfusionOrder
from dbc.vocabulary import EndAction
from tests.integration.conftest import Bench
from workstation.api import ProgrammingBlocked

FENTANYL = InfusionOrder(drug_id="fentanyl", dose=50, vtbi_ml=50)  # 50 mcg/mL -> 1 mL/h
# Fentanyl on each module kind: the 50 mL syringe (B) and the 100 mL bag (A, 10 mcg/mL).
FENTANYL_BY_KIND = [("B", FENTANYL),
                    ("A", InfusionOrder(drug_id="fentanyl", concentration=1, dose=50,
                                        vtbi_ml=100))]
BOTH_KINDS = pytest.mark.parametrize(("letter", "order"), FENTANYL_BY_KIND,
                                     ids=["syringe", "volumetric"])


async def running(b: Bench, letter: str, order: InfusionOrder) -> None:
    await b.api.program(letter, order)
    await b.api.start(letter)
    await b.until(lambda: b.api.channel(letter).state == "INFUSING", 3, f"{letter} infusing")


@pytest.mark.parametrize(("letter", "other", "order"), [
    ("B", "A", InfusionOrder(drug_id="fentanyl", rate_ml_h=2, vtbi_ml=20,
                             end_action=EndAction.STOP, kvo_ml_h=25)),
    ("A", "B", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100, vtbi_ml=500,
                             end_action=EndAction.CONTINUE, kvo_ml_h=25)),
], ids=["syringe", "volumetric"])
async def test_h13_a_kvo_the_bus_cannot_carry_is_refused_and_supervision_goes_on(
        bench: Bench, letter: str, other: str, order: InfusionOrder) -> None:
    ws = bench.api
    with pytest.raises(ProgrammingBlocked, match="KvoRate"):
        await ws.program(letter, order)
    assert bench.module(letter).firmware.program.pending_id == 0  # nothing was sent
    assert any("blocked" in r.message and "KVO 25" in r.message
               for r in bench.log_rows(EventKind.PROGRAM, channel=letter))
    # Supervision still runs: commands on both channels are answered afterwards, and no
    # alarm says a task died.
    await running(bench, other, FENTANYL if other == "B" else
                  InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100, vtbi_ml=500))
    await running(bench, letter, order.model_copy(update={"kvo_ml_h": 1.0}))
    assert not [a for a in ws.active_alarms() if "TASK" in a.key.condition]


@BOTH_KINDS
async def test_h4_a_second_bolus_within_the_interval_is_refused_with_the_wait(
        bench: Bench, letter: str, order: InfusionOrder) -> None:
    ws = bench.api
    await running(bench, letter, order)
    await ws.bolus(letter, BolusOrder(dose=25))
    await bench.until(lambda: bench.module(letter).firmware.delivered.bolus_ml > 0, 5,
                      "bolus given")
    with pytest.raises(ProgrammingBlocked) as refused:
        await ws.bolus(letter, BolusOrder(dose=25))
    assert "at least 5 min" in str(refused.value) and "next bolus in" in str(refused.value)
    blocked = [r for r in bench.log_rows(EventKind.PROGRAM, channel=letter)
               if "blocked" in r.message]
    assert blocked and "next bolus" in blocked[-1].message


async def test_h4_the_lockout_survives_a_workstation_restart(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory()
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await running(b, "B", FENTANYL)
        await ws.bolus("B", BolusOrder(dose=25))
        await b.stop_workstation()
        ws = await b.start_workstation()
        await b.until(lambda: ws.channel("B").drug, 5, "adopted")
        assert ws.bolus_history.count_in_last_hour("fentanyl", b.clock()) == 1
        with pytest.raises(ProgrammingBlocked, match="next bolus in"):
            await ws.bolus("B", BolusOrder(dose=25))
    finally:
        await b.close()


@pytest.mark.parametrize(("area", "letter", "order", "cap"), [
    ("cardiac-icu", "B", InfusionOrder(drug_id="propofol", dose=2, vtbi_ml=50), "100 mL/h"),
    ("adult-icu", "A", InfusionOrder(drug_id="propofol", concentration=1, dose=2,
                                     vtbi_ml=100), "100 mL/h"),
], ids=["syringe", "volumetric"])
async def test_h8_a_bolus_rate_above_the_caps_is_refused(
        bench_factory: Callable[..., Bench], area: str, letter: str, order: InfusionOrder,
        cap: str) -> None:
    b = bench_factory(care_area=area)
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await running(b, letter, order)
        with pytest.raises(ProgrammingBlocked, match=cap):
            await ws.bolus(letter, BolusOrder(dose=0.5, rate_ml_h=1200))
        assert b.module(letter).firmware.delivered.bolus_ml == 0
    finally:
        await b.close()


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


@pytest.mark.parametrize(("letter", "order", "label", "rate", "new_rate", "new_dose"), [
    # Fentanyl 1000 mcg / 100 mL (10 mcg/mL) bag, 20 mcg/h = 2 mL/h; by rate 3 mL/h = 30 mcg/h.
    ("A", InfusionOrder(drug_id="fentanyl", concentration=1, dose=20, vtbi_ml=100),
     "1000 mcg / 100 mL", 2.0, 3.0, 30.0),
    # Propofol 1000 mg / 50 mL (20 mg/mL) syringe, 2 mg/kg/h x 70 kg = 7 mL/h; 8 mL/h is
    # 160 mg/h = 2.286 mg/kg/h.
    ("B", InfusionOrder(drug_id="propofol", concentration=2, dose=2, vtbi_ml=50),
     "1000 mg / 50 mL", 7.0, 8.0, 160 / 70),
], ids=["volumetric", "syringe"])
async def test_h3_titration_after_a_library_change_never_falls_back_to_concentration_0(
        bench_factory: Callable[..., Bench], letter: str, order: InfusionOrder, label: str,
        rate: float, new_rate: float, new_dose: float) -> None:
    b = bench_factory()
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await running(b, letter, order)
        await b.stop_workstation()
        # Restarted with the cardiac profile, which has neither concentration (only the 50 mL
        # syringes 2500 mcg fentanyl and 500 mg propofol).
        b.config = b.config.model_copy(update={"care_area": "cardiac-icu"})
        ws = await b.start_workstation()
        snap = await b.until(lambda: (s := ws.channel(letter)).drug and s, 5, "adopted")
        assert snap.concentration.startswith(label)  # the card shows what really hangs
        with pytest.raises(ChannelError, match=label):
            await ws.titrate(letter, dose=order.dose)
        assert b.module(letter).firmware.motor_rate() == pytest.approx(rate)
        with pytest.raises(ChannelError, match="concentration"):
            await ws.bolus(letter, BolusOrder(dose=0.5 if letter == "B" else 25))
        plan = await ws.titrate(letter, rate_ml_h=new_rate)  # by rate: dose from the real bag
        assert plan.concentration.startswith(label)
        assert plan.dose == pytest.approx(new_dose, rel=1e-3)
        await b.until(lambda: b.module(letter).firmware.motor_rate() == pytest.approx(new_rate),
                      3, f"{new_rate} mL/h")
    finally:
        await b.close()


async def test_h10_without_a_configured_weight_the_first_weight_is_the_patients(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(patient_weight_kg=None)
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        assert ws.patient_weight_kg is None
        norad = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50)
        with pytest.raises(ProgrammingBlocked, match="weight"):
            await ws.program("B", norad)  # per kg: no weight, no program
        await ws.program("B", norad.model_copy(update={"weight_kg": 82}), user="rn-lee")
        assert ws.patient_weight_kg == 82
        rows = [r for r in b.log_rows(EventKind.USER) if "patient weight" in r.message]
        assert rows and rows[-1].user == "rn-lee"
        # 70 and 120 kg on one patient were accepted, one per channel: not any more.
        with pytest.raises(ProgrammingBlocked, match="82 kg"):
            await ws.program("D" if "D" in ws.letters else "B",
                             norad.model_copy(update={"weight_kg": 120}))
    finally:
        await b.close()
