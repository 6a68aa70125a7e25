"""Channel-controller hazards end to end: Workstation API -> CAN (virtual) -> simulated modules.

H2/H14 no silent stop, H7 commands abandoned on module loss, H14 reboot, H16 lost acks,
H17 pause/resume during a secondary, H18 a configured module never heard.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.config import CommandConfig
from channels.controller import ChannelError
from channels.planning import BolusOrder, InfusionOrder
from dbc.frames import CommandAck, Frame
from dbc.vocabulary import DeliveryMode, EndAction, PumpState
from pumps.module import Fault, SimulatedModule
from tests.buslab import codec
from tests.integration.conftest import Bench
from workstation.alarms import Alarm, Priority
from workstation.api import Workstation

FLUID = InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=120, vtbi_ml=500)
NORAD = InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50, weight_kg=70)
ORDERS = {"A": FLUID, "B": NORAD}  # A volumetric, B syringe
BOTH = pytest.mark.parametrize("letter", ["A", "B"], ids=["volumetric", "syringe"])


async def infusing(bench: Bench, letter: str) -> None:
    ws = bench.api
    await ws.program(letter, ORDERS[letter])
    await ws.start(letter)
    await bench.until(lambda: ws.channel(letter).state == "INFUSING", 3, "infusing")


def high(bench: Bench, letter: str, *conditions: str) -> Alarm | None:
    return next((a for c in conditions if (a := bench.alarm(letter, c)) is not None
                 and a.priority is Priority.HIGH), None)


def lose_acks(bench: Bench, letter: str) -> Callable[[], None]:
    """Fault: every acknowledgement of ``letter``'s module goes out with a bad CRC (the module
    executes, the workstation never hears it). Returns the repair."""
    module = bench.module(letter)
    rack = next(r for r in bench.racks if module in r.modules.values())
    send = rack._send

    def corrupting(m: SimulatedModule, frame: Frame) -> None:
        if m is module and isinstance(frame, CommandAck):
            m.corrupt_frames = max(m.corrupt_frames, 1)
        send(m, frame)

    setattr(rack, "_send", corrupting)  # noqa: B010 (an injected fault on the pump side)
    return lambda: setattr(rack, "_send", send)


@BOTH
async def test_lost_start_acks_the_view_is_reconciled_with_the_drug(bench: Bench,
                                                                    letter: str) -> None:
    # H16: the pump runs the START, its acknowledgements are lost.
    ws = bench.api
    plan = await ws.program(letter, ORDERS[letter])
    repair = lose_acks(bench, letter)
    with pytest.raises(ChannelError, match="unacknowledged"):
        await ws.start(letter)
    repair()
    assert bench.module(letter).firmware.state is PumpState.INFUSING
    snap = await bench.until(lambda: (s := ws.channel(letter)).drug and s, 3, "view reconciled")
    assert snap.state == "INFUSING" and snap.drug == plan.drug_name
    assert snap.programmed_rate_ml_h == pytest.approx(plan.rate_ml_h)
    assert snap.vtbi_ml == pytest.approx(plan.vtbi_ml)
    assert bench.alarm(letter, "PROGRAM_MISMATCH") is None


async def test_pause_and_resume_during_a_secondary_shows_the_secondary(bench: Bench) -> None:
    # H17 (volumetric only: a syringe has no secondary).
    ws = bench.api
    await ws.program("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=60, vtbi_ml=500))
    await ws.start("A")
    await bench.until(lambda: ws.channel("A").state == "INFUSING", 3, "infusing")
    secondary = await ws.secondary("A", InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=25,
                                                      vtbi_ml=5, end_action=EndAction.KVO))
    await bench.until(lambda: ws.channel("A").mode == "SECONDARY", 3, "secondary running")
    await ws.pause("A")
    await bench.until(lambda: ws.channel("A").state == "PAUSED", 3, "paused")
    await ws.start("A")
    fw = bench.module("A").firmware
    assert fw.mode is DeliveryMode.SECONDARY  # the pump resumed the secondary
    snap = await bench.until(lambda: (s := ws.channel("A")).mode == "SECONDARY" and s, 3,
                             "secondary shown")
    assert snap.programmed_rate_ml_h == pytest.approx(secondary.rate_ml_h)
    assert ws.supervisor.controllers["A"].secondary == secondary


@BOTH
async def test_a_stop_without_a_command_or_condition_is_a_high_alarm(bench: Bench,
                                                                     letter: str) -> None:
    # H2: the module halts in ALARM and reports no condition (firmware fault).
    await infusing(bench, letter)
    fw = bench.module(letter).firmware
    fw.state, fw.mode = PumpState.ALARM, DeliveryMode.NONE
    alarm = await bench.until(lambda: high(bench, letter, "UNCOMMANDED_STOP"), 3, "alarm")
    assert alarm.key.source == letter and "check the pump" in alarm.text


@BOTH
async def test_an_occlusion_always_alarms(bench: Bench, letter: str) -> None:
    # H2 on both kinds: whatever the pump latches, the nurse hears that the line stopped.
    await infusing(bench, letter)
    bench.module(letter).inject(Fault.OCCLUSION)
    await bench.until(lambda: high(bench, letter, "OCCLUSION_DOWNSTREAM", "UNCOMMANDED_STOP"),
                      10, "occlusion alarm")


@BOTH
async def test_a_reboot_while_infusing_raises_module_restarted(bench: Bench,
                                                               letter: str) -> None:
    # H14: the motor stopped with the reboot; the restart alarm follows whatever frame first.
    await infusing(bench, letter)
    bench.module(letter).inject(Fault.REBOOT)
    alarm = await bench.until(lambda: high(bench, letter, "MODULE_RESTARTED"), 6,
                              "restart alarm")
    # B5 (issue 10): reprogrammed and started, the acknowledged alarm goes.
    await infusing(bench, letter)
    bench.api.acknowledge(alarm.id)
    assert bench.alarm(letter, "MODULE_RESTARTED") is None


@BOTH
async def test_a_command_in_flight_when_the_module_is_lost_ends_in_a_channel_error(
        bench_factory: Callable[..., Bench], letter: str) -> None:
    # H7: the pause is still being retried when the module is declared lost.
    b = bench_factory(commands=CommandConfig(retries=10))
    try:
        await b.start_pumps()
        await b.start_workstation()
        await infusing(b, letter)
        b.module(letter).inject(Fault.SILENT)
        with pytest.raises(ChannelError):
            await b.api.pause(letter)
        assert b.alarm(letter, "COMM_LOST") is not None
    finally:
        await b.close()


@BOTH
async def test_a_module_silent_across_a_workstation_restart_is_a_high_alarm(
        bench_factory: Callable[..., Bench], letter: str) -> None:
    # H18: nobody watches that line, while the pump goes on infusing.
    b = bench_factory()
    try:
        await b.start_pumps()
        await b.start_workstation()
        await infusing(b, letter)
        b.module(letter).inject(Fault.SILENT)
        await b.stop_workstation()
        b.ws = Workstation(b.config, event_log_path=b.log_path, codec=codec(), clock=b.clock)
        await b.ws.__aenter__()
        alarm = await b.until(lambda: high(b, letter, "NO_MODULE", "COMM_LOST"), 6, "alarm")
        assert f"slot {b.config.channel(letter).slot}" in alarm.text
        assert b.module(letter).firmware.state is PumpState.INFUSING
        other = "B" if letter == "A" else "A"
        assert b.alarm(other, "NO_MODULE") is None
    finally:
        await b.close()



FENTANYL = {"A": InfusionOrder(drug_id="fentanyl", dose=100, vtbi_ml=100, concentration=1),
            "B": InfusionOrder(drug_id="fentanyl", dose=150, vtbi_ml=50)}


@BOTH
async def test_no_bolus_on_top_of_an_over_infusion(bench_factory: Callable[..., Bench],
                                                   letter: str) -> None:
    # H8: the pump already delivers too much; a bolus would add to it.
    b = bench_factory(speed=900)  # 15 min of module time per second
    try:
        await b.start_pumps()
        ws = await b.start_workstation()
        b.module(letter).inject(Fault.CALIBRATION, 20)
        await ws.program(letter, FENTANYL[letter], confirm=True)
        await ws.start(letter)
        await b.until(lambda: b.alarm(letter, "OVER_INFUSION"), 10, "over-infusion")
        with pytest.raises(ChannelError, match="OVER_INFUSION"):
            await ws.bolus(letter, BolusOrder(dose=25), confirm=True)
        assert b.module(letter).firmware.mode is DeliveryMode.PRIMARY  # nothing sent
    finally:
        await b.close()
