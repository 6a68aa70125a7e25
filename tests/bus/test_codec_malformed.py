"""Malformed frames: each way a received frame is bad raises its FrameError, and the decoder
counts it and goes on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import can
import pytest

from dbc import e2e
from dbc.codec import FrameDecoder
from dbc.errors import (
    CounterError,
    CrcError,
    ForeignFrameError,
    FrameError,
    FrameLengthError,
    InfusionError,
    SignalRangeError,
)
from dbc.frames import (
    AlarmEvent,
    BolusPage,
    CommandAck,
    Frame,
    ModuleHeartbeat,
    PrimaryPage,
    Program,
    Readback,
    SettingsPage,
    SyringeInfo,
)
from dbc.vocabulary import (
    AckResult,
    AlarmCondition,
    CommandCode,
    EndAction,
    ModuleKind,
    ModuleState,
    ProgramStore,
    PumpState,
    RejectReason,
    SyringeSize,
)
from tests.bus.codec_support import CODEC, POWER, STATUS, WS_HB, copy_msg

PROGRAM = Program(node=9, seq=3, program_id=12, page=PrimaryPage(rate_ml_h=50.0, vtbi_ml=250.0))
SETTINGS = Program(node=9, seq=4, program_id=12,
                   page=SettingsPage(kvo_rate_ml_h=1.0, occlusion_limit_mmhg=300,
                                     end_action=EndAction.KVO, air_limit_ul=100))
SYRINGE = SyringeInfo(node=11, size=SyringeSize.ML_20, plunger_travel_mm=40.0, volume_ml=15.5,
                      force_n=3.2, engaged=True)
ACK = CommandAck(node=2, result=AckResult.ACCEPTED, seq=1, subject=CommandCode.START,
                 state=PumpState.INFUSING)
ALARM = AlarmEvent(node=1, condition=AlarmCondition.DOOR_OPEN, raised=True,
                   alarms=AlarmCondition.DOOR_OPEN)
HEARTBEAT = ModuleHeartbeat(node=4, state=ModuleState.OPERATIONAL, kind=ModuleKind.SYRINGE,
                            fw_major=2, fw_minor=0, fw_patch=1, serial=4242)
READBACK = Readback(node=6, store=ProgramStore.PENDING, program_id=12,
                    page=BolusPage(volume_ml=2.0, rate_ml_h=100.0))


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
    Bad("ack-reason-past-the-table", ACK, with_signals({"Reason": len(RejectReason)}),
        SignalRangeError),
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


def test_reserved_alarm_bit_is_a_range_error() -> None:
    """AlarmBits bit 19 has no condition: a module that sets it is not speaking our protocol."""
    message = CODEC.db.get_message_by_name("Pump04_Status")
    payload = bytearray(message.encode({"Crc": 0, "Counter": 0, "State": 2, "Mode": 1,
                                        "ActualRate": 10.0, "Pressure": 20,
                                        "AlarmBits": 1 << 19, "BootCount": 0}, strict=False))
    e2e.protect(payload, message.frame_id, 0)
    msg = can.Message(arbitration_id=message.frame_id, data=payload, is_extended_id=False)
    with pytest.raises(SignalRangeError):
        CODEC.decode(msg)
