"""Simulated modules on a bus: one link, one tick loop, periodic frames on the bus clock.

The rack is to the pumps what the supervisor is to the workstation (python-canopen's LocalNode
side): it owns one ``CanLink``, hands each received frame to the module in that slot, and sends
what the firmware returns. Module time runs ``speed`` times faster than the bus clock; frame
periods stay in bus time, as on a real bus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

import can

from dbc.codec import FrameCodec
from dbc.errors import FrameError
from dbc.frames import Command, Frame, Program, WsHeartbeat
from dbc.link import BusSettings, CanLink
from dbc.shutdown import cancel_and_wait
from pumps.module import SimulatedModule

__all__ = ["FAST_PERIOD_S", "PumpRack", "own_ids", "rack_filters"]

log = logging.getLogger(__name__)

FAST_PERIOD_S = 0.25  # Status, Delivery, Progress (DBC GenMsgCycleTime 250)
SLOW_PERIOD_S = 1.0  # Heartbeat, Power, Syringe (1000)
BOOT_SILENCE_S = 0.5  # a rebooting module is off the bus this long
STANDARD_ID = 0x7FF


def own_ids(codec: FrameCodec, node: int) -> set[int]:
    """The identifiers only this module sends (its frames, every one of the DBC's)."""
    return set(codec.frame_ids_of_node(node)) - \
        {codec.frame_id(Command, node), codec.frame_id(Program, node)}


def rack_filters(codec: FrameCodec, nodes: Iterable[int]) -> can.typechecking.CanFilters:
    """Receive filters of a pump process: the workstation's heartbeat, each module's Command
    and Program, and each module's own identifiers (a frame there is another sender, B4).

    Exact 11-bit matches: socketcan installs them in the kernel, so junk on other
    identifiers never wakes the process (B7)."""
    ids = {codec.frame_id(WsHeartbeat, 0)}
    for node in nodes:
        ids |= set(codec.frame_ids_of_node(node))
    return [{"can_id": i, "can_mask": STANDARD_ID, "extended": False} for i in sorted(ids)]


class PumpRack:
    """Runs ``modules`` on the bus described by ``settings``. Use ``async with``."""

    def __init__(self, settings: BusSettings, modules: Iterable[SimulatedModule], *,
                 speed: float = 1.0, tick_s: float = 0.05, codec: FrameCodec | None = None
                 ) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed}: must be > 0 (1 = real time)")
        self.modules = {m.node: m for m in modules}
        self.speed = speed
        self.tick_s = tick_s
        codec = codec or FrameCodec()
        self.link = CanLink(settings, codec, self._on_frame, on_frame_error=self._on_frame_error,
                            on_raw=self._on_raw, can_filters=rack_filters(codec, self.modules),
                            name="pumps")
        self._own = {i: node for node in self.modules for i in own_ids(codec, node)}
        self.conflicts: list[str] = []  # what the rack said about foreign senders, in order
        self.on_conflict: Callable[[str], None] | None = None  # e.g. print it (icu-ws pump)
        self._task: asyncio.Task[None] | None = None
        self._boot_until: dict[int, float] = {}
        for module in self.modules.values():
            module.on_fault = self._fault_injected

    def __getitem__(self, node: int) -> SimulatedModule:
        return self.modules[node]

    async def __aenter__(self) -> PumpRack:
        await self.link.open()
        self._task = asyncio.create_task(self._run(), name="pump-rack")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await cancel_and_wait([self._task])
        await self.link.close()

    # -- receive -----------------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        now = asyncio.get_running_loop().time()
        targets = self.modules.values() if isinstance(frame, WsHeartbeat) \
            else [m for m in (self.modules.get(frame.node),) if m is not None]
        for module in targets:
            if self._offline(module, now) or (module.deaf and not isinstance(frame, WsHeartbeat)):
                continue
            for reply in module.firmware.handle(frame, now):
                self._send(module, reply)

    def _on_raw(self, msg: can.Message) -> bool:
        """A frame on one of our modules' own identifiers comes from another sender: the
        module refuses commands until it is quiet (``pumps.conflict``). Not decoded further."""
        node = None if msg.is_extended_id else self._own.get(msg.arbitration_id)
        if node is None:
            return False
        now = asyncio.get_running_loop().time()
        module = self.modules[node]
        if module.firmware.foreign_frame(msg.arbitration_id, now):
            self._say(f"conflict: node {node}: another sender on its own identifier "
                      f"0x{msg.arbitration_id:03X}; commands refused (NODE_CONFLICT), the "
                      f"running program goes on")
        return True

    def describe(self, node: int) -> str:
        """One line on a module's firmware, for ``icu-ws pump`` stdin ("NODE show")."""
        fw = self.modules[node].firmware
        now = asyncio.get_running_loop().time()
        ws = "never" if fw.last_ws is None else f"{now - fw.last_ws:.1f} s ago"
        stats = self.link.stats
        return (f"show: node {node} {fw.state.name} alarms {fw.reported!r} ws heartbeat {ws}; "
                f"rx accepted {stats.rx.accepted} errors {dict(stats.rx.errors)} "
                f"filtered {stats.filtered}; conflict {fw.conflict.describe()}")

    def _say(self, text: str) -> None:
        log.warning("pumps: %s", text)
        self.conflicts.append(text)
        if self.on_conflict is not None:
            self.on_conflict(text)

    def _on_frame_error(self, exc: FrameError, msg: object) -> None:
        log.debug("pumps: dropped %s", exc)

    # -- send --------------------------------------------------------------------------------
    def _offline(self, module: SimulatedModule, now: float) -> bool:
        return module.silent or now < self._boot_until.get(module.node, 0.0)

    def _send(self, module: SimulatedModule, frame: Frame) -> None:
        if module.corrupt_frames > 0:
            module.corrupt_frames -= 1
            msg = self.link.encoder.encode(frame)
            msg.data[4] ^= 0x5A  # payload changed after the CRC: receivers must drop it
            self.link.send_raw(msg)
        else:
            self.link.send(frame)

    def _fault_injected(self, module: SimulatedModule) -> None:
        if self._task is None:
            return  # not running yet: the first tick will see it
        now = asyncio.get_running_loop().time()
        events = module.firmware.tick(now, 0.0)
        if not self._offline(module, now):
            for event in events:
                self._send(module, event)

    # -- time --------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        count = max(len(self.modules), 1)
        # Spread the modules' periodic frames over the period instead of bursting them.
        next_fast = {n: last + i * FAST_PERIOD_S / count for i, n in enumerate(self.modules)}
        next_slow = {n: last + i * SLOW_PERIOD_S / count for i, n in enumerate(self.modules)}
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            module_dt = (now - last) * self.speed
            last = now
            for node, module in self.modules.items():
                conflict = module.firmware.conflict
                if conflict.ended(now):
                    self._say(f"conflict: node {node}: ended ({conflict.describe()}); "
                              "commands accepted again")
                if module.rebooted:
                    module.rebooted = False
                    self._boot_until[node] = now + BOOT_SILENCE_S
                    self.link.encoder.reset(node)
                events = module.firmware.tick(now, module_dt)
                if self._offline(module, now):
                    continue
                for event in events:
                    self._send(module, event)
                if now >= next_fast[node]:
                    next_fast[node] += FAST_PERIOD_S * max(1, int((now - next_fast[node]) //
                                                               FAST_PERIOD_S) + 1)
                    fw = module.firmware
                    for frame in (fw.status(), fw.delivery(), fw.progress()):
                        self._send(module, frame)
                if now >= next_slow[node]:
                    next_slow[node] += SLOW_PERIOD_S * max(1, int((now - next_slow[node]) //
                                                               SLOW_PERIOD_S) + 1)
                    self._send(module, module.firmware.heartbeat())
                    self._send(module, module.firmware.power())
                    info = module.syringe_info()
                    if info is not None:
                        self._send(module, info)
