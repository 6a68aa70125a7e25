"""FrameCodec / FrameEncoder / FrameDecoder round trips: every frame type and page comes back
equal, and scaled values come back rounded to their grid."""

from __future__ import annotations

import random

import pytest
from cantools import autosar

from dbc import e2e
from dbc.codec import FrameDecoder, FrameEncoder
from dbc.frames import (
    FRAME_TYPES,
    PAGE_TYPES,
    Delivery,
    Frame,
    PrimaryPage,
    Program,
    Readback,
    Status,
)
from tests.bus.codec_support import CODEC, SAMPLES, STATUS
from tests.bus.frame_samples import sample_pages


def test_samples_cover_every_frame_type_and_page() -> None:
    assert {type(f) for f in SAMPLES} == set(FRAME_TYPES)
    for cls in (Program, Readback):
        pages = {type(f.page) for f in SAMPLES if isinstance(f, cls)}
        assert pages == set(PAGE_TYPES.values()), cls
    assert {type(p) for p in sample_pages()} == set(PAGE_TYPES.values())
    assert len({f.node for f in SAMPLES}) >= 4


@pytest.mark.parametrize("frame", SAMPLES, ids=lambda f: f"{type(f).__name__}-{f.node}")
def test_codec_round_trip(frame: Frame) -> None:
    msg = CODEC.encode(frame, counter=5)
    assert msg.arbitration_id == CODEC.frame_id(type(frame), frame.node)
    assert not msg.is_extended_id and not msg.is_remote_frame and not msg.is_error_frame
    assert msg.dlc == 8 and len(msg.data) == 8
    assert msg.data[1] & 0x0F == 5
    assert autosar.check_profile2_crc(bytes(msg.data), e2e.data_id(msg.arbitration_id))
    decoded = CODEC.decode(msg)
    assert decoded == frame
    assert type(decoded) is type(frame)


def test_encoder_decoder_round_trip_over_consecutive_frames() -> None:
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC)
    rounds = 20  # more than 16: every identifier's counter wraps
    counters: dict[int, list[int]] = {}
    for _ in range(rounds):
        for frame in SAMPLES:
            msg = encoder.encode(frame)
            counters.setdefault(msg.arbitration_id, []).append(msg.data[1] & 0x0F)
            assert decoder.decode(msg) == frame
    assert decoder.stats.accepted == rounds * len(SAMPLES)
    assert decoder.stats.rejected == 0 and not decoder.stats.errors_by_node
    for fid, seen in counters.items():
        assert seen == [i % 16 for i in range(len(seen))], hex(fid)


@pytest.mark.parametrize("raw", [*range(0, 40), 1256, 3333, 9999, 11999, 12000])
def test_scaled_values_come_back_rounded(raw: int) -> None:
    rate = raw / 10
    status = STATUS.model_copy(update={"rate_ml_h": rate})
    decoded = CODEC.decode(CODEC.encode(status, 0))
    assert isinstance(decoded, Status)
    assert decoded.rate_ml_h == rate
    assert repr(decoded.rate_ml_h) == repr(rate)


def test_scaled_values_rounded_on_every_scale() -> None:
    rng = random.Random(5)
    for _ in range(300):
        delivery = Delivery(node=3, volume_infused_ml=rng.randrange(1 << 24) / 1000,
                            module_time_s=rng.randrange(1 << 28) / 100)
        assert CODEC.decode(CODEC.encode(delivery, 0)) == delivery
        page = PrimaryPage(rate_ml_h=rng.randrange(1, 12001) / 10,
                           vtbi_ml=rng.randrange(1, 99_999) / 10)
        program = Program(node=8, seq=1, program_id=1, page=page)
        assert CODEC.decode(CODEC.encode(program, 0)) == program
    decoded = CODEC.decode(CODEC.encode(STATUS, 0))
    assert isinstance(decoded, Status)
    assert decoded.rate_ml_h == 125.6 and str(decoded.rate_ml_h) == "125.6"
