"""A ``Station`` coupled to simulated pump firmware through the real codec, in module time.

No bus and no sleeping: the test owns ``now``. Frames cross an in-memory wire as CAN messages
(CRC and alive counters checked by one encoder/decoder per side), delivered in order after each
step, never from inside the station's own calls (as on a real bus). Modules tick every 50 ms
and send their periodic frames at the DBC cycle times; the station ticks every 100 ms.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import can

from channels.controller import ChannelController
from channels.events import LogRow
from channels.plan import Plan
from dbc.codec import FrameDecoder, FrameEncoder
from dbc.errors import FrameError
from dbc.frames import Frame
from dbc.vocabulary import AlarmCondition, ModuleKind, PumpState
from pumps.module import SimulatedModule
from tests.buslab import codec
from workstation.alarms import Alarm
from workstation.config import WorkstationConfig, demo_config
from workstation.eventlog import EventLog
from workstation.station import Notice, Station

QUANTUM_S = 0.05
STATION_TICK_S = 0.1
FAST_PERIOD_S = 0.25
SLOW_PERIOD_S = 1.0


@dataclass
class StationRig:
    path: Path
    channels: int = 2
    now: float = 1000.0
    notices: list[Notice] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config: WorkstationConfig = demo_config(self.channels, channel_prefix="rig")
        self.log = EventLog(self.path / "events.db", synchronous="NORMAL")
        self.log.open()
        self.station = Station(self.config, self.log, self._send, clock=lambda: self.now)
        self.station.listeners.append(self.notices.append)
        self.modules: dict[str, SimulatedModule] = {
            ch.letter: SimulatedModule(ch.slot, ModuleKind[ch.kind.upper()])
            for ch in self.config.channels}
        self._by_node = {m.node: m for m in self.modules.values()}
        rig_clock = self._rig_clock  # freshness runs in the rig's time, not the host's
        self._ws_tx, self._ws_rx = FrameEncoder(codec()), FrameDecoder(codec(), clock=rig_clock)
        self._pump_tx, self._pump_rx = FrameEncoder(codec()), FrameDecoder(codec(),
                                                                           clock=rig_clock)
        self._to_pumps: deque[can.Message] = deque()
        self._to_station: deque[can.Message] = deque()
        self._next_tick = self.now
        self._next_fast = self.now
        self._next_slow = self.now

    # -- the wire ---------------------------------------------------------------------------
    def _rig_clock(self) -> float:
        return self.now

    def _send(self, bus: str, frame: Frame) -> None:
        self._to_pumps.append(self._ws_tx.encode(frame))  # raises EncodeError, as CanLink

    def _pump_send(self, module: SimulatedModule, frame: Frame) -> None:
        if not module.silent:
            self._to_station.append(self._pump_tx.encode(frame))

    def deliver(self) -> None:
        bus = self.config.channels[0].bus
        while self._to_pumps or self._to_station:
            while self._to_pumps:
                frame = self._pump_rx.decode(self._to_pumps.popleft())
                module = self._by_node.get(frame.node)
                if module is not None and not module.silent:
                    for reply in module.firmware.handle(frame, self.now):
                        self._pump_send(module, reply)
            while self._to_station:
                try:
                    frame = self._ws_rx.decode(self._to_station.popleft())
                except FrameError as exc:
                    self.station.on_frame_error(bus, exc.kind, True)
                    continue
                self.station.on_frame(bus, frame)

    # -- time -------------------------------------------------------------------------------
    def step(self) -> None:
        self.now = round(self.now + QUANTUM_S, 6)
        for module in self.modules.values():
            for event in module.firmware.tick(self.now, QUANTUM_S):
                self._pump_send(module, event)
        if self.now >= self._next_fast:
            self._next_fast += FAST_PERIOD_S
            for module in self.modules.values():
                fw = module.firmware
                for frame in (fw.status(), fw.delivery(), fw.progress()):
                    self._pump_send(module, frame)
        if self.now >= self._next_slow:
            self._next_slow += SLOW_PERIOD_S
            for module in self.modules.values():
                self._pump_send(module, module.firmware.heartbeat())
        self.deliver()
        if self.now >= self._next_tick:
            self._next_tick += STATION_TICK_S
            self.station.tick()
            self.deliver()

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.step()

    def run_until(self, predicate: object, seconds: float, what: str) -> None:
        assert callable(predicate)
        end = self.now + seconds
        while not predicate():
            if self.now >= end:
                raise AssertionError(f"not within {seconds} s of module time: {what}")
            self.step()

    # -- the nurse --------------------------------------------------------------------------
    def controller(self, letter: str) -> ChannelController:
        return self.station.controllers[letter]

    def start(self, letter: str, plan: Plan) -> None:
        """Program, verify by read-back, start: as the API does, through the controller."""
        c = self.controller(letter)
        self.station.apply(c.load(plan, self.now))
        self.deliver()
        self.run_until(lambda: c.pending is not None and c.pending.verified, 3, "verified")
        self.station.apply(c.start(self.now))
        self.run_until(lambda: c.state is PumpState.INFUSING, 3, f"{letter} infusing")

    def acknowledge_all(self, letter: str, user: str = "rn") -> None:
        """As ``Workstation.acknowledge`` does for each alarm of the channel: in the alarm
        system, and the module's own conditions on the module too (re-arms its latches)."""
        station, bits = self.station, AlarmCondition(0)
        for alarm in station.alarms.active():
            if alarm.key.source == letter and not alarm.acknowledged:
                station.publish(station.alarms.acknowledge(alarm.id, self.now, user=user), [])
                if alarm.key.condition in AlarmCondition.__members__:
                    bits |= AlarmCondition[alarm.key.condition]
        if bits and self.controller(letter).online:
            station.apply(self.controller(letter).acknowledge_module(bits, self.now, user=user))
        self.deliver()

    def alarm(self, letter: str, condition: str) -> Alarm | None:
        return next((a for a in self.station.alarms.active()
                     if a.key.source == letter and a.key.condition == condition), None)

    def rows(self, text: str) -> list[LogRow]:
        return self.log.query(text=text)

    def close(self) -> None:
        self.log.close()
