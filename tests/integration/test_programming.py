"""Programming channels end to end: workstation API -> CAN (virtual) -> simulated modules."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from channels.events import EventKind
from channels.planning import BolusOrder, InfusionOrder
from dbc.vocabulary import DeliveryMode, EndAction, PumpState
from pumps.module import Fault
from tests.integration.conftest import Bench
from workstation.api import ConfirmationRequired, ProgrammingBlocked

FLUID = InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100, vtbi_ml=5,
                      end_action=EndAction.KVO, kvo_ml_h=2)
NORAD = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50, weight_kg=80)


@pytest.fixture
async def bench(bench_factory: Callable[..., Bench]) -> AsyncIterator[Bench]:
    """Two channels (A volumetric, B syringe), the workstation's one patient weight 80 kg: the
    weight NORAD carries (an order with another weight is refused, H10)."""
    b = bench_factory(patient_weight_kg=80.0)
    try:
        await b.start_pumps()
        await b.start_workstation()
        yield b
    finally:
        await b.close()


async def test_program_start_complete_then_kvo(bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(speed=600)  # 10 min of module time per second
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        plan = await ws.program("A", FLUID)
        assert ws.channel("A").program_verified and ws.channel("A").state == "IDLE"
        ack = await ws.start("A")
        assert ack is not None and ack.state is PumpState.INFUSING
        await b.until(lambda: ws.channel("A").state == "INFUSING", 2, "infusing")
        # 5 mL at 100 mL/h is 3 min of module time: under a second here.
        snap = await b.until(lambda: (s := ws.channel("A")).state == "KVO" and s, 5, "KVO")
        assert snap.rate_ml_h == pytest.approx(2.0)
        assert snap.volume_infused_ml == pytest.approx(5.0, abs=0.3)
        alarm = b.alarm("A", "INFUSION_COMPLETE")
        assert alarm is not None and alarm.priority.name == "LOW"  # not an emergency
        programs = [r.message for r in b.log_rows(EventKind.PROGRAM, channel="A")]
        assert any("read-back verified" in m for m in programs)
        assert any("started" in m and plan.drug_name in m for m in programs)
        states = [r.data["state"] for r in b.log_rows(EventKind.STATE, channel="A")]
        assert states[-2:] == ["INFUSING", "KVO"]
    finally:
        await b.close()


async def test_dose_is_converted_and_shown_with_both_units(bench: Bench) -> None:
    ws = bench.api
    plan = await ws.program("B", NORAD)
    # 0.1 mcg/kg/min x 80 kg = 8 mcg/min = 480 mcg/h; 4 mg/50 mL = 80 mcg/mL -> 6.0 mL/h
    assert plan.rate_ml_h == pytest.approx(6.0) and plan.dose == pytest.approx(0.1)
    await ws.start("B")
    snap = await bench.until(lambda: (s := ws.channel("B")).state == "INFUSING" and s, 2, "B")
    assert snap.rate_ml_h == pytest.approx(6.0)
    assert snap.dose_text == "0.1 mcg/kg/min" and snap.high_alert


async def test_hard_limit_blocks_and_nothing_is_sent(bench: Bench) -> None:
    ws = bench.api
    too_much = NORAD.model_copy(update={"dose": 3.0})  # 0.3 keyed 3.0; hard max 1 mcg/kg/min
    with pytest.raises(ProgrammingBlocked) as blocked:
        await ws.program("B", too_much, confirm=True)
    assert "hard limit" in str(blocked.value) and "1 mcg/kg/min" in str(blocked.value)
    assert not ws.channel("B").program_pending
    assert bench.module("B").firmware.program.pending_id == 0  # nothing reached the module
    assert any("blocked" in r.message for r in bench.log_rows(EventKind.PROGRAM, channel="B"))


async def test_soft_limit_needs_a_logged_confirmation(bench: Bench) -> None:
    ws = bench.api
    high = NORAD.model_copy(update={"dose": 0.8})  # soft max 0.5
    check = ws.check("B", high)
    assert check.needs_confirmation and not check.blocked
    with pytest.raises(ConfirmationRequired):
        await ws.program("B", high)
    assert bench.module("B").firmware.program.pending_id == 0
    plan = await ws.program("B", high, confirm=True, user="rn-jones")
    assert plan.confirmed_overrides and "soft limit" in plan.confirmed_overrides[0]
    overrides = bench.log_rows(EventKind.OVERRIDE, channel="B")
    assert overrides and overrides[0].user == "rn-jones"
    assert bench.log_rows(EventKind.CONFIRMATION, channel="B")


async def test_same_drug_on_two_channels_warns_and_can_be_overridden(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(channels=4, patient_weight_kg=80.0)
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await ws.program("B", NORAD)
        await ws.start("B")
        await b.until(lambda: ws.channel("B").state == "INFUSING", 2, "B infusing")
        check = ws.check("D", NORAD)
        assert check.duplicates == ("B",) and check.needs_confirmation
        with pytest.raises(ConfirmationRequired, match="channel B"):
            await ws.program("D", NORAD)
        plan = await ws.program("D", NORAD, confirm=True)
        assert plan.warnings == ("Same drug on channel B",)
    finally:
        await b.close()


async def test_titration_changes_the_rate_without_a_pause(bench: Bench) -> None:
    ws = bench.api
    await ws.program("B", NORAD)
    await ws.start("B")
    await bench.until(lambda: ws.channel("B").state == "INFUSING", 2, "infusing")
    states: list[PumpState] = []
    bench.api.subscribe(lambda _n: states.append(bench.module("B").firmware.state))
    plan = await ws.titrate("B", dose=0.15)
    assert plan.rate_ml_h == pytest.approx(9.0)
    await bench.until(lambda: ws.channel("B").rate_ml_h == pytest.approx(9.0), 2, "9 mL/h")
    assert set(states) == {PumpState.INFUSING}, "the pump stopped during titration"
    assert any("titrated" in r.message for r in bench.log_rows(EventKind.PROGRAM, channel="B"))


async def test_bolus_on_top_of_basal_and_back(bench: Bench) -> None:
    ws = bench.api
    order = InfusionOrder(drug_id="fentanyl", dose=50, vtbi_ml=50)  # 50 mcg/mL -> 1 mL/h
    await ws.program("B", order)
    await ws.start("B")
    await bench.until(lambda: ws.channel("B").state == "INFUSING", 2, "infusing")
    bolus = await ws.bolus("B", BolusOrder(dose=25))  # 25 mcg = 0.5 mL at 300 mL/h
    assert bolus.vtbi_ml == pytest.approx(0.5)
    await bench.until(lambda: bench.module("B").firmware.mode is DeliveryMode.PRIMARY and
                      bench.module("B").firmware.delivered.bolus_ml > 0.45, 5, "bolus given")
    assert bench.module("B").firmware.motor_rate() == pytest.approx(1.0)
    with pytest.raises(ProgrammingBlocked, match="maximum"):
        await ws.bolus("B", BolusOrder(dose=500))


async def test_secondary_runs_then_returns_to_primary(bench_factory: Callable[..., Bench]
                                                      ) -> None:
    b = bench_factory(speed=600)
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=50,
                                            vtbi_ml=1000))
        await ws.start("A")
        await b.until(lambda: ws.channel("A").state == "INFUSING", 2, "infusing")
        await ws.secondary("A", InfusionOrder(drug_id="sodium-chloride-0-9", rate_ml_h=200,
                                              vtbi_ml=5, callback=True))
        await b.until(lambda: b.alarm("A", "CALLBACK"), 5, "callback when secondary is done")
        assert b.module("A").firmware.mode is DeliveryMode.PRIMARY
        assert b.module("A").firmware.motor_rate() == pytest.approx(50)
    finally:
        await b.close()


async def test_start_is_refused_while_the_door_is_open(bench: Bench) -> None:
    ws = bench.api
    await ws.program("A", FLUID)
    bench.module("A").inject(Fault.DOOR)
    await bench.until(lambda: bench.alarm("A", "DOOR_OPEN"), 2, "door alarm")
    with pytest.raises(Exception, match="DOOR_OPEN"):
        await ws.start("A")
    assert bench.alarm("A", "COMMAND_REJECTED") is not None


async def test_a_verified_program_left_unstarted_is_a_reminder(bench: Bench) -> None:
    ws = bench.api
    await ws.program("A", FLUID)
    sup, now = ws.supervisor, bench.clock()
    # Only the channel's clock moves on: the rest of the workstation keeps real time.
    sup.apply(sup.controllers["A"].tick(now + 119))
    assert bench.alarm("A", "PROGRAM_PENDING") is None
    sup.apply(sup.controllers["A"].tick(now + 121))
    alarm = bench.alarm("A", "PROGRAM_PENDING")
    assert alarm is not None and alarm.priority.name == "LOW"
    await ws.start("A")
    assert bench.alarm("A", "PROGRAM_PENDING") is None


async def test_titration_carries_the_volume_left_not_the_original_vtbi(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(speed=600)
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        order = InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=60, vtbi_ml=10)
        await ws.program("A", order)
        await ws.start("A")
        await b.until(lambda: (ws.channel("A").volume_infused_ml or 0) > 3, 5, "3 mL given")
        started = time.monotonic()
        plan = await ws.titrate("A", rate_ml_h=30)
        took_s = time.monotonic() - started
        fw = b.module("A").firmware
        left = plan.vtbi_ml
        assert 0 < left < 7.5, "the original 10 mL VTBI was sent again"
        primary = fw.program.primary
        assert primary is not None and primary.vtbi_ml == pytest.approx(left)
        # Total over the whole infusion stays within the original 10 mL, give or take what
        # flowed while the titration travelled: "volume left" is read from a Progress frame
        # (every 250 ms) and the new program starts one round trip later. At 600x that is
        # 10 mL per wall minute; at 1x it is hundredths of a mL (docs/safety/hazards.md H20).
        in_flight_ml = 60 * b.speed / 3600 * (took_s + 0.25)
        await b.until(lambda: fw.state is PumpState.KVO, 10, "complete")
        given = fw.delivered.total(fw.mechanism.delivered_ml) - fw.delivered.kvo_ml
        assert given < 10.05 + in_flight_ml, f"{given:.2f} mL, titration took {took_s:.2f} s"
        assert in_flight_ml < 3, "the titration round trip took too long to judge anything"
    finally:
        await b.close()
