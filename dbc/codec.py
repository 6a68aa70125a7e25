"""Strict encode/decode between CAN frames and typed ``Frame`` models, with E2E.

``FrameCodec`` holds what the DBC says (stateless, shareable). ``FrameEncoder`` and
``FrameDecoder`` add one endpoint's state: alive counters sent, counters seen, error counts.
Every way a received frame can be wrong raises a ``FrameError`` subclass; the receive loop
counts and logs it and goes on.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import can
from cantools.database.can import Database, Message
from pydantic import ValidationError

from dbc import e2e
from dbc.database import load_database, split_name
from dbc.errors import (
    CounterError,
    CrcError,
    DbcError,
    EncodeError,
    ForeignFrameError,
    FrameError,
    FrameLengthError,
    SignalRangeError,
)
from dbc.frames import FRAME_TYPES, Frame, ModuleHeartbeat, WsHeartbeat
from dbc.vocabulary import ModuleState, WorkstationState

__all__ = ["FrameCodec", "FrameDecoder", "FrameEncoder", "FrameSpec", "RxStats"]

FRAME_LENGTH = 8
E2E_SIGNALS = ("Crc", "Counter")


@dataclass(frozen=True, slots=True)
class _SignalCheck:
    name: str
    minimum: float
    maximum: float
    decimals: int  # to undo float noise of scaling (125.60000000000001)
    choices: frozenset[int] | None


@dataclass(frozen=True, slots=True)
class FrameSpec:
    frame_id: int
    node: int
    frame_type: type[Frame]
    message: Message
    checks: tuple[_SignalCheck, ...]


def _checks(message: Message) -> tuple[_SignalCheck, ...]:
    out = []
    for sig in message.signals:
        if sig.name in E2E_SIGNALS or sig.is_multiplexer:
            continue
        scale = float(sig.scale)
        decimals = max(0, -math.floor(math.log10(scale))) if scale < 1 else 0
        choices = frozenset(int(v) for v in sig.choices) if sig.choices else None
        lo = float(sig.minimum) if sig.minimum is not None else -math.inf
        hi = float(sig.maximum) if sig.maximum is not None else math.inf
        out.append(_SignalCheck(sig.name, lo, hi, decimals, choices))
    return tuple(out)


class FrameCodec:
    """The DBC as typed frames: identifier map, signal ranges and value tables."""

    def __init__(self, db: Database | None = None) -> None:
        self.db = db or load_database()
        by_name = {t.MESSAGE: t for t in FRAME_TYPES}
        self._by_id: dict[int, FrameSpec] = {}
        self._by_key: dict[tuple[str, int], FrameSpec] = {}
        for message in self.db.messages:
            base, node = split_name(message.name)
            frame_type = by_name.get(base)
            if frame_type is None:
                raise DbcError(f"DBC message {message.name!r} has no frame model")
            spec = FrameSpec(message.frame_id, node, frame_type, message, _checks(message))
            self._by_id[message.frame_id] = spec
            self._by_key[(base, node)] = spec
        missing = set(by_name) - {k[0] for k in self._by_key}
        if missing:
            raise DbcError(f"DBC lacks messages for frame models: {sorted(missing)}")

    def frame_ids_sent_by(self, sender: str) -> list[int]:
        return [spec.frame_id for spec in self._by_id.values()
                if spec.message.senders == [sender]]

    def frame_ids_of_node(self, node: int) -> list[int]:
        return [spec.frame_id for (_, n), spec in self._by_key.items() if n == node]

    def spec_for_id(self, frame_id: int) -> FrameSpec | None:
        return self._by_id.get(frame_id)

    def frame_id(self, frame_type: type[Frame], node: int) -> int:
        spec = self._by_key.get((frame_type.MESSAGE, node))
        if spec is None:
            raise EncodeError(f"no {frame_type.MESSAGE} frame for node {node} in the DBC")
        return spec.frame_id

    def encode(self, frame: Frame, counter: int) -> can.Message:
        spec = self._by_key.get((frame.MESSAGE, frame.node))
        if spec is None:
            raise EncodeError(f"no {frame.MESSAGE} frame for node {frame.node} in the DBC")
        values = frame.to_signals()
        values["Crc"] = 0
        values["Counter"] = counter & 0x0F
        try:
            payload = bytearray(spec.message.encode(values, scaling=True, strict=True))
        except Exception as exc:  # cantools: EncodeError, KeyError on a missing signal
            raise EncodeError(f"{spec.message.name}: cannot encode {frame!r}: {exc}") from exc
        e2e.protect(payload, spec.frame_id, counter)
        return can.Message(arbitration_id=spec.frame_id, data=payload, is_extended_id=False,
                           dlc=FRAME_LENGTH)

    def decode(self, msg: can.Message, counters: e2e.CounterCheck | None = None) -> Frame:
        """Decode and check one frame; raises a ``FrameError`` subclass if it is not good."""
        fid = msg.arbitration_id
        if msg.is_extended_id or msg.is_remote_frame or msg.is_error_frame:
            raise ForeignFrameError(fid, "extended, remote or error frame: not on our bus map")
        spec = self._by_id.get(fid)
        if spec is None:
            raise ForeignFrameError(fid, "identifier not in the DBC")
        data = msg.data
        if msg.dlc != FRAME_LENGTH or len(data) != FRAME_LENGTH:
            raise FrameLengthError(fid, f"{spec.message.name}: length {len(data)}, expected 8")
        if e2e.crc8(data, fid) != data[0]:
            raise CrcError(fid, f"{spec.message.name}: CRC mismatch")
        if counters is not None:
            verdict = counters.check(fid, data[1] & 0x0F)
            if verdict not in e2e.ACCEPTED:
                raise CounterError(fid, f"{spec.message.name}: alive counter {verdict.value}")
        try:
            values: dict[str, Any] = spec.message.decode(
                bytes(data), decode_choices=False, scaling=True)  # type: ignore[assignment]
        except Exception as exc:  # unknown multiplexer value and the like
            raise SignalRangeError(fid, f"{spec.message.name}: {exc}") from exc
        for check in spec.checks:
            value = values.get(check.name)
            if value is None:
                continue  # signal of another multiplexer page
            if check.decimals:
                value = values[check.name] = round(value, check.decimals)
            if check.choices is not None and value not in check.choices:
                raise SignalRangeError(fid, f"{spec.message.name}.{check.name}={value} "
                                            "is not in its value table")
            if not check.minimum - 1e-9 <= value <= check.maximum + 1e-9:
                raise SignalRangeError(fid, f"{spec.message.name}.{check.name}={value} outside "
                                            f"[{check.minimum:g}, {check.maximum:g}]")
        try:
            return spec.frame_type.from_signals(spec.node, values)
        except (ValidationError, ValueError) as exc:
            raise SignalRangeError(fid, f"{spec.message.name}: {exc}") from exc


class FrameEncoder:
    """One sender's view: rolls the alive counter per identifier."""

    def __init__(self, codec: FrameCodec) -> None:
        self.codec = codec
        self._counters: dict[tuple[str, int], int] = {}

    def encode(self, frame: Frame) -> can.Message:
        key = (frame.MESSAGE, frame.node)
        counter = self._counters.get(key, 0)
        self._counters[key] = (counter + 1) & 0x0F
        return self.codec.encode(frame, counter)

    def reset(self, node: int | None = None) -> None:
        """Counters restart, as after a reboot (of one node, or of everything)."""
        if node is None:
            self._counters.clear()
        else:
            for key in [k for k in self._counters if k[1] == node]:
                del self._counters[key]


