"""Sample frames: every type, page kind and several nodes; a busy bus's mix; a Status stream.

The one source of sample frames for the tests and the benchmarks (``bench/codec.py``,
``bench/transport.py`` import it, as they import ``tests.buslab``). Every value lies on its
signal's scaling grid and inside its DBC range, so an encode/decode round trip returns an equal
model. Keep it free of pytest: the benchmarks run without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import can

from dbc.codec import FrameCodec, FrameEncoder
from dbc.frames import (
    AlarmEvent,
    BolusPage,
    Command,
    CommandAck,
    Delivery,
    Frame,
    ModuleHeartbeat,
    Page,
    Power,
    PrimaryPage,
    Program,
    Progress,
    Readback,
    SecondaryPage,
    SettingsPage,
    Status,
    SyringeInfo,
    WsHeartbeat,
)
from dbc.vocabulary import (
    AckResult,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    ModuleState,
    ProgramStore,
    PumpState,
    RejectReason,
    SyringeSize,
    WorkstationState,
)

NODES: tuple[int, ...] = (1, 2, 7, 16, 31)
"""Slots the samples use: both ends of the range and a few in between."""

ALIVE_PERIOD = 16  # the E2E alive counter's period: a list of 16 rounds replays seamlessly


def sample_pages() -> list[Page]:
    """At least one page of every kind, including range edges."""
    return [
        PrimaryPage(rate_ml_h=125.6, vtbi_ml=500.0),
        PrimaryPage(rate_ml_h=0.1, vtbi_ml=9999.9),
        PrimaryPage(rate_ml_h=1200.0, vtbi_ml=0.1),
        SettingsPage(kvo_rate_ml_h=2.5, occlusion_limit_mmhg=300, end_action=EndAction.KVO,
                     air_limit_ul=50),
        SettingsPage(kvo_rate_ml_h=0.0, occlusion_limit_mmhg=50, end_action=EndAction.STOP,
                     air_limit_ul=10),
        SettingsPage(kvo_rate_ml_h=20.0, occlusion_limit_mmhg=900,
                     end_action=EndAction.CONTINUE, air_limit_ul=500),
        BolusPage(volume_ml=5.5, rate_ml_h=300.0),
        BolusPage(volume_ml=100.0, rate_ml_h=1200.0),
        BolusPage(volume_ml=0.1, rate_ml_h=10.0),
        SecondaryPage(rate_ml_h=50.3, vtbi_ml=100.0, callback=True),
        SecondaryPage(rate_ml_h=0.1, vtbi_ml=9999.9, callback=False),
    ]


def _per_node(node: int) -> list[Frame]:
    n = node
    return [
        ModuleHeartbeat(node=n, state=ModuleState.OPERATIONAL, kind=ModuleKind(n % 2),
                        fw_major=1, fw_minor=4, fw_patch=n, serial=100_000 + n),
        Command(node=n, seq=n, command=CommandCode.START, program_id=n + 10),
        Command(node=n, seq=255, command=CommandCode.ALARM_ACK,
                arg=int(AlarmCondition.AIR_IN_LINE | AlarmCondition.DOOR_OPEN)),
        Command(node=n, seq=0, command=CommandCode.REQUEST_READBACK,
                arg=int(ProgramStore.ACTIVE)),
        CommandAck(node=n, result=AckResult.ACCEPTED, seq=n, subject=CommandCode.START,
                   program_id=n + 10, state=PumpState.INFUSING),
        CommandAck(node=n, result=AckResult.REJECTED, seq=200,
                   subject=CommandCode.PROGRAM_SECONDARY, reason=RejectReason.KVO_ABOVE_RATE,
                   state=PumpState.ALARM),
        Status(node=n, state=PumpState.INFUSING, mode=DeliveryMode.PRIMARY, rate_ml_h=125.6,
               pressure_mmhg=120, alarms=AlarmCondition(0)),
        Status(node=n, state=PumpState.ALARM, mode=DeliveryMode.NONE, rate_ml_h=0.0,
               pressure_mmhg=1023,
               alarms=AlarmCondition.OCCLUSION_DOWNSTREAM | AlarmCondition.OVER_TEMPERATURE),
        Status(node=n, state=PumpState.KVO, mode=DeliveryMode.BOLUS, rate_ml_h=1200.0,
               pressure_mmhg=0, alarms=AlarmCondition.ON_BATTERY),
        Delivery(node=n, volume_infused_ml=12.345, module_time_s=123456.78),
        Delivery(node=n, volume_infused_ml=0.0, module_time_s=0.01),
        Progress(node=n, program_id=n + 10, volume_remaining_ml=487.4, time_remaining_min=233),
        Progress(node=n, program_id=0, volume_remaining_ml=0.0),
        SyringeInfo(node=n, size=SyringeSize.ML_50, plunger_travel_mm=87.3, volume_ml=42.1,
                    force_n=12.7, engaged=True),
        SyringeInfo(node=n, size=SyringeSize.NONE, plunger_travel_mm=0.0, volume_ml=0.0,
                    force_n=0.0, engaged=False),
        Power(node=n, on_mains=True, battery_percent=100, battery_minutes=240,
              temperature_c=37),
        Power(node=n, on_mains=False, battery_percent=5, battery_minutes=0,
              temperature_c=-40),
        AlarmEvent(node=n, condition=AlarmCondition.AIR_IN_LINE, raised=True,
                   alarms=AlarmCondition.AIR_IN_LINE | AlarmCondition.ON_BATTERY),
        AlarmEvent(node=n, condition=AlarmCondition.OVER_TEMPERATURE, raised=False,
                   alarms=AlarmCondition(0)),
    ]


def _program_frames(node: int) -> list[Frame]:
    out: list[Frame] = []
    for i, page in enumerate(sample_pages()):
        out.append(Program(node=node, seq=(node * 16 + i) & 0xFF, program_id=1 + i, page=page))
        store = ProgramStore.PENDING if i % 2 else ProgramStore.ACTIVE
        out.append(Readback(node=node, store=store, program_id=i, page=page))
    return out


def sample_frames() -> list[Frame]:
    """At least one instance of every class in ``FRAME_TYPES``, on several nodes."""
    frames: list[Frame] = [
        WsHeartbeat(state=WorkstationState.OPERATIONAL, time_s=1_767_225_600, time_ms=999,
                    timeout_s=2.5),
        WsHeartbeat(state=WorkstationState.BOOT, time_s=0, time_ms=0, timeout_s=0.5),
        WsHeartbeat(state=WorkstationState.SHUTTING_DOWN, time_s=4_294_967_295, time_ms=1,
                    timeout_s=6.3),
    ]
    for node in NODES:
        frames += _per_node(node)
        frames += _program_frames(node)
    return frames


def one_page_of_each_kind() -> list[Page]:
    """Primary, settings, bolus and secondary, once each (the first of each in sample_pages)."""
    pages: list[Page] = []
    for page in sample_pages():
        if not any(type(p) is type(page) for p in pages):
            pages.append(page)
    return pages


def busy_bus_mix(nodes: Iterable[int]) -> list[Frame]:
    """What a busy bus carries: per node a Status, Delivery, Progress, Heartbeat and Alarm
    frame and a Program page, the page kinds rotating over the nodes."""
    pages = one_page_of_each_kind()
    mix: list[Frame] = []
    for n in nodes:
        mix += [
            Status(node=n, state=PumpState.INFUSING, mode=DeliveryMode.PRIMARY,
                   rate_ml_h=10.0 * n + 0.5, pressure_mmhg=100 + n,
                   alarms=AlarmCondition.ON_BATTERY),
            Delivery(node=n, volume_infused_ml=12.345 * n, module_time_s=3600.25 + n),
            Progress(node=n, program_id=n, volume_remaining_ml=487.4, time_remaining_min=233),
            ModuleHeartbeat(node=n, state=ModuleState.OPERATIONAL, kind=ModuleKind.VOLUMETRIC,
                            fw_major=1, fw_minor=2, fw_patch=3, serial=1000 + n),
            AlarmEvent(node=n, condition=AlarmCondition.AIR_IN_LINE, raised=True,
                       alarms=AlarmCondition.AIR_IN_LINE),
            Program(node=n, seq=n, program_id=n, page=pages[n % len(pages)]),
        ]
    return mix


def heartbeat(node: int, *, kind: ModuleKind = ModuleKind.VOLUMETRIC,
              state: ModuleState = ModuleState.OPERATIONAL, serial: int | None = None,
              boot_count: int = 0, firmware: tuple[int, int, int] = (1, 0, 0)
              ) -> ModuleHeartbeat:
    """A module's heartbeat; its serial is 100000 + node unless given."""
    major, minor, patch = firmware
    return ModuleHeartbeat(node=node, state=state, kind=kind, fw_major=major, fw_minor=minor,
                           fw_patch=patch, serial=100_000 + node if serial is None else serial,
                           boot_count=boot_count)


def infusing_status(node: int) -> Status:
    """An infusing module's Status, its rate and pressure its own (10.5 mL/h for node 1)."""
    return Status(node=node, state=PumpState.INFUSING, mode=DeliveryMode.PRIMARY,
                  rate_ml_h=10.0 * node + 0.5, pressure_mmhg=100 + node,
                  alarms=AlarmCondition(0))


def status_stream(codec: FrameCodec, count: int,
                  nodes: Sequence[int] = range(1, 13)) -> list[can.Message]:
    """``count`` encoded Status frames of ``nodes`` in turn, every one accepted by a decoder:
    alive counters run on consecutively per identifier, also when the list is sent again from
    its start (it cycles over one counter period; the messages repeat, shared)."""
    encoder = FrameEncoder(codec)
    block = [encoder.encode(infusing_status(n)) for _ in range(ALIVE_PERIOD) for n in nodes]
    return [block[i % len(block)] for i in range(count)]
