"""Encoding: a frame the DBC cannot carry (out of range, or on a node it has no identifier for)
is an EncodeError, never a FrameError."""

from __future__ import annotations

import pytest

from dbc.codec import FrameEncoder
from dbc.errors import EncodeError, FrameError, InfusionError
from dbc.frames import (
    BolusPage,
    Delivery,
    Frame,
    PrimaryPage,
    Program,
    SettingsPage,
    Status,
    WsHeartbeat,
)
from dbc.vocabulary import EndAction
from tests.bus.codec_support import CODEC, POWER, STATUS, WS_HB

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
