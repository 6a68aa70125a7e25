"""The codec's E2E protection: the CRC catches corruption and misrouting, the alive counter
catches replays and gaps, per identifier and node, and resets and resyncs cost what they should."""

from __future__ import annotations

import pytest

from dbc.codec import FrameDecoder, FrameEncoder
from dbc.errors import CounterError, CrcError
from dbc.frames import Command, Frame, WsHeartbeat
from dbc.vocabulary import CommandCode, WorkstationState
from tests.bus.codec_support import CODEC, POWER, SAMPLES, STATUS, WS_HB, copy_msg


def test_encoder_counts_per_message_and_node() -> None:
    encoder = FrameEncoder(CODEC)
    other_node = STATUS.model_copy(update={"node": 6})
    assert [encoder.encode(STATUS).data[1] & 0x0F for _ in range(3)] == [0, 1, 2]
    assert encoder.encode(other_node).data[1] & 0x0F == 0
    assert encoder.encode(POWER).data[1] & 0x0F == 0
    encoder.reset(node=5)
    assert encoder.encode(STATUS).data[1] & 0x0F == 0
    assert encoder.encode(other_node).data[1] & 0x0F == 1
    encoder.reset()
    assert encoder.encode(other_node).data[1] & 0x0F == 0


def test_module_reboot_without_its_boot_heartbeat_costs_a_run() -> None:
    """Counters restarted and the BOOT heartbeat not heard yet: a run of 3 frames at the
    sender's period is followed again (dbc/README.md, "Freshness" rule 3)."""
    now = [0.0]
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC, clock=lambda: now[0])
    for _ in range(5):
        decoder.decode(encoder.encode(STATUS))
    encoder.reset(node=STATUS.node)  # counter restarts at 0 after 4: a jump
    for _ in range(2):
        now[0] += 0.25
        with pytest.raises(CounterError):
            decoder.decode(encoder.encode(STATUS))
    now[0] += 0.25
    assert decoder.decode(encoder.encode(STATUS)) == STATUS
    assert decoder.decode(encoder.encode(STATUS)) == STATUS
    assert decoder.stats.errors == {"counter": 2}


def test_forget_node_accepts_the_next_frame() -> None:
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC)
    for _ in range(5):
        decoder.decode(encoder.encode(STATUS))
        decoder.decode(encoder.encode(POWER))
    encoder.reset()
    decoder.forget_node(STATUS.node)
    assert decoder.decode(encoder.encode(STATUS)) == STATUS
    with pytest.raises(CounterError):
        decoder.decode(encoder.encode(POWER))  # another node: still supervised


def test_workstation_boot_heartbeat_resynchronises_what_the_workstation_sends() -> None:
    """A restarted workstation's counters restart: its BOOT heartbeat says so, and the module
    accepts its commands at once instead of dropping the first ones."""
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC)
    start = Command(node=3, seq=1, command=CommandCode.START)
    beat = WsHeartbeat(state=WorkstationState.OPERATIONAL, time_s=0, time_ms=0, timeout_s=3.0)
    for _ in range(6):
        decoder.decode(encoder.encode(beat))
        decoder.decode(encoder.encode(start))
    encoder.reset()  # the workstation restarts
    boot = beat.model_copy(update={"state": WorkstationState.BOOT, "time_s": 1})
    assert decoder.decode(encoder.encode(boot)) == boot
    assert decoder.decode(encoder.encode(start)) == start  # not dropped
    assert decoder.stats.resyncs == 1 and not decoder.stats.errors
    encoder.reset()  # an OPERATIONAL heartbeat after a counter jump does not resynchronise
    with pytest.raises(CounterError):
        decoder.decode(encoder.encode(beat))


def test_repeated_counter_is_a_counter_error() -> None:
    decoder = FrameDecoder(CODEC)
    msg = CODEC.encode(STATUS, 4)
    decoder.decode(msg)
    for _ in range(3):
        with pytest.raises(CounterError):
            decoder.decode(msg)  # a replay, or a stuck sender
    with pytest.raises(CounterError):
        decoder.decode(CODEC.encode(STATUS, 3))  # backwards
    with pytest.raises(CounterError):
        decoder.decode(CODEC.encode(STATUS, 12))  # too far ahead
    assert decoder.stats.errors == {"counter": 5}
    assert decoder.stats.errors_by_node == {STATUS.node: 5}
    assert decoder.decode(CODEC.encode(STATUS, 5)) == STATUS


@pytest.mark.parametrize("frame", SAMPLES[::7], ids=lambda f: f"{type(f).__name__}-{f.node}")
def test_any_single_bit_flip_is_a_crc_error(frame: Frame) -> None:
    good = CODEC.encode(frame, 3)
    for bit in range(64):
        data = bytearray(good.data)
        data[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(CrcError):
            CODEC.decode(copy_msg(good, data=bytes(data)))


@pytest.mark.parametrize("frame", SAMPLES[::3], ids=lambda f: f"{type(f).__name__}-{f.node}")
def test_frame_copied_to_another_nodes_identifier_is_a_crc_error(frame: Frame) -> None:
    good = CODEC.encode(frame, 3)
    code = good.arbitration_id & ~0x7F
    for node in range(0, 32):
        fid = code + node
        if fid == good.arbitration_id or CODEC.spec_for_id(fid) is None:
            continue
        with pytest.raises(CrcError):
            CODEC.decode(copy_msg(good, arbitration_id=fid))


def test_decoder_counts_errors_by_node() -> None:
    decoder = FrameDecoder(CODEC)
    encoder = FrameEncoder(CODEC)
    for node in (1, 2, 2, 31, 31, 31):
        good = encoder.encode(STATUS.model_copy(update={"node": node}))
        with pytest.raises(CrcError):
            decoder.decode(copy_msg(good, data=bytes([good.data[0] ^ 0xFF]) + good.data[1:]))
    with pytest.raises(CrcError):
        ws = CODEC.encode(WS_HB, 0)
        decoder.decode(copy_msg(ws, data=bytes([ws.data[0] ^ 0xFF]) + ws.data[1:]))
    assert decoder.stats.errors_by_node == {1: 1, 2: 2, 31: 3, 0: 1}
    assert decoder.stats.errors == {"crc": 7}
