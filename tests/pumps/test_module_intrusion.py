"""Module side of issue 10: another sender on a module's own identifiers (B4), the latched
"ran without the workstation" (B6), and the receive filters of a pump process (B7).

Firmware tests are pure (explicit clock); the rack tests run on python-can ``virtual`` with a
foreign node (``FrameProbe``) that sends under the module's own identifiers.
"""

from __future__ import annotations

import asyncio

import can
import pytest

from dbc.frames import (
    AlarmEvent,
    Command,
    CommandAck,
    ModuleHeartbeat,
    PrimaryPage,
    Program,
    Status,
    WsHeartbeat,
)
from dbc.link import BusSettings
from dbc.vocabulary import (
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    ModuleKind,
    ModuleState,
    PumpState,
    RejectReason,
    WorkstationState,
)
from pumps.module import SimulatedModule
from pumps.rack import PumpRack, rack_filters
from tests.buslab import FrameProbe, codec
from tests.pumps.firmware_bench import NODE, Bench

KINDS = [ModuleKind.VOLUMETRIC, ModuleKind.SYRINGE]
LOST = AlarmCondition.WS_HEARTBEAT_LOST


def infusing(kind: ModuleKind) -> Bench:
    b = Bench(kind)
    b.program(program_id=1, rate=20, vtbi=100)
    assert b.command(CommandCode.START, 1).accepted
    b.run(2)
    return b


# -- B4: a foreign sender on the module's own identifiers --------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_foreign_frame_on_an_own_id_refuses_commands_and_keeps_the_infusion(
        kind: ModuleKind) -> None:
    b = infusing(kind)
    status_id = codec().frame_id(Status, NODE)
    assert b.fw.foreign_frame(status_id, b.now) is True  # a conflict starts
    assert b.fw.foreign_frame(status_id, b.now) is False  # the same conflict goes on
    for code in (CommandCode.PAUSE, CommandCode.STOP, CommandCode.START):
        ack = b.command(code, 1)
        assert ack.reason is RejectReason.NODE_CONFLICT, code
    page = b.page(2, PrimaryPage(rate_ml_h=999, vtbi_ml=10))
    assert len(page) == 1 and isinstance(page[0], CommandAck)
    assert page[0].reason is RejectReason.NODE_CONFLICT
    assert b.fw.program.pending_id != 2  # the page was not stored
    # Never stop a running infusion because of a bus conflict.
    b.run(2)
    assert b.fw.state is PumpState.INFUSING and b.fw.motor_rate() == 20


@pytest.mark.parametrize("kind", KINDS)
def test_the_conflict_ends_after_the_foreign_sender_is_quiet(kind: ModuleKind) -> None:
    b = infusing(kind)
    b.fw.foreign_frame(codec().frame_id(ModuleHeartbeat, NODE), b.now)
    b.run(b.fw.conflict.hold_s - 1)
    assert b.command(CommandCode.PAUSE, 1).reason is RejectReason.NODE_CONFLICT
    b.run(1.5)
    assert b.fw.conflict.ended(b.now)
    ack = b.command(CommandCode.PAUSE, 1)
    assert ack.accepted and b.fw.state is PumpState.PAUSED


# -- B6: "ran without the workstation" survives a workstation restart --------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_ws_heartbeat_lost_stays_latched_until_the_workstation_acknowledges_it(
        kind: ModuleKind) -> None:
    b = infusing(kind)
    b.now += 5  # the workstation is gone for 5 s of bus time
    b.events += [e for e in b.fw.tick(b.now, 5) if isinstance(e, AlarmEvent)]
    assert b.raised(LOST)
    b.run(10)  # a restarted workstation is back: its heartbeats come again
    assert b.fw.status().alarms & LOST, "a restarted workstation must still read it"
    assert b.fw.state is PumpState.INFUSING
    b.command(CommandCode.ALARM_ACK, arg=int(AlarmCondition.NEAR_END))
    b.run(1)
    assert b.fw.status().alarms & LOST, "only an acknowledgement of this bit clears it"
    assert b.command(CommandCode.ALARM_ACK, arg=int(LOST)).accepted
    b.run(1)
    assert not b.fw.status().alarms & LOST


