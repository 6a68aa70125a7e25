"""End-to-end protection of our frames (AUTOSAR E2E profile 2 style).

Byte 0 is CRC-8/AUTOSAR (poly 0x2F, init/xor 0xFF) over bytes 1..7 followed by one data-id
byte; the low nibble of byte 1 is an alive counter. The data id is a function of the full CAN
identifier, so a frame copied under another node's identifier fails its check. The CRC is
the one ``cantools.autosar.compute_profile2_crc(payload, data_id)`` computes (a test holds us
to that); this table-driven copy is ~10x faster on the receive path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = ["ACCEPTED", "CounterCheck", "CounterVerdict", "crc8", "data_id", "protect"]


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x2F) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _table()


# Function code -> first of its 32 data ids; data id = base + node. Frames the workstation
# sends (commands, programs, its heartbeat) and the module's safety frames (alarm, ack,
# read-back, status) each own a block, so no other frame passes their CRC. There are only 256
# data ids for 342 identifiers: Syringe, Power and Heartbeat share the Delivery and Progress
# blocks (a frame of one sent under another's identifier decodes as nonsense that the range
# checks and the registry's serial check catch, never as a command or an alarm).
DATA_ID_BASE = {
    0x100: 0x00,  # Command (node 1..31) and WS_Heartbeat (node 0)
    0x200: 0x20,  # Program
    0x080: 0x40,  # Alarm
    0x180: 0x60,  # Ack
    0x280: 0x80,  # Readback
    0x300: 0xA0,  # Status
    0x380: 0xC0,  # Delivery
    0x400: 0xE0,  # Progress
    0x480: 0xC0,  # Syringe (shares with Delivery)
    0x500: 0xE0,  # Power (shares with Progress)
    0x700: 0xE0,  # Heartbeat (shares with Progress and Power)
}
FUNCTION_MASK = 0x780
_DATA_IDS = tuple(
    (DATA_ID_BASE[fid & FUNCTION_MASK] + (fid & 0x7F)) & 0xFF
    if fid & FUNCTION_MASK in DATA_ID_BASE else fid & 0xFF
    for fid in range(0x800)
)


def data_id(frame_id: int) -> int:
    """Data id of an 11-bit identifier: the block of its function code plus its node id.

    Identifiers outside our map (foreign frames, rejected before any CRC check) use their low
    byte.
    """
    return _DATA_IDS[frame_id & 0x7FF]


def crc8(payload: bytes | bytearray, frame_id: int) -> int:
    """CRC-8/AUTOSAR over ``payload[1:]`` and the identifier's data id."""
    crc = 0xFF
    table = _CRC8_TABLE
    for byte in payload[1:]:
        crc = table[crc ^ byte]
    crc = table[crc ^ data_id(frame_id)]
    return crc ^ 0xFF


def protect(payload: bytearray, frame_id: int, counter: int) -> None:
    """Write the alive counter and then the CRC into ``payload`` in place."""
    payload[1] = (payload[1] & 0xF0) | (counter & 0x0F)
    payload[0] = crc8(payload, frame_id)


RESYNC_RUN = 3  # frames in order (+1 each) after a jump before the receiver follows them
RESYNC_SPAN_S = 0.4  # ... spread over at least this long: a sender's period, not a burst
# A second sequence (a duplicate module that left) silent this long is over: the accepted one
# continuing is no conflict, and if the accepted one is the sequence that fell silent, a run of
# 2 in order (over RESYNC_SPAN_S) continuing the other is followed (rare frames such as an Ack
# would otherwise wait for 3 commands). Two heartbeat periods; a healthy periodic sender is
# never this silent, so a replay between its frames still needs the full run.
SECOND_SILENT_S = 2.0
GHOST_S = 10.0  # a voided run's last counter marks a second live sequence this long


class CounterVerdict(Enum):
    OK = "ok"
    FIRST = "first"  # first frame of this identifier
    RESYNC = "resync"  # a run of in-order frames after a jump, old sequence silent: followed
    CONFLICT = "conflict"  # in sequence, but another in-order sequence ran meanwhile: 2 senders
    STALE = "stale"  # in sequence, after a stray jumping frame: a replayed or stale frame
    REPEATED = "repeated"  # same counter as the last accepted frame: stuck or replayed
    JUMP = "jump"  # counter moved backwards or too far forwards: stale or lost frames


