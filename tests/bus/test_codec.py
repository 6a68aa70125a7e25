"""FrameCodec / FrameEncoder / FrameDecoder: round trips, and every way a received frame is bad."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import can
import pytest
from cantools import autosar
from cantools.database.can import Message
from pydantic import ValidationError

from tests.bus.frame_samples import sample_frames, sample_pages
from workstation import e2e
from workstation.codec import FrameCodec, FrameDecoder, FrameEncoder
from workstation.errors import (
    CounterError,
    CrcError,
    EncodeError,
    ForeignFrameError,
    FrameError,
    FrameLengthError,
    InfusionError,
    SignalRangeError,
)
from workstation.frames import (
    FRAME_TYPES,
    PAGE_TYPES,
    AlarmEvent,
    BolusPage,
    Command,
    CommandAck,
    Delivery,
    Frame,
    ModuleHeartbeat,
    Power,
    PrimaryPage,
    Program,
    Readback,
    SettingsPage,
    Status,
    SyringeInfo,
    WsHeartbeat,
)
from workstation.vocabulary import (
    AckResult,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    ModuleState,
    ProgramStore,
    PumpState,
    SyringeSize,
    WorkstationState,
)

CODEC = FrameCodec()
SAMPLES = sample_frames()

STATUS = Status(node=5, state=PumpState.INFUSING, mode=DeliveryMode.PRIMARY, rate_ml_h=125.6,
                pressure_mmhg=80, alarms=AlarmCondition(0))
PROGRAM = Program(node=9, seq=3, program_id=12, page=PrimaryPage(rate_ml_h=50.0, vtbi_ml=250.0))
SETTINGS = Program(node=9, seq=4, program_id=12,
                   page=SettingsPage(kvo_rate_ml_h=1.0, occlusion_limit_mmhg=300,
                                     end_action=EndAction.KVO, air_limit_ul=100))
SYRINGE = SyringeInfo(node=11, size=SyringeSize.ML_20, plunger_travel_mm=40.0, volume_ml=15.5,
                      force_n=3.2, engaged=True)
ACK = CommandAck(node=2, result=AckResult.ACCEPTED, seq=1, subject=CommandCode.START,
                 state=PumpState.INFUSING)
WS_HB = WsHeartbeat(state=WorkstationState.OPERATIONAL, time_s=1_700_000_000, time_ms=5,
                    timeout_s=3.0)
POWER = Power(node=31, on_mains=True, battery_percent=80, battery_minutes=120, temperature_c=30)
ALARM = AlarmEvent(node=1, condition=AlarmCondition.DOOR_OPEN, raised=True,
                   alarms=AlarmCondition.DOOR_OPEN)
HEARTBEAT = ModuleHeartbeat(node=4, state=ModuleState.OPERATIONAL, kind=ModuleKind.SYRINGE,
                            fw_major=2, fw_minor=0, fw_patch=1, serial=4242)
READBACK = Readback(node=6, store=ProgramStore.PENDING, program_id=12,
                    page=BolusPage(volume_ml=2.0, rate_ml_h=100.0))


def copy_msg(msg: can.Message, **changes: Any) -> can.Message:
    fields: dict[str, Any] = {
        "arbitration_id": msg.arbitration_id, "is_extended_id": msg.is_extended_id,
        "is_remote_frame": msg.is_remote_frame, "is_error_frame": msg.is_error_frame,
        "data": bytes(msg.data), "dlc": msg.dlc,
    }
    fields.update(changes)
    return can.Message(**fields)


def node_of(frame: Frame) -> int:
    return frame.node


def reprotect(data: bytearray, frame_id: int) -> bytes:
    """Recompute the CRC (keeping the counter) so only the payload is wrong."""
    e2e.protect(data, frame_id, data[1] & 0x0F)
    return bytes(data)


def with_signals(overrides: dict[str, float]) -> Callable[[can.Message], can.Message]:
    """A frame whose signals are overridden, encoded without range checks, with a valid CRC."""

    def make(good: can.Message) -> can.Message:
        spec = CODEC.spec_for_id(good.arbitration_id)
        assert spec is not None
        values = spec.message.decode(bytes(good.data), decode_choices=False, scaling=True)
        assert isinstance(values, dict)
        values.update(overrides)
        data = bytearray(spec.message.encode(values, scaling=True, strict=False))
        return copy_msg(good, data=reprotect(data, good.arbitration_id))

    return make


def with_nibble(byte: int, high: int) -> Callable[[can.Message], can.Message]:
    """Set the high nibble of one byte (e.g. the Page multiplexer), with a valid CRC."""

    def make(good: can.Message) -> can.Message:
        data = bytearray(good.data)
        data[byte] = (data[byte] & 0x0F) | (high << 4)
        return copy_msg(good, data=reprotect(data, good.arbitration_id))

    return make


# --- round trips -----------------------------------------------------------------------------


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


def test_module_reboot_costs_one_frame() -> None:
    encoder, decoder = FrameEncoder(CODEC), FrameDecoder(CODEC)
    for _ in range(5):
        decoder.decode(encoder.encode(STATUS))
    encoder.reset(node=STATUS.node)  # counter restarts at 0 after 4: a jump
    with pytest.raises(CounterError):
        decoder.decode(encoder.encode(STATUS))
    assert decoder.decode(encoder.encode(STATUS)) == STATUS
    assert decoder.decode(encoder.encode(STATUS)) == STATUS
    assert decoder.stats.errors == {"counter": 1}


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


# --- bad frames ------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Bad:
    name: str
    good: Frame
    make: Callable[[can.Message], can.Message]
    error: type[FrameError]


BAD_FRAMES: list[Bad] = [
    Bad("crc-byte0", STATUS, lambda m: copy_msg(m, data=bytes([m.data[0] ^ 0x01]) + m.data[1:]),
        CrcError),
    Bad("crc-byte7", STATUS, lambda m: copy_msg(m, data=m.data[:7] + bytes([m.data[7] ^ 0x80])),
        CrcError),
    Bad("other-node", STATUS, lambda m: copy_msg(m, arbitration_id=m.arbitration_id + 1),
        CrcError),
    Bad("length-7", STATUS, lambda m: copy_msg(m, data=m.data[:7], dlc=7), FrameLengthError),
    Bad("length-0", STATUS, lambda m: copy_msg(m, data=b"", dlc=0), FrameLengthError),
    Bad("dlc-8-data-7", STATUS, lambda m: copy_msg(m, data=m.data[:7], dlc=8), FrameLengthError),
    Bad("length-7-program", PROGRAM, lambda m: copy_msg(m, data=m.data[:7], dlc=7),
        FrameLengthError),
    Bad("extended", STATUS, lambda m: copy_msg(m, is_extended_id=True), ForeignFrameError),
    Bad("remote", STATUS, lambda m: copy_msg(m, is_remote_frame=True, data=b""),
        ForeignFrameError),
    Bad("error-frame", STATUS, lambda m: copy_msg(m, is_error_frame=True), ForeignFrameError),
    Bad("unknown-0x000", STATUS, lambda m: copy_msg(m, arbitration_id=0x000), ForeignFrameError),
    Bad("unknown-alarm-node0", ALARM, lambda m: copy_msg(m, arbitration_id=0x080),
        ForeignFrameError),
    Bad("unknown-node32", STATUS, lambda m: copy_msg(m, arbitration_id=0x320),
        ForeignFrameError),
    Bad("unknown-function", STATUS, lambda m: copy_msg(m, arbitration_id=0x605),
        ForeignFrameError),
    Bad("unknown-0x7FF", STATUS, lambda m: copy_msg(m, arbitration_id=0x7FF), ForeignFrameError),
    Bad("rate-above-1200", PROGRAM, with_signals({"Rate": 1200.1}), SignalRangeError),
    Bad("rate-raw-max", PROGRAM, with_signals({"Rate": 1638.3}), SignalRangeError),
    Bad("rate-zero", PROGRAM, with_signals({"Rate": 0.0}), SignalRangeError),
    Bad("occlusion-below-50", SETTINGS, with_signals({"OcclusionLimit": 49}), SignalRangeError),
    Bad("occlusion-above-900", SETTINGS, with_signals({"OcclusionLimit": 901}),
        SignalRangeError),
    Bad("kvo-above-20", SETTINGS, with_signals({"KvoRate": 20.1}), SignalRangeError),
    Bad("end-action-3", SETTINGS, with_signals({"EndAction": 3}), SignalRangeError),
    Bad("program-id-0", PROGRAM, with_signals({"ProgramId": 0}), SignalRangeError),
    Bad("page-7", PROGRAM, with_nibble(1, 7), SignalRangeError),
    Bad("page-15-readback", READBACK, with_nibble(1, 15), SignalRangeError),
    Bad("store-2", READBACK, with_signals({"Store": 2}), SignalRangeError),
    Bad("status-state-13", STATUS, with_signals({"State": 13}), SignalRangeError),
    Bad("status-state-7", STATUS, with_signals({"State": 7}), SignalRangeError),
    Bad("status-rate-above-1200", STATUS, with_signals({"ActualRate": 1200.1}),
        SignalRangeError),
    Bad("syringe-size-7", SYRINGE, with_signals({"SyringeSize": 7}), SignalRangeError),
    Bad("ack-subject-13", ACK, with_signals({"Subject": 13}), SignalRangeError),
    Bad("ack-reason-11", ACK, with_signals({"Reason": 11}), SignalRangeError),
    Bad("alarm-condition-19", ALARM, with_signals({"Condition": 19}), SignalRangeError),
    Bad("battery-101", POWER, with_signals({"BatteryPercent": 101}), SignalRangeError),
    Bad("ws-timeout-0", WS_HB, with_signals({"HbTimeout": 0.0}), SignalRangeError),
    Bad("ws-ms-1000", WS_HB, with_signals({"WsTimeMs": 1000}), SignalRangeError),
    Bad("ws-state-3", WS_HB, with_signals({"WsState": 3}), SignalRangeError),
    Bad("module-state-4", HEARTBEAT, with_signals({"ModuleState": 4}), SignalRangeError),
    Bad("kind-2", HEARTBEAT, with_signals({"Kind": 2}), SignalRangeError),
]


@pytest.mark.parametrize("bad", BAD_FRAMES, ids=lambda b: b.name)
def test_bad_frame_raises_its_error(bad: Bad) -> None:
    msg = bad.make(CODEC.encode(bad.good, 1))
    with pytest.raises(bad.error) as info:
        CODEC.decode(msg)
    assert isinstance(info.value, FrameError) and isinstance(info.value, InfusionError)
    assert info.value.frame_id == msg.arbitration_id


@pytest.mark.parametrize("bad", BAD_FRAMES, ids=lambda b: b.name)
def test_decoder_counts_bad_frame_and_goes_on(bad: Bad) -> None:
    decoder = FrameDecoder(CODEC)
    assert decoder.decode(CODEC.encode(bad.good, 0)) == bad.good
    msg = bad.make(CODEC.encode(bad.good, 1))
    with pytest.raises(bad.error):
        decoder.decode(msg)
    assert decoder.stats.errors == {bad.error.kind: 1}
    assert decoder.stats.rejected == 1
    spec = None if msg.is_extended_id else CODEC.spec_for_id(msg.arbitration_id)
    # Counted against a node only when the identifier is ours; a foreign one blames nobody.
    assert decoder.stats.errors_by_node == ({spec.node: 1} if spec else {})
    assert decoder.decode(CODEC.encode(bad.good, 2)) == bad.good
    assert decoder.decode(CODEC.encode(bad.good, 3)) == bad.good
    assert decoder.stats.accepted == 3 and decoder.stats.rejected == 1


def test_error_kinds_are_distinct() -> None:
    kinds = [cls.kind for cls in (ForeignFrameError, FrameLengthError, CrcError, CounterError,
                                  SignalRangeError)]
    assert kinds == ["foreign", "length", "crc", "counter", "range"]


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


# --- encoding --------------------------------------------------------------------------------

OUT_OF_RANGE: list[tuple[str, Frame]] = [
    ("program-rate-5000", Program(node=1, seq=0, program_id=1,
                                  page=PrimaryPage(rate_ml_h=5000.0, vtbi_ml=10.0))),
    ("program-rate-0", Program(node=1, seq=0, program_id=1,
                               page=PrimaryPage(rate_ml_h=0.0, vtbi_ml=10.0))),
    ("occlusion-20", Program(node=1, seq=0, program_id=1,
                             page=SettingsPage(kvo_rate_ml_h=1.0, occlusion_limit_mmhg=20,
                                               end_action=EndAction.STOP, air_limit_ul=50))),
    ("bolus-volume-200", Program(node=1, seq=0, program_id=1,
                                 page=BolusPage(volume_ml=200.0, rate_ml_h=100.0))),
    ("status-rate-negative", STATUS.model_copy(update={"rate_ml_h": -1.0})),
    ("battery-101", POWER.model_copy(update={"battery_percent": 101})),
    ("delivery-volume-overflow", Delivery(node=1, volume_infused_ml=20_000.0,
                                          module_time_s=1.0)),
    ("ws-time-overflow", WS_HB.model_copy(update={"time_s": 1 << 32})),
    ("ws-timeout-10", WS_HB.model_copy(update={"timeout_s": 10.0})),
    ("temperature-below-offset", POWER.model_copy(update={"temperature_c": -41})),
    ("status-node-0", STATUS.model_copy(update={"node": 0})),
    ("ws-heartbeat-node-3", WS_HB.model_copy(update={"node": 3})),
]


@pytest.mark.parametrize(("name", "frame"), OUT_OF_RANGE, ids=[n for n, _ in OUT_OF_RANGE])
def test_encode_out_of_range_raises_encode_error(name: str, frame: Frame) -> None:
    with pytest.raises(EncodeError) as info:
        CODEC.encode(frame, 0)
    assert isinstance(info.value, InfusionError) and not isinstance(info.value, FrameError)
    encoder = FrameEncoder(CODEC)
    with pytest.raises(EncodeError):
        encoder.encode(frame)


def test_frame_id_of_missing_node_is_encode_error() -> None:
    with pytest.raises(EncodeError):
        CODEC.frame_id(Status, 0)
    with pytest.raises(EncodeError):
        CODEC.frame_id(WsHeartbeat, 1)
    assert CODEC.frame_id(WsHeartbeat, 0) == 0x100
    assert CODEC.frame_id(Status, 31) == 0x31F


# --- pydantic boundaries ---------------------------------------------------------------------


@pytest.mark.parametrize("frame", SAMPLES[:40:3], ids=lambda f: f"{type(f).__name__}-{f.node}")
def test_frames_are_frozen(frame: Frame) -> None:
    with pytest.raises(ValidationError):
        frame.node = 3
    name = next(iter(type(frame).model_fields.keys() - {"node"}))
    with pytest.raises(ValidationError):
        setattr(frame, name, getattr(frame, name))
    assert hash(frame) == hash(frame.model_copy())


@pytest.mark.parametrize("frame_type", FRAME_TYPES, ids=lambda t: t.__name__)
def test_frames_reject_extra_fields(frame_type: type[Frame]) -> None:
    sample = next(f for f in SAMPLES if type(f) is frame_type)
    data = sample.model_dump()
    assert frame_type.model_validate(data) == sample
    with pytest.raises(ValidationError):
        frame_type.model_validate({**data, "crc": 0})
    with pytest.raises(ValidationError):
        frame_type(**{**data, "counter": 1})


def test_pages_are_frozen_and_reject_extra_fields() -> None:
    for page in sample_pages():
        with pytest.raises(ValidationError):
            type(page).model_validate({**page.model_dump(), "extra": 1})
        field_name = next(iter(type(page).model_fields))
        with pytest.raises(ValidationError):
            setattr(page, field_name, getattr(page, field_name))


@pytest.mark.parametrize("node", [-1, 32, 100])
def test_node_outside_0_31_is_rejected(node: int) -> None:
    with pytest.raises(ValidationError):
        Status(node=node, state=PumpState.IDLE, mode=DeliveryMode.NONE, rate_ml_h=0,
               pressure_mmhg=0, alarms=AlarmCondition(0))


def test_model_limits() -> None:
    with pytest.raises(ValidationError):
        Command(node=1, seq=256, command=CommandCode.NOP)
    with pytest.raises(ValidationError):
        Command(node=1, seq=1, command=99)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Program(node=1, seq=0, program_id=0, page=PrimaryPage(rate_ml_h=1.0, vtbi_ml=1.0))
    with pytest.raises(ValidationError):
        WsHeartbeat(state=WorkstationState.BOOT, time_s=0, time_ms=1000, timeout_s=1.0)


def test_reserved_alarm_bit_is_a_range_error() -> None:
    """AlarmBits bit 19 has no condition: a module that sets it is not speaking our protocol."""
    message = CODEC.db.get_message_by_name("Pump04_Status")
    payload = bytearray(message.encode({"Crc": 0, "Counter": 0, "State": 2, "Mode": 1,
                                        "ActualRate": 10.0, "Pressure": 20,
                                        "AlarmBits": 1 << 19}, strict=False))
    e2e.protect(payload, message.frame_id, 0)
    msg = can.Message(arbitration_id=message.frame_id, data=payload, is_extended_id=False)
    with pytest.raises(SignalRangeError):
        CODEC.decode(msg)


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
    boot = beat.model_copy(update={"state": WorkstationState.BOOT})
    assert decoder.decode(encoder.encode(boot)) == boot
    assert decoder.decode(encoder.encode(start)) == start  # not dropped
    assert decoder.stats.resyncs == 1 and not decoder.stats.errors
    encoder.reset()  # an OPERATIONAL heartbeat after a counter jump does not resynchronise
    with pytest.raises(CounterError):
        decoder.decode(encoder.encode(beat))
