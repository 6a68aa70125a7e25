"""Workstation restart (adoption), delivery supervision, bus garbage and hot-plug."""

from __future__ import annotations

import re
from collections.abc import Callable

import can
import pytest

from channels.events import EventKind
from channels.planning import InfusionOrder
from dbc.e2e import protect
from dbc.vocabulary import ModuleKind, PumpState
from pumps.module import Fault, SimulatedModule
from pumps.rack import PumpRack
from tests.integration.conftest import Bench
from workstation.alarms import AlarmKey, Priority

NORAD = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50, weight_kg=80)


async def test_restart_adopts_a_running_infusion_without_a_pause(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(patient_weight_kg=80.0)  # the workstation's one weight is NORAD's
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        plan = await ws.program("B", NORAD)
        await ws.start("B")
        await b.until(lambda: ws.channel("B").state == "INFUSING", 2, "infusing")
        states: list[PumpState] = []
        await b.stop_workstation()  # the workstation goes away; the pump does not stop
        states.append(b.module("B").firmware.state)
        ws = await b.start_workstation()
        snap = await b.until(lambda: (s := ws.channel("B")).drug and s, 5, "adopted")
        states.append(b.module("B").firmware.state)
        assert set(states) == {PumpState.INFUSING}
        assert snap.drug == plan.drug_name and snap.dose == pytest.approx(0.1)
        assert snap.state == "INFUSING" and snap.rate_ml_h == pytest.approx(6.0)
        adopted = [r for r in b.log_rows(EventKind.PROGRAM, channel="B") if "adopted" in r.message]
        assert adopted and adopted[-1].data["drug_known"] is True
        assert b.module("B").firmware.delivered.primary_ml > 0
        await ws.titrate("B", dose=0.12)  # the adopted plan is fully usable
    finally:
        await b.close()


async def test_over_infusion_from_a_calibration_fault(bench_factory: Callable[..., Bench]
                                                      ) -> None:
    b = bench_factory(speed=900)  # 15 min of module time per second
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        b.module("A").inject(Fault.CALIBRATION, 15)
        await ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100,
                                            vtbi_ml=1000))  # at most the 1000 mL bag
        await ws.start("A")
        alarm = await b.until(lambda: b.alarm("A", "OVER_INFUSION"), 10, "over-infusion")
        assert alarm.priority is Priority.MEDIUM
        # +15 % motor error on a set that runs 1 % low: ~114 % of the programmed volume.
        ratio = ws.supervisor.controllers["A"].supervisor.ratio
        assert ratio is not None and 1.12 < ratio < 1.17
        assert re.search(r"\(11[2-7]% of the programmed volume over \d+ min\)", alarm.text)
        assert b.alarm("B", "OVER_INFUSION") is None
    finally:
        await b.close()


async def test_garbage_on_the_bus_changes_nothing_but_counters(bench: Bench) -> None:
    ws = bench.api
    await ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=100, vtbi_ml=500))
    await ws.start("A")
    await bench.until(lambda: ws.channel("A").state == "INFUSING", 2, "infusing")
    before_alarms = {(a.key, a.priority) for a in ws.active_alarms()}
    before_rate = ws.channel("A").rate_ml_h
    sup = ws.supervisor
    status_id = sup.codec.frame_id(type(bench.module("A").firmware.status()), 1)
    intruder = can.Bus(interface="virtual", channel=bench.config.buses[0].channel)
    try:
        bad_crc = bytearray(8)
        protect(bad_crc, status_id, 0)
        bad_crc[3] ^= 0xFF
        for msg in [
            can.Message(arbitration_id=0x1ABCDE, data=bytes(8), is_extended_id=True),
            can.Message(arbitration_id=0x7E5, data=b"\x01\x02", is_extended_id=False),
            can.Message(arbitration_id=status_id, data=bytes(bad_crc), is_extended_id=False),
            can.Message(arbitration_id=status_id, data=b"\x00" * 5, is_extended_id=False),
            can.Message(arbitration_id=0x101, data=bytes(8), is_extended_id=False),
        ]:
            intruder.send(msg)
        # Foreign identifiers are dropped by the link's receive filter (counted 'filtered').
        def filtered() -> int:
            return sum(link.stats.filtered for link in sup.links.values())

        await bench.until(lambda: sum(sup.frame_errors.values()) + filtered() >= 5, 2,
                          "errors counted")
    finally:
        intruder.shutdown()
    assert sup.frame_errors["foreign"] + filtered() >= 2 and sup.frame_errors["crc"] >= 1
    assert sup.frame_errors["length"] >= 1
    # Garbage on the workstation's own Command id has another sender (issue 10): that alone
    # is an alarm; nothing else changes.
    foreign = AlarmKey("WS", "FOREIGN_SENDER")
    assert {(a.key, a.priority) for a in ws.active_alarms()} == before_alarms | {
        (foreign, Priority.HIGH)}
    assert ws.channel("A").state == "INFUSING" and ws.channel("A").rate_ml_h == before_rate


async def test_hot_plug_kind_change_and_unexpected_module(bench: Bench) -> None:
    bus = bench.config.buses[0]
    # A syringe module plugged into slot 1, configured volumetric: a different pump type.
    stranger = PumpRack(bus.settings(), [SimulatedModule(1, ModuleKind.SYRINGE, serial=999),
                                         SimulatedModule(9, ModuleKind.VOLUMETRIC)])
    bench.module("A").inject(Fault.SILENT)
    await bench.until(lambda: bench.alarm("A", "COMM_LOST"), 6, "slot 1 empty")
    async with stranger:
        alarm = await bench.until(lambda: bench.alarm("A", "MODULE_KIND_CHANGED"), 5,
                                  "kind changed")
        assert alarm.priority is Priority.HIGH
        unexpected = await bench.until(lambda: bench.alarm("WS", "UNEXPECTED_MODULE"), 5,
                                       "unexpected module in slot 9")
        assert "slot 9" in unexpected.text
    modules = [r.message for r in bench.log_rows(EventKind.MODULE)]
    assert any("replaced by syringe module" in m for m in modules)


async def test_a_bus_that_cannot_be_opened_is_an_alarm_not_a_crash(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory()
    # This machine has no SocketCAN: the bus cannot open. The workstation starts anyway, says
    # so with a HIGH alarm, and keeps retrying.
    broken = b.config.buses[0].model_copy(update={"interface": "socketcan",
                                                   "channel": "vcan-missing"})
    b.config = b.config.model_copy(update={"buses": [broken]})
    from workstation.api import Workstation
    async with Workstation(b.config, event_log_path=b.log_path, clock=b.clock) as ws:
        b.ws = ws
        alarm = await b.until(lambda: b.alarm("WS", "BUS_ERROR"), 3, "bus error alarm")
        assert alarm.priority is Priority.HIGH
        assert broken.name in alarm.text and "vcan-missing" in alarm.text
        rows = b.log_rows(EventKind.BUS)
        assert any("vcan-missing" in r.message for r in rows)
        b.ws = None
