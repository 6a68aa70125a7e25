"""Module-side hazards end to end: Workstation API -> CAN (virtual) -> simulated modules.

H1 no secondary from KVO, H2 an occlusion stop always alarms (both kinds), H12 air is cleared
only at the pump (volumetric: the syringe module has no air sensor), H14 a reboot is seen
whichever frame comes first (both kinds), H15 the battery judged at the programmed rate.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.controller import ChannelError
from channels.planning import InfusionOrder
from dbc.frames import Frame, ModuleHeartbeat, Status
from dbc.vocabulary import AlarmCondition, EndAction, PumpState
from pumps.module import Fault, SimulatedModule
from tests.integration.conftest import Bench
from workstation.alarms import Alarm, Priority
from workstation.api import ProgrammingBlocked

FLUID = InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=120, vtbi_ml=500)
NORAD = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50, weight_kg=70)
ORDERS = {"A": FLUID, "B": NORAD}  # A volumetric, B syringe
BOTH = pytest.mark.parametrize("letter", ["A", "B"], ids=["volumetric", "syringe"])


async def infusing(bench: Bench, letter: str, order: InfusionOrder | None = None) -> None:
    ws = bench.api
    await ws.program(letter, order or ORDERS[letter])
    await ws.start(letter)
    await bench.until(lambda: ws.channel(letter).state == "INFUSING", 3, "infusing")


def high(bench: Bench, letter: str, condition: str) -> Alarm | None:
    alarm = bench.alarm(letter, condition)
    return alarm if alarm is not None and alarm.priority is Priority.HIGH else None


def hold_back(bench: Bench, letter: str, held: type[Frame], until: Callable[[], bool]
              ) -> None:
    """Fault: ``letter``'s module sends its ``held`` frames only once ``until()`` has been
    true, in their original order (their E2E counters are taken when they are finally sent)."""
    module = bench.module(letter)
    rack = next(r for r in bench.racks if module in r.modules.values())
    send = rack._send
    queue: list[Frame] = []
    released = False

    def sending(m: SimulatedModule, frame: Frame) -> None:
        nonlocal released
        if m is module:
            released = released or until()
            if not released and isinstance(frame, held):
                queue.append(frame)
                return
            while released and queue:
                send(m, queue.pop(0))
        send(m, frame)

    rack._send = sending  # type: ignore[method-assign]


# -- H1 ------------------------------------------------------------------------------------------
async def test_h1_no_secondary_from_kvo_and_no_return_to_the_primary_rate(
        bench_factory: Callable[..., Bench]) -> None:
    b = bench_factory(speed=600)
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        await ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=120, vtbi_ml=10,
                                            end_action=EndAction.KVO, kvo_ml_h=2))
        await ws.start("A")
        fw = b.module("A").firmware
        await b.until(lambda: fw.state is PumpState.KVO, 10, "VTBI done, KVO")
        with pytest.raises((ChannelError, ProgrammingBlocked)):
            await ws.secondary("A", InfusionOrder(drug_id="sodium-chloride-0-9", rate_ml_h=100,
                                                  vtbi_ml=5))
        start_ml, start_s = fw.delivered.total(fw.mechanism.delivered_ml), fw.module_time_s
        await b.until(lambda: fw.module_time_s - start_s > 600, 10, "10 module-minutes in KVO")
        assert fw.state is PumpState.KVO and fw.motor_rate() == pytest.approx(2.0)
        minutes = (fw.module_time_s - start_s) / 60
        # KVO rate only, never the primary's 120 mL/h (the hazard put 68 mL in 30 min).
        assert fw.delivered.total(fw.mechanism.delivered_ml) - start_ml < 2.0 * minutes / 60 + 0.2
    finally:
        await b.close()


# -- H2 ------------------------------------------------------------------------------------------
@BOTH
async def test_h2_an_occlusion_is_a_high_alarm_and_the_channel_stopped(
        bench_factory: Callable[..., Bench], letter: str) -> None:
    b = bench_factory(speed=600)
    try:
        await b.start_pumps()
        await b.start_workstation()
        await infusing(b, letter)
        b.module(letter).inject(Fault.OCCLUSION)
        alarm = await b.until(lambda: high(b, letter, "OCCLUSION_DOWNSTREAM"), 15,
                              "HIGH occlusion alarm")
        await b.until(lambda: b.api.channel(letter).state == "ALARM", 3, "channel stopped")
        assert b.api.channel(letter).rate_ml_h == 0
        # Minutes of module time later (the syringe backed off long ago) it still says why.
        fw = b.module(letter).firmware
        later = fw.module_time_s + 300
        await b.until(lambda: fw.module_time_s > later, 5, "5 module-minutes")
        assert fw.state is PumpState.ALARM
        assert b.alarm(letter, "OCCLUSION_DOWNSTREAM") is not None
        assert alarm.latching
    finally:
        await b.close()


# -- H12 -----------------------------------------------------------------------------------------
async def test_h12_acknowledge_and_start_from_the_workstation_do_not_clear_air(
        bench: Bench) -> None:
    await infusing(bench, "A")
    bench.module("A").inject(Fault.AIR, 200)
    alarm = await bench.until(lambda: high(bench, "A", "AIR_IN_LINE"), 10, "air alarm")
    await bench.until(lambda: bench.api.channel("A").state == "ALARM", 2, "stopped")
    bench.api.acknowledge(alarm.id, user="rn-smith")
    with pytest.raises(ChannelError, match="AIR_NOT_CLEARED"):
        await bench.api.start("A")
    assert bench.module("A").firmware.state is PumpState.ALARM
    assert bench.alarm("A", "COMMAND_REJECTED") is not None
    bench.module("A").inject(Fault.CLEAR_AIR)
    await bench.until(lambda: bench.alarm("A", "AIR_IN_LINE") is None, 3, "cleared at the pump")
    await bench.api.start("A")
    await bench.until(lambda: bench.api.channel("A").state == "INFUSING", 3, "restarted")


# -- H14 -----------------------------------------------------------------------------------------
@BOTH
@pytest.mark.parametrize("first", [Status, ModuleHeartbeat], ids=["status-first",
                                                                   "heartbeat-first"])
async def test_h14_a_reboot_while_infusing_is_module_restarted_whatever_frame_comes_first(
        bench: Bench, letter: str, first: type[Frame]) -> None:
    await infusing(bench, letter, FLUID if letter == "A" else None)
    fw = bench.module(letter).firmware
    boots = fw.boot_count
    if first is Status:  # the case that hid the reboot: the stopped Status before the BOOT
        hold_back(bench, letter, ModuleHeartbeat,
                  lambda: bench.api.channel(letter).state not in ("INFUSING", "OFFLINE"))
    else:
        seen = bench.api.supervisor.registry
        node = bench.module(letter).node
        hold_back(bench, letter, Status,
                  lambda: any(i.node == node and i.state.name == "BOOT"
                              for i in seen.modules.values()) or fw.module_time_s > 120)
    bench.module(letter).inject(Fault.REBOOT)
    assert fw.boot_count == (boots + 1) % 16
    alarm = await bench.until(lambda: high(bench, letter, "MODULE_RESTARTED"), 6,
                              "MODULE_RESTARTED")
    assert alarm.priority is Priority.HIGH
    assert fw.state is PumpState.PROGRAMMED and fw.motor_rate() == 0
    await bench.until(lambda: bench.api.channel(letter).state == "PROGRAMMED", 6,
                      "the view follows the module")
    reboots = [r for r in bench.log_rows() if r.data.get("change") == "rebooted"
               and r.channel == letter]
    assert len(reboots) == 1  # one reboot, reported once


# -- H15 -----------------------------------------------------------------------------------------
@BOTH
async def test_h15_start_refused_when_the_programmed_rate_would_run_the_battery_flat(
        bench: Bench, letter: str) -> None:
    bench.module(letter).inject(Fault.BATTERY_MINUTES, 4)  # 8 min idle, 4 min running
    await bench.api.program(letter, ORDERS[letter])
    with pytest.raises(ChannelError, match="BATTERY"):
        await bench.api.start(letter)
    assert bench.module(letter).firmware.motor_rate() == 0
    assert bench.alarm(letter, "COMMAND_REJECTED") is not None
    await bench.until(lambda: high(bench, letter, "BATTERY_DEPLETED"), 3,
                      "depleted at the programmed load")


@BOTH
async def test_h15_a_depletion_halt_stays_an_alarm_until_mains(bench: Bench, letter: str
                                                               ) -> None:
    bench.module(letter).inject(Fault.BATTERY_MINUTES, 6)  # enough to start, not for long
    await infusing(bench, letter)
    await bench.until(lambda: high(bench, letter, "BATTERY_DEPLETED"), 5, "depleted, HIGH")
    await bench.until(lambda: bench.api.channel(letter).state == "ALARM", 3, "stopped")
    fw = bench.module(letter).firmware
    later = fw.module_time_s + 120
    await bench.until(lambda: fw.module_time_s > later, 5, "2 module-minutes, motor stopped")
    assert fw.state is PumpState.ALARM
    depleted = bench.alarm(letter, "BATTERY_DEPLETED")
    assert depleted is not None and depleted.active  # the condition never flickers away
    assert fw.status().alarms & AlarmCondition.BATTERY_DEPLETED
    bench.module(letter).inject(Fault.MAINS)  # plugged in
    await bench.until(lambda: not bench.alarm(letter, "BATTERY_DEPLETED").active, 3,
                      "condition gone on mains")