ACCEPTED = frozenset({CounterVerdict.OK, CounterVerdict.FIRST, CounterVerdict.RESYNC,
                      CounterVerdict.CONFLICT, CounterVerdict.STALE})


@dataclass
class _Run:
    """Frames that jumped and then followed each other: a sender that lost frames, or a second
    sender (replay, duplicate module) if the old sequence is still alive."""

    counter: int
    length: int
    started: float
    live: bool  # it follows the sequence a previous run showed: a second sender going on
    last_at: float = 0.0  # its latest frame


@dataclass
class CounterCheck:
    """Receiver-side alive-counter supervision, one state per identifier (dbc/README.md,
    "Freshness").

    A frame is accepted when its counter is 1..``max_delta`` ahead of the last accepted one.
    Ordinary frames never resynchronise at once (issue 10, B1: two stale frames did): after a
    jump, ``RESYNC_RUN`` frames in order, spread over ``RESYNC_SPAN_S`` of ``now``, with no frame
    of the old sequence in between, do; so do 2 once the accepted sequence has been silent for
    ``SECOND_SILENT_S`` (the sequence that survived a duplicate module), and so does one frame
    continuing a sequence a conflict showed live (a ghost) within ``GHOST_S``. A second sequence
    silent that long no longer makes the accepted one a conflict. A reboot is the BOOT
    heartbeat's business (``forget``).
    """

    max_delta: int = 3
    _last: dict[int, int] = field(default_factory=dict)
    _last_at: dict[int, float] = field(default_factory=dict)
    _runs: dict[int, _Run] = field(default_factory=dict)
    _ghosts: dict[int, tuple[int, float]] = field(default_factory=dict)  # voided run: counter, t

    def check(self, frame_id: int, counter: int, now: float = 0.0) -> CounterVerdict:
        last = self._last.get(frame_id)
        if last is None:
            self._accept(frame_id, counter, now)
            return CounterVerdict.FIRST
        delta = (counter - last) & 0x0F
        run = self._runs.get(frame_id)
        if 1 <= delta <= self.max_delta:
            self._accept(frame_id, counter, now)
            if run is None:
                return CounterVerdict.OK
            del self._runs[frame_id]
            if now - run.last_at >= SECOND_SILENT_S:
                return CounterVerdict.OK  # the other sequence ended a while ago: it left
            self._ghosts[frame_id] = (run.counter, now)  # the old sequence is alive: 2 senders
            if run.length >= 2 or run.live:
                return CounterVerdict.CONFLICT
            return CounterVerdict.STALE
        if delta == 0:
            return CounterVerdict.REPEATED
        if run is not None and 1 <= (counter - run.counter) & 0x0F <= self.max_delta and (
                counter == (run.counter + 1) & 0x0F or
                now - self._last_at.get(frame_id, now) >= SECOND_SILENT_S):
            run.counter, run.length, run.last_at = counter, run.length + 1, now
            if now - run.started >= RESYNC_SPAN_S and (
                    run.length >= RESYNC_RUN or
                    now - self._last_at.get(frame_id, now) >= SECOND_SILENT_S):
                self._accept(frame_id, counter, now)
                del self._runs[frame_id]
                return CounterVerdict.RESYNC
            return CounterVerdict.JUMP
        ghost = self._ghosts.get(frame_id)
        live = ghost is not None and now - ghost[1] < GHOST_S and \
            1 <= (counter - ghost[0]) & 0x0F <= self.max_delta
        if live and now - self._last_at.get(frame_id, now) >= SECOND_SILENT_S:
            # The second sequence seen live during a conflict goes on alone: it survived.
            self._accept(frame_id, counter, now)
            self._runs.pop(frame_id, None)
            del self._ghosts[frame_id]
            return CounterVerdict.RESYNC
        self._runs[frame_id] = _Run(counter, 1, now, live, now)
        return CounterVerdict.JUMP

    def _accept(self, frame_id: int, counter: int, now: float) -> None:
        self._last[frame_id] = counter
        self._last_at[frame_id] = now

    def forget(self, frame_id: int) -> None:
        """Start afresh for an identifier (its sender announced a new boot)."""
        self._last.pop(frame_id, None)
        self._last_at.pop(frame_id, None)
        self._runs.pop(frame_id, None)
        self._ghosts.pop(frame_id, None)