# -- on a bus: the rack sees the foreign sender and says so ------------------------------------
def hb() -> WsHeartbeat:
    return WsHeartbeat(state=WorkstationState.OPERATIONAL, time_s=0, time_ms=0, timeout_s=3.0)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_second_sender_on_the_module_status_id_is_refused_on_the_bus(
        kind: ModuleKind) -> None:
    settings = BusSettings("virtual", f"intrusion-{kind.name}")
    module = SimulatedModule(3, kind)
    module.firmware.conflict.hold_s = 0.6
    async with FrameProbe(settings) as probe, \
            PumpRack(settings, [module], speed=60, codec=codec()) as rack:
        await probe.expect(ModuleHeartbeat, node=3)
        probe.send(hb())
        probe.send(Command(node=3, seq=1, command=CommandCode.NOP, program_id=0))
        assert (await probe.expect(CommandAck, lambda a: a.seq == 1, node=3)).accepted
        # A duplicate node: the probe sends this module's own Status.
        probe.send(Status(node=3, state=PumpState.IDLE, mode=DeliveryMode.NONE, rate_ml_h=0.0,
                          pressure_mmhg=0, alarms=AlarmCondition(0), boot_count=0))
        await asyncio.wait_for(_until(lambda: bool(rack.conflicts)), 5)
        assert "node 3" in rack.conflicts[0] and f"0x{0x300 + 3:03X}" in rack.conflicts[0]
        probe.send(Command(node=3, seq=2, command=CommandCode.NOP, program_id=0))
        ack = await probe.expect(CommandAck, lambda a: a.seq == 2, node=3)
        assert ack.reason is RejectReason.NODE_CONFLICT
        await asyncio.wait_for(_until(lambda: any("ended" in c for c in rack.conflicts)), 5)
        probe.send(Command(node=3, seq=3, command=CommandCode.NOP, program_id=0))
        assert (await probe.expect(CommandAck, lambda a: a.seq == 3, node=3)).accepted


async def _until(ok: object) -> None:
    assert callable(ok)
    while not ok():
        await asyncio.sleep(0.02)


def test_rack_filters_pass_the_workstation_and_own_ids_only() -> None:
    filters = rack_filters(codec(), [2, 5])
    bus = can.Bus(interface="virtual", channel="filters-check", can_filters=filters)
    try:
        def passes(ident: int) -> bool:
            return bus._matches_filters(can.Message(arbitration_id=ident, is_extended_id=False))
        assert passes(0x100)  # WS_Heartbeat
        for node in (2, 5):
            assert passes(0x100 + node) and passes(0x200 + node)  # Command, Program
            assert passes(0x300 + node) and passes(0x700 + node)  # own ids: intrusion check
        assert not passes(0x103) and not passes(0x301)  # other modules' traffic
        assert not any(passes(i) for i in range(0x000, 0x011))  # the junk of B7
        assert not bus._matches_filters(can.Message(arbitration_id=0x100, is_extended_id=True))
    finally:
        bus.shutdown()


async def test_a_filtered_rack_never_decodes_junk_and_still_hears_the_workstation() -> None:
    settings = BusSettings("virtual", "filtered-rack")
    module = SimulatedModule(4, ModuleKind.VOLUMETRIC)
    async with FrameProbe(settings) as probe, \
            PumpRack(settings, [module], codec=codec()) as rack:
        await probe.expect(ModuleHeartbeat, lambda h: h.state is ModuleState.OPERATIONAL,
                           node=4)
        for i in range(200):
            probe.link.send_raw(can.Message(arbitration_id=i % 0x11, data=bytes(8),
                                            is_extended_id=False))
        probe.send(hb())
        probe.send(Command(node=4, seq=9, command=CommandCode.NOP, program_id=0))
        assert (await probe.expect(CommandAck, lambda a: a.seq == 9, node=4)).accepted
        assert rack.link.stats.rx.errors.get("foreign", 0) == 0  # filtered before decoding
        assert rack.link.stats.filtered >= 200


def test_program_pages_from_a_conflict_are_not_cached_for_the_retry() -> None:
    b = Bench()
    b.fw.foreign_frame(codec().frame_id(Status, NODE), b.now)
    frame = Program(node=NODE, seq=7, program_id=4, page=PrimaryPage(rate_ml_h=5, vtbi_ml=5))
    assert b.send(frame)[0].reason is RejectReason.NODE_CONFLICT  # type: ignore[attr-defined]
    b.run(b.fw.conflict.hold_s + 1)
    ack = b.send(frame)[0]  # the workstation's retry, once the conflict is over
    assert isinstance(ack, CommandAck) and ack.accepted


@pytest.mark.parametrize("kind", KINDS)
def test_a_pump_started_before_it_heard_any_heartbeat_still_says_it_ran_unsupervised(
        kind: ModuleKind) -> None:
    # Found by the B6 scenario: killed 0.3 s after its first heartbeat, the workstation had
    # started a pump that never heard one, and that pump never said it ran alone.
    b = Bench(kind)
    b.program(program_id=1, rate=20, vtbi=100)
    assert b.command(CommandCode.START, 1).accepted
    b.now += 5
    b.events += [e for e in b.fw.tick(b.now, 5) if isinstance(e, AlarmEvent)]
    assert b.raised(LOST) and b.fw.state is PumpState.INFUSING
