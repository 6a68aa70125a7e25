"""The traffic part 1 of ``bench/workstation.py`` feeds the receive path: what eight infusing
modules send, built as frames, to be encoded once and replayed.

Kept apart from the timing code (``bench/ws_receive.py``) because it is the workload's
definition: what a "frame/s" is made of. Change the mix here and the figures change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import can

from dbc.frames import (
    CommandAck,
    Delivery,
    Frame,
    ModuleHeartbeat,
    Power,
    PrimaryPage,
    Progress,
    Readback,
    SettingsPage,
    Status,
    SyringeInfo,
)
from dbc.vocabulary import (
    AckResult,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    ProgramStore,
    PumpState,
    SyringeSize,
)
from pumps.rack import FAST_PERIOD_S
from tests.bus import frame_samples
from workstation.config import WorkstationConfig

RX_START_S = 600.0  # module time of the first frame: the infusions run for 10 min already
RX_PROGRAM_ID = 1


@dataclass(frozen=True)
class SimChannel:
    """One simulated infusing module: what its frames say."""

    node: int
    kind: ModuleKind
    rate_ml_h: float
    vtbi_ml: float


def rx_channels(config: WorkstationConfig) -> list[SimChannel]:
    """A module per configured channel, each at its own rate, so values differ per node."""
    out = []
    for i, c in enumerate(config.channels):
        kind = ModuleKind[c.kind.upper()]
        if kind is ModuleKind.VOLUMETRIC:
            out.append(SimChannel(c.slot, kind, 60.0 + 20.0 * i, 1000.0))
        else:
            out.append(SimChannel(c.slot, kind, 4.0 + 1.5 * i, 50.0))
    return out


def heartbeat(ch: SimChannel) -> ModuleHeartbeat:
    """The module's heartbeat: operational, its kind, a serial of its own."""
    return frame_samples.heartbeat(ch.node, kind=ch.kind)


def rx_warmup(chans: list[SimChannel]) -> list[Frame]:
    """What a restarted workstation hears first: each module's heartbeat (it appears and asks
    for the running program: REQUEST_READBACK, seq 1), the ack and the active program pages."""
    frames: list[Frame] = []
    for ch in chans:
        frames.append(heartbeat(ch))
    for ch in chans:
        frames += [
            CommandAck(node=ch.node, result=AckResult.ACCEPTED, seq=1,
                       subject=CommandCode.REQUEST_READBACK, program_id=0,
                       state=PumpState.INFUSING),
            Readback(node=ch.node, store=ProgramStore.ACTIVE, program_id=RX_PROGRAM_ID,
                     page=PrimaryPage(rate_ml_h=ch.rate_ml_h, vtbi_ml=ch.vtbi_ml)),
            Readback(node=ch.node, store=ProgramStore.ACTIVE, program_id=RX_PROGRAM_ID,
                     page=SettingsPage(kvo_rate_ml_h=1.0, occlusion_limit_mmhg=300,
                                       end_action=EndAction.KVO, air_limit_ul=50)),
        ]
    return frames


def rx_stream(chans: list[SimChannel], seconds: int) -> list[Frame]:
    """``seconds`` of bus time from infusing modules, as the rack sends it: Status, Delivery,
    Progress every 250 ms; Heartbeat, Power (and Syringe) every second, spread over the
    period. Every identifier occurs a multiple of 16 times, so the encoded list replays with
    consecutive alive counters forever."""
    assert seconds % 16 == 0
    rounds_per_s = round(1.0 / FAST_PERIOD_S)
    frames: list[Frame] = []
    for r in range(seconds * rounds_per_s):
        t = RX_START_S + r * FAST_PERIOD_S
        for k, ch in enumerate(chans):
            volume = ch.rate_ml_h * t / 3600.0
            left = max(ch.vtbi_ml - volume, 0.0)
            frames += [
                Status(node=ch.node, state=PumpState.INFUSING, mode=DeliveryMode.PRIMARY,
                       rate_ml_h=ch.rate_ml_h, pressure_mmhg=40 + (r + k) % 7,
                       alarms=AlarmCondition(0)),
                Delivery(node=ch.node, volume_infused_ml=round(volume, 3),
                         module_time_s=round(t, 2)),
                Progress(node=ch.node, program_id=RX_PROGRAM_ID,
                         volume_remaining_ml=round(left, 1),
                         time_remaining_min=round(left / ch.rate_ml_h * 60)),
            ]
            if r % rounds_per_s == k % rounds_per_s:
                frames += [heartbeat(ch),
                           Power(node=ch.node, on_mains=True, battery_percent=100,
                                 battery_minutes=600, temperature_c=31)]
                if ch.kind is ModuleKind.SYRINGE:
                    syringe_left = max(50.0 - volume, 0.0)
                    frames.append(SyringeInfo(
                        node=ch.node, size=SyringeSize.ML_50,
                        plunger_travel_mm=round(syringe_left * 2.0, 1),
                        volume_ml=round(syringe_left, 1), force_n=12.5, engaged=True))
    return frames


class Cursor:
    """Cycles over chunks of a message list, so counters stay consecutive across calls."""

    def __init__(self, msgs: list[can.Message], chunk: int) -> None:
        self.msgs = msgs
        self.chunks = [msgs[i:i + chunk] for i in range(0, len(msgs), chunk)]
        self.index = 0

    def next_chunk(self) -> list[can.Message]:
        """The next chunk, wrapping round to the first after the last."""
        chunk = self.chunks[self.index]
        self.index = (self.index + 1) % len(self.chunks)
        return chunk

    def take(self, count: int) -> list[can.Message]:
        """Whole chunks, at least ``count`` messages."""
        out: list[can.Message] = []
        while len(out) < count:
            out += self.next_chunk()
        return out