@dataclass
class RxStats:
    """Receive counters of one endpoint: accepted frames and errors by kind and by node."""

    accepted: int = 0
    resyncs: int = 0  # BOOT heartbeats (new boot identity) and runs after a jump followed
    replays: int = 0  # repeated counters, stale frames between a sender's, replayed BOOTs
    conflicts: int = 0  # two live counter sequences on one identifier (two senders)
    errors: Counter[str] = field(default_factory=Counter)
    errors_by_node: Counter[int] = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return sum(self.errors.values())


AnomalyHandler = Callable[[int, int, str], None]  # (frame id, node, "replay" | "two-senders")


class FrameDecoder:
    """One receiver's view: freshness (alive counters, boot identities) and error counting.

    Freshness rules: dbc/README.md, "Freshness". ``on_anomaly`` hears every sign of a second
    sender on a node's identifiers (replayed frames, two live sequences)."""

    def __init__(self, codec: FrameCodec, *, max_counter_delta: int = 3,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.codec = codec
        self.clock = clock
        self.counters = e2e.CounterCheck(max_delta=max_counter_delta)
        self.stats = RxStats()
        self.on_anomaly: AnomalyHandler | None = None
        self._boots: dict[int, int] = {}  # node -> last accepted Heartbeat.BootCount
        self._ws_time_ms: int | None = None  # last accepted WS_Heartbeat wall clock

    def decode(self, msg: can.Message) -> Frame:
        """Decode and count; re-raises the ``FrameError`` after counting it."""
        try:
            frame = self.codec.decode(msg)
            self._fresh(msg, frame)
        except FrameError as exc:
            self.stats.errors[exc.kind] += 1
            spec = None if msg.is_extended_id else self.codec.spec_for_id(msg.arbitration_id)
            if spec is not None:  # a foreign identifier says nothing about our nodes
                self.stats.errors_by_node[spec.node] += 1
            raise
        self.stats.accepted += 1
        return frame

    def _fresh(self, msg: can.Message, frame: Frame) -> None:
        """Raise ``CounterError`` unless the frame is fresh; a new boot resynchronises."""
        fid, counter, now = msg.arbitration_id, msg.data[1] & 0x0F, self.clock()
        verdict = self.counters.check(fid, counter, now)
        boot = self._boot_identity(frame)
        if verdict not in e2e.ACCEPTED:
            if boot is None:
                if verdict is e2e.CounterVerdict.REPEATED:
                    self._anomaly(fid, frame.node, "replay")
                raise CounterError(fid, f"{frame.MESSAGE} of node {frame.node}: alive counter "
                                        f"{verdict.value}")
            self._resync(msg, frame, boot)
            return
        if verdict is e2e.CounterVerdict.CONFLICT:
            self.stats.conflicts += 1
            self._anomaly(fid, frame.node, "two-senders")
        elif verdict is e2e.CounterVerdict.STALE:
            self._anomaly(fid, frame.node, "replay")
        elif verdict is e2e.CounterVerdict.RESYNC:
            self.stats.resyncs += 1
        if isinstance(frame, ModuleHeartbeat):
            if boot is not None and self._boots.get(frame.node) != frame.boot_count:
                self.forget_node(frame.node)  # a new boot in sequence: the rest restarted too
                self.counters.check(fid, counter, now)
            self._boots[frame.node] = frame.boot_count
        elif isinstance(frame, WsHeartbeat):
            self._ws_time_ms = max(self._ws_time_ms or 0, frame.time_s * 1000 + frame.time_ms)

    @staticmethod
    def _boot_identity(frame: Frame) -> int | None:
        """The boot identity a BOOT heartbeat announces (module: its boot count; workstation:
        its wall clock in ms), None for any other frame."""
        if isinstance(frame, ModuleHeartbeat) and frame.state is ModuleState.BOOT:
            return frame.boot_count
        if isinstance(frame, WsHeartbeat) and frame.state is WorkstationState.BOOT:
            return frame.time_s * 1000 + frame.time_ms
        return None

    def _resync(self, msg: can.Message, frame: Frame, boot: int) -> None:
        """A BOOT heartbeat out of step: a new boot identity restarts the sender's counters,
        the one already seen is a replay (dbc/README.md, "Freshness" rule 2)."""
        fid = msg.arbitration_id
        if isinstance(frame, ModuleHeartbeat):
            stored = self._boots.get(frame.node)
            if stored == boot:
                self._anomaly(fid, frame.node, "replay")
                raise CounterError(fid, f"Heartbeat of node {frame.node}: BOOT with boot count "
                                        f"{boot} already seen: a replay, not a reboot")
            self._boots[frame.node] = boot
            self.forget_node(frame.node)
        else:
            if self._ws_time_ms is not None and boot <= self._ws_time_ms:
                self._anomaly(fid, 0, "replay")
                raise CounterError(fid, f"WS_Heartbeat: BOOT with wall clock {boot // 1000} s, "
                                        "not after the last heartbeat's: a replay")
            self._ws_time_ms = boot
            for frame_id in self.codec.frame_ids_sent_by("WS"):  # the workstation restarted
                self.counters.forget(frame_id)
        self.counters.check(fid, msg.data[1] & 0x0F, self.clock())
        self.stats.resyncs += 1

    def _anomaly(self, frame_id: int, node: int, what: str) -> None:
        if what == "replay":
            self.stats.replays += 1
        if self.on_anomaly is not None:
            self.on_anomaly(frame_id, node, what)

    def forget_node(self, node: int) -> None:
        """Resynchronise every identifier of a node (it rebooted)."""
        for frame_id in self.codec.frame_ids_of_node(node):
            self.counters.forget(frame_id)
