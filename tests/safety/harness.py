"""The coupled system for the stateful safety tests: workstation and pumps in one process.

A real ``Station`` (real event log on SQLite, alarm system, channel controllers) behind the real
public ``Workstation`` API, and real ``PumpFirmware`` modules with their physics, exchange frames
through the real codec (E2E CRC and alive counters, one encoder/decoder per side) over an
in-memory wire that can corrupt or drop frames. Everything runs in module time on an injected
clock (``SimLoop``): no bus, no sleeping, no threads. Time advances in quanta of 50 ms: modules
tick every quantum and send their periodic frames at the DBC cycle times (250 ms, 1 s), the
station ticks every 100 ms and the workstation heartbeat goes out every ``period_s``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import can

from channels.controller import ChannelController
from channels.druglib import DrugLibrary
from channels.events import EventKind
from channels.plan import Plan
from dbc.codec import FrameCodec, FrameDecoder, FrameEncoder
from dbc.errors import FrameError
from dbc.frames import Frame, Status, WsHeartbeat
from dbc.vocabulary import ModuleKind, WorkstationState
from pumps.module import Fault, SimulatedModule
from workstation import api as api_module
from workstation.api import Workstation, restored_plans
from workstation.config import WorkstationConfig, demo_config
from workstation.station import Station

from .simloop import SimLoop

QUANTUM_S = 0.05  # the pump rack's tick
STATION_TICK_S = 0.1  # the supervisor's tick
FAST_PERIOD_S = 0.25  # Status, Delivery, Progress (DBC GenMsgCycleTime 250)
SLOW_PERIOD_S = 1.0  # Heartbeat, Power, Syringe (1000)
BOOT_SILENCE_S = 0.5  # a rebooting module is off the bus this long (as pumps/rack.py)
T = TypeVar("T")


@dataclass
class WireFaults:
    """Frame corruption/loss on the wire, per module node, until a module time."""

    corrupt_until: dict[int, float] = field(default_factory=dict)
    corrupt_p: dict[int, float] = field(default_factory=dict)
    drop_until: dict[int, float] = field(default_factory=dict)
    drop_p: dict[int, float] = field(default_factory=dict)


class Rig:
    """Two channels by default: A volumetric (slot 1), B syringe (slot 2), one bus."""

    def __init__(self, directory: Path, *, channels: int = 2, seed: int = 0) -> None:
        self.directory = directory
        self.t = 0.0
        self.config: WorkstationConfig = demo_config(channels,
                                                     event_log=directory / "events.db")
        self.bus = self.config.buses[0].name
        self.codec = FrameCodec()
        self.rng = random.Random(seed)
        self.modules: dict[str, SimulatedModule] = {}
        for ch in self.config.channels:
            module = SimulatedModule(ch.slot, ModuleKind[ch.kind.upper()])
            module.on_fault = self._fault_injected
            self.modules[ch.letter] = module
        self.letter_of = {ch.slot: ch.letter for ch in self.config.channels}
        count = len(self.modules)
        self._next_fast = {m.node: i * FAST_PERIOD_S / count
                           for i, m in enumerate(self.modules.values())}
        self._next_slow = {m.node: i * SLOW_PERIOD_S / count
                           for i, m in enumerate(self.modules.values())}
        self._boot_until: dict[int, float] = {}
        self._silent_until: dict[int, float] = {}
        self.pump_encoder = FrameEncoder(self.codec)
        self.pump_decoder = FrameDecoder(self.codec, clock=self.clock)
        self.faults = WireFaults()
        self.to_pumps: deque[can.Message] = deque()
        self.to_ws: deque[can.Message] = deque()
        self.last_status_rx: dict[str, float] = {}  # letter -> when the station got a Status
        self.observers: list[Callable[[], None]] = []  # called after every quantum
        self.plan_observers: list[Callable[[str, int, Plan], None]] = []  # nurse-confirmed plans
        self.frame_observers: list[Callable[[str], None]] = []  # a module's frame was decoded
        self.loop = SimLoop(self.clock, self.step, QUANTUM_S)
        self.station: Station | None = None
        self.ws: Workstation | None = None
        self.ws_started_at = 0.0
        self.restarts = 0
        self.library: DrugLibrary | None = None  # None: the configured (shipped) library
        self._start_workstation()

    def clock(self) -> float:
        return self.t

    # -- the workstation side -----------------------------------------------------------------
    def _start_workstation(self) -> None:
        ws = Workstation(self.config, library=self.library,
                         event_log_path=self.directory / "events.db", clock=self.clock)
        ws.event_log.open()
        station = Station(self.config, ws.event_log, self._ws_send, clock=self.clock,
                          restored=restored_plans(ws.event_log))
        ws._supervisor = station  # type: ignore[assignment]  # the API over the pure core
        self._restore_like_start(ws)
        for controller in station.controllers.values():
            self._observe_loads(controller)
        self.ws, self.station = ws, station
        self.ws_encoder = FrameEncoder(self.codec)
        self.ws_decoder = FrameDecoder(self.codec, clock=self.clock)
        self._ws_beat_state = WorkstationState.BOOT
        self._next_ws_beat = self.t
        self._next_station_tick = self.t + STATION_TICK_S
        self.ws_started_at = self.t

    def _restore_like_start(self, ws: Workstation) -> None:
        """What ``Workstation._start`` rebuilds from the event log besides the plans (the bolus
        lockout, H4), for API versions that have it. Rows carry wall time, module time runs
        faster here: a rebuilt lockout is older than it looks, which only refuses more."""
        history = getattr(api_module, "bolus_history", None)
        if history is not None and hasattr(history, "from_log"):
            wall = datetime.now(UTC)
            rows = ws.event_log.query(kinds=[EventKind.PROGRAM], since=wall - timedelta(hours=1))
            ws.bolus_history = history.from_log(rows, self.clock(), wall)

    def _observe_loads(self, controller: ChannelController) -> None:
        """Record every plan the nurse confirmed and sent (the reference for the invariants)."""
        load = controller.load

        def observed(plan: Plan, now: float, *, user: str | None = None) -> Any:
            fx = load(plan, now, user=user)
            if controller.pending is not None:
                for observer in self.plan_observers:
                    observer(controller.letter, controller.pending.program_id, plan)
            return fx

        controller.load = observed  # type: ignore[method-assign]

    def stop_workstation(self) -> None:
        """The workstation process ends (crash or restart): its state is gone, the log kept."""
        if self.ws is not None:
            self.ws.event_log.close()
        self.ws = self.station = None
        self.to_ws.clear()

    def restart_workstation(self, downtime_s: float, *, library: DrugLibrary | None = None
                            ) -> None:
        """Stop, wait, start again; with ``library``, the pharmacy's update is loaded at the
        start, as the real workstation reads its library only then."""
        self.stop_workstation()
        if library is not None:
            self.library = library
        self.advance(downtime_s)
        self.restarts += 1
        self._start_workstation()

    def _ws_send(self, bus: str, frame: Frame) -> None:
        # Encoding errors (a field the bus cannot carry) propagate, as on the real link.
        self._put(self.to_pumps, self.ws_encoder.encode(frame), self._node_of(frame))

    @staticmethod
    def _node_of(frame: Frame) -> int:
        return 0 if isinstance(frame, WsHeartbeat) else frame.node

    # -- the pump side ------------------------------------------------------------------------
    def module(self, letter: str) -> SimulatedModule:
        return self.modules[letter]

    def offline(self, module: SimulatedModule) -> bool:
        return module.silent or self.t < self._boot_until.get(module.node, 0.0)

    def _pump_send(self, module: SimulatedModule, frame: Frame) -> None:
        msg = self.pump_encoder.encode(frame)
        if module.corrupt_frames > 0:
            module.corrupt_frames -= 1
            msg.data[4] ^= 0x5A  # as pumps/rack.py: payload changed after the CRC
        self._put(self.to_ws, msg, module.node)

    def _fault_injected(self, module: SimulatedModule) -> None:
        events = module.firmware.tick(self.t, 0.0)  # a sensor interrupt: evaluate at once
        if not self.offline(module):
            for event in events:
                self._pump_send(module, event)

    def silence(self, letter: str, duration_s: float) -> None:
        """The module stops sending and hearing for ``duration_s``, then comes back."""
        module = self.modules[letter]
        module.inject(Fault.SILENT, 1)
        self._silent_until[module.node] = self.t + duration_s

    def corrupt(self, letter: str, p: float, duration_s: float, *, drop: bool = False) -> None:
        """Corrupt (or drop) a fraction ``p`` of the frames to and from a module for a while."""
        node = self.modules[letter].node
        until, prob = (self.faults.drop_until, self.faults.drop_p) if drop else \
            (self.faults.corrupt_until, self.faults.corrupt_p)
        until[node], prob[node] = self.t + duration_s, p

    def wire_disturbed(self, letter: str, within_s: float = 0.0) -> bool:
        node = self.modules[letter].node
        edge = self.t - within_s
        return self.faults.corrupt_until.get(node, -1.0) > edge or \
            self.faults.drop_until.get(node, -1.0) > edge

    def _put(self, queue: deque[can.Message], msg: can.Message, node: int) -> None:
        f = self.faults
        nodes = list(self.letter_of) if node == 0 else [node]
        for n in nodes:  # a broadcast (heartbeat) is disturbed if any node's wire is
            if self.t < f.drop_until.get(n, -1.0) and self.rng.random() < f.drop_p[n]:
                return
            if self.t < f.corrupt_until.get(n, -1.0) and self.rng.random() < f.corrupt_p[n]:
                msg.data[5] ^= 0x21
                break
        queue.append(msg)

    # -- time ---------------------------------------------------------------------------------
    def step(self) -> None:
        """One quantum of module time."""
        self.t = round(self.t + QUANTUM_S, 6)
        now = self.t
        for node, until in list(self._silent_until.items()):
            if now >= until:
                del self._silent_until[node]
                self.modules[self.letter_of[node]].inject(Fault.SILENT, 0)
        for module in self.modules.values():
            node, fw = module.node, module.firmware
            if module.rebooted:
                module.rebooted = False
                self._boot_until[node] = now + BOOT_SILENCE_S
                self.pump_encoder.reset(node)
            events = fw.tick(now, QUANTUM_S)
            if self.offline(module):
                continue
            for event in events:
                self._pump_send(module, event)
            if now >= self._next_fast[node] - 1e-9:
                self._next_fast[node] += FAST_PERIOD_S
                for frame in (fw.status(), fw.delivery(), fw.progress()):
                    self._pump_send(module, frame)
            if now >= self._next_slow[node] - 1e-9:
                self._next_slow[node] += SLOW_PERIOD_S
                self._pump_send(module, fw.heartbeat())
                self._pump_send(module, fw.power())
                info = module.syringe_info()
                if info is not None:
                    self._pump_send(module, info)
        if self.station is not None:
            if now >= self._next_ws_beat - 1e-9:
                self._next_ws_beat = now + self.config.heartbeat.period_s
                beat = WsHeartbeat(state=self._ws_beat_state, time_s=int(now),
                                   time_ms=int(now % 1 * 1000),
                                   timeout_s=round(self.config.heartbeat.ws_timeout_s, 1))
                self._ws_beat_state = WorkstationState.OPERATIONAL
                self._ws_send(self.bus, beat)
            if now >= self._next_station_tick - 1e-9:
                self._next_station_tick = now + STATION_TICK_S
                self.station.tick()
        self.deliver()
        for observer in self.observers:
            observer()

    def deliver(self) -> None:
        """Carry every frame in flight, both ways, until the wire is quiet."""
        while self.to_pumps or self.to_ws:
            while self.to_pumps:
                self._to_module(self.to_pumps.popleft())
            while self.to_ws:
                self._to_station(self.to_ws.popleft())

    def _to_module(self, msg: can.Message) -> None:
        try:
            frame = self.pump_decoder.decode(msg)
        except FrameError:
            return  # a module drops a bad frame; the workstation's retries cover it
        if isinstance(frame, WsHeartbeat):
            targets = list(self.modules.values())
        else:
            letter = self.letter_of.get(frame.node)
            targets = [] if letter is None else [self.modules[letter]]
        for module in targets:
            if self.offline(module) or (module.deaf and not isinstance(frame, WsHeartbeat)):
                continue
            for reply in module.firmware.handle(frame, self.t):
                self._pump_send(module, reply)

    def _to_station(self, msg: can.Message) -> None:
        station = self.station
        if station is None:
            return
        try:
            frame = self.ws_decoder.decode(msg)
        except FrameError as exc:
            station.on_frame_error(self.bus, exc.kind,
                                   self.codec.spec_for_id(msg.arbitration_id) is not None)
            return
        letter = self.letter_of.get(frame.node)
        if letter is not None:
            if isinstance(frame, Status):
                self.last_status_rx[letter] = self.t
            for observer in self.frame_observers:
                observer(letter)
        station.on_frame(self.bus, frame)

    def advance(self, seconds: float) -> None:
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.step()

    # -- the nurse ----------------------------------------------------------------------------
    def run(self, action: Callable[[Workstation], Coroutine[Any, Any, T]]) -> T:
        """Run one public-API call to its end in module time."""
        assert self.ws is not None, "the workstation is not running"
        return self.loop.run_until_complete(action(self.ws))

    def close(self) -> None:
        self.stop_workstation()
        self.loop.close()
