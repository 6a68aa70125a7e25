"""Random frames: garbage only ever raises FrameErrors, and past the E2E checks a random payload
either decodes (and re-encodes to the same raw signals) or is a SignalRangeError."""

from __future__ import annotations

import random
from typing import Any

import can
import pytest
from cantools.database.can import Message

from dbc import e2e
from dbc.codec import FrameDecoder, FrameEncoder
from dbc.errors import FrameError, SignalRangeError
from dbc.frames import FRAME_TYPES, Frame, Status, WsHeartbeat
from tests.bus.codec_support import CODEC, STATUS


def test_random_garbage_only_ever_raises_frame_errors() -> None:
    rng = random.Random(31337)
    codec_ids = sorted(m.frame_id for m in CODEC.db.messages)
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC)
    keep_alive = STATUS.model_copy(update={"node": 7})
    keep_alive_id = CODEC.frame_id(Status, 7)
    ids = [fid for fid in codec_ids if fid != keep_alive_id]
    unexpected: list[str] = []
    rejected = accepted = ours_rejected = 0
    for _ in range(2000):
        extended = rng.random() < 0.05
        if extended:
            fid = rng.randrange(1 << 29)
        else:
            fid = rng.choice(ids) if rng.random() < 0.6 else rng.randrange(0x800)
            if fid == keep_alive_id:
                fid = 0x7FF
        length = 8 if rng.random() < 0.7 else rng.randrange(9)
        data = bytearray(rng.getrandbits(8) for _ in range(length))
        if length == 8 and rng.random() < 0.6:
            e2e.protect(data, fid & 0x7FF, rng.randrange(16))  # passes the CRC: deeper checks
        remote = rng.random() < 0.03
        msg = can.Message(arbitration_id=fid, is_extended_id=extended, is_remote_frame=remote,
                          is_error_frame=rng.random() < 0.02,
                          data=b"" if remote else bytes(data), dlc=length)
        try:
            frame = decoder.decode(msg)
        except FrameError:
            rejected += 1
            ours_rejected += not extended and CODEC.spec_for_id(fid) is not None
        except Exception as exc:
            unexpected.append(f"{msg} -> {type(exc).__name__}: {exc}")
        else:
            accepted += 1
            assert isinstance(frame, Frame)
        assert decoder.decode(encoder.encode(keep_alive)) == keep_alive
    assert not unexpected, "\n".join(unexpected[:10])
    assert rejected > 1500
    assert decoder.stats.rejected == rejected
    assert decoder.stats.accepted == 2000 + accepted
    assert sum(decoder.stats.errors_by_node.values()) == ours_rejected
    assert set(decoder.stats.errors) <= {"foreign", "length", "crc", "counter", "range"}
    assert len(decoder.stats.errors) == 5, decoder.stats.errors


def raw_signals(message: Message, data: bytes) -> dict[str, Any]:
    values = message.decode(data, decode_choices=False, scaling=False)
    assert isinstance(values, dict)
    return dict(values)


def plausible_payload(message: Message, rng: random.Random) -> bytearray:
    """Raw signal values that are mostly in range or in the value table, sometimes not."""
    raw: dict[str, int] = {}
    for sig in message.signals:
        top = (1 << sig.length) - 1
        if sig.choices and (sig.is_multiplexer or rng.random() < 0.9):
            raw[sig.name] = int(rng.choice(list(sig.choices)))
        elif rng.random() < 0.9:
            assert sig.minimum is not None and sig.maximum is not None
            lo = round((sig.minimum - sig.offset) / sig.scale)
            hi = round((sig.maximum - sig.offset) / sig.scale)
            raw[sig.name] = rng.randint(max(0, lo), min(top, hi))
        else:
            raw[sig.name] = rng.randint(0, top)
    return bytearray(message.encode(raw, scaling=False, strict=False))


@pytest.mark.parametrize("frame_type", FRAME_TYPES, ids=lambda t: t.__name__)
def test_random_payload_with_valid_crc_decodes_or_is_range_error(frame_type: type[Frame]) -> None:
    """Past the E2E checks only SignalRangeError may come out, and what decodes re-encodes."""
    rng = random.Random(frame_type.__name__)
    node = 0 if frame_type is WsHeartbeat else 17
    fid = CODEC.frame_id(frame_type, node)
    spec = CODEC.spec_for_id(fid)
    assert spec is not None
    outcomes = {"ok": 0, "range": 0}
    for i in range(400):
        if i % 2:
            data = bytearray(rng.getrandbits(8) for _ in range(8))
        else:
            data = plausible_payload(spec.message, rng)
        e2e.protect(data, fid, rng.randrange(16))
        msg = can.Message(arbitration_id=fid, is_extended_id=False, data=bytes(data))
        try:
            frame = CODEC.decode(msg)
        except SignalRangeError:
            outcomes["range"] += 1
            continue
        outcomes["ok"] += 1
        assert type(frame) is frame_type and frame.node == node
        again = CODEC.encode(frame, data[1] & 0x0F)
        assert CODEC.decode(again) == frame
        values = raw_signals(spec.message, bytes(again.data))
        original = raw_signals(spec.message, bytes(data))
        del values["Crc"], original["Crc"]  # differs when unused bits were set: fine
        assert values == original, "re-encoding a decoded frame changed a raw signal value"
    assert outcomes["ok"] >= 50, outcomes
