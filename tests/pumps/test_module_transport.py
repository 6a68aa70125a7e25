"""Simulated modules on a real python-can bus, the same conversation over every transport.

python-can's back2back pattern: ``ModuleConversation`` holds the tests, one subclass per
transport supplies the bus. A test failing on one transport only is a transport problem.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from dbc.frames import (
    AlarmEvent,
    Command,
    CommandAck,
    Delivery,
    ModuleHeartbeat,
    Power,
    PrimaryPage,
    Program,
    Readback,
    SettingsPage,
    Status,
    SyringeInfo,
    WsHeartbeat,
)
from dbc.link import BusSettings
from dbc.vocabulary import (
    AlarmCondition,
    CommandCode,
    EndAction,
    ModuleKind,
    ModuleState,
    PumpState,
    WorkstationState,
)
from pumps.module import Fault, SimulatedModule
from pumps.rack import PumpRack
from tests.buslab import FrameProbe, codec

SPEED = 120.0  # two hours of module time per minute


def heartbeat() -> WsHeartbeat:
    now = time.time()
    return WsHeartbeat(state=WorkstationState.OPERATIONAL, time_s=int(now),
                       time_ms=int(now % 1 * 1000), timeout_s=3.0)


def program(probe: FrameProbe, node: int, pid: int, rate: float, vtbi: float) -> None:
    probe.send(Program(node=node, seq=pid * 2, program_id=pid,
                       page=PrimaryPage(rate_ml_h=rate, vtbi_ml=vtbi)))
    probe.send(Program(node=node, seq=pid * 2 + 1, program_id=pid,
                       page=SettingsPage(kvo_rate_ml_h=1.0, occlusion_limit_mmhg=300,
                                         end_action=EndAction.KVO, air_limit_ul=50)))


class ModuleConversation:
    """The tests; subclasses provide ``settings``."""

    @pytest.fixture
    def settings(self) -> BusSettings:
        raise NotImplementedError

    async def test_modules_announce_themselves(self, settings: BusSettings) -> None:
        modules = [SimulatedModule(1, ModuleKind.VOLUMETRIC),
                   SimulatedModule(2, ModuleKind.SYRINGE)]
        async with FrameProbe(settings) as probe, PumpRack(settings, modules, codec=codec()):
            first = await probe.expect(ModuleHeartbeat, node=1)
            assert first.state is ModuleState.BOOT and first.kind is ModuleKind.VOLUMETRIC
            syringe = await probe.expect(ModuleHeartbeat, node=2)
            assert syringe.kind is ModuleKind.SYRINGE
            await probe.expect(Status, node=1)
            await probe.expect(Power, node=2)
            info = await probe.expect(SyringeInfo, node=2)
            assert info.engaged and info.volume_ml == pytest.approx(50.0)
            assert probe.of(SyringeInfo, 1) == []  # volumetric modules send no syringe frame
            assert probe.link.stats.rx.rejected == 0

    async def test_program_read_back_start_and_deliver(self, settings: BusSettings) -> None:
        async with FrameProbe(settings) as probe, \
                PumpRack(settings, [SimulatedModule(5, ModuleKind.VOLUMETRIC)], speed=SPEED,
                         codec=codec()):
            await probe.expect(ModuleHeartbeat, node=5)
            probe.send(heartbeat())
            program(probe, 5, pid=11, rate=120.0, vtbi=4.0)
            await probe.expect(CommandAck, lambda a: a.seq == 23, node=5)
            pages = [r.page for r in probe.of(Readback, 5) if r.program_id == 11]
            assert PrimaryPage(rate_ml_h=120.0, vtbi_ml=4.0) in pages
            probe.send(Command(node=5, seq=30, command=CommandCode.START, program_id=11))
            ack = await probe.expect(CommandAck, lambda a: a.seq == 30, node=5)
            assert ack.accepted and ack.state is PumpState.INFUSING
            # 4 mL at 120 mL/h is 2 min of module time, 1 s of bus time at this speed.
            kvo = await probe.expect(Status, lambda s: s.state is PumpState.KVO, node=5,
                                     timeout=10)
            assert kvo.rate_ml_h == pytest.approx(1.0)
            done = await probe.expect(AlarmEvent, lambda a: a.raised and
                                      a.condition is AlarmCondition.INFUSION_COMPLETE, node=5)
            assert done.alarms & AlarmCondition.INFUSION_COMPLETE
            volume = (await probe.expect(Delivery, node=5, after=len(probe.frames)))
            assert volume.volume_infused_ml == pytest.approx(4.0, abs=0.3)

    async def test_occlusion_raises_an_alarm_frame_at_once(self, settings: BusSettings) -> None:
        async with FrameProbe(settings) as probe, \
                PumpRack(settings, [SimulatedModule(6, ModuleKind.VOLUMETRIC)], speed=SPEED,
                         codec=codec()) as rack:
            await probe.expect(ModuleHeartbeat, node=6)
            probe.send(heartbeat())
            program(probe, 6, pid=3, rate=100.0, vtbi=500.0)
            probe.send(Command(node=6, seq=40, command=CommandCode.START, program_id=3))
            await probe.expect(Status, lambda s: s.state is PumpState.INFUSING, node=6)
            rack[6].inject(Fault.OCCLUSION)
            event = await probe.expect(AlarmEvent, lambda a: a.raised and a.condition is
                                       AlarmCondition.OCCLUSION_DOWNSTREAM, node=6, timeout=10)
            assert event.alarms & AlarmCondition.OCCLUSION_DOWNSTREAM
            stopped = await probe.expect(Status, lambda s: s.state is PumpState.ALARM, node=6)
            assert stopped.rate_ml_h == 0

    async def test_corrupt_frames_are_dropped_and_counted(self, settings: BusSettings) -> None:
        modules = [SimulatedModule(7, ModuleKind.SYRINGE)]
        async with FrameProbe(settings) as probe, \
                PumpRack(settings, modules, codec=codec()) as rack:
            await probe.expect(Status, node=7)
            rack[7].inject(Fault.CORRUPT, 5)
            await asyncio.sleep(1.5)
            assert probe.link.stats.rx.errors["crc"] == 5
            assert probe.link.stats.rx.errors_by_node[7] == 5
            count = len(probe.frames)
            await probe.expect(Status, node=7, after=count)  # reception goes on

    async def test_silent_and_rebooted_modules(self, settings: BusSettings) -> None:
        modules = [SimulatedModule(8, ModuleKind.VOLUMETRIC)]
        async with FrameProbe(settings) as probe, \
                PumpRack(settings, modules, codec=codec()) as rack:
            await probe.expect(ModuleHeartbeat, lambda h: h.state is ModuleState.OPERATIONAL,
                               node=8)
            rack[8].inject(Fault.SILENT)
            await asyncio.sleep(0.3)
            count = len(probe.frames)
            await asyncio.sleep(1.2)
            assert len(probe.frames) == count, "a silent module sent frames"
            rack[8].inject(Fault.SILENT, 0)
            rack[8].inject(Fault.REBOOT)
            beat = await probe.expect(ModuleHeartbeat, lambda h: h.state is ModuleState.BOOT,
                                      node=8, after=count)
            assert beat.serial == 100_008
            # The reboot restarted the module's alive counters; its BOOT heartbeat resynchronises
            # the receiver, so at most the few frames sent before it are dropped.
            assert probe.link.stats.rx.resyncs == 1
            await asyncio.sleep(1.5)
            assert probe.link.stats.rx.errors["counter"] <= 3
            await probe.expect(Status, node=8, after=len(probe.frames))


class TestVirtual(ModuleConversation):
    @pytest.fixture
    def settings(self, virtual_channel: str) -> BusSettings:
        return BusSettings("virtual", virtual_channel)


class TestRemote(ModuleConversation):
    @pytest.fixture
    def settings(self, remote_channel: str) -> BusSettings:
        return BusSettings("remote", remote_channel)


def test_pump_control_from_a_non_pipe_stdin_is_not_a_traceback() -> None:
    """``--control stdin`` with stdin on /dev/null: no fault lines, no traceback, clean exit."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "icu_ws.cli", "pump", "--node", "4", "--channel",
         "stdin-null-test", "--control", "stdin", "--duration", "1.5"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "pumps: nodes 4:volumetric" in result.stdout
