"""What several codec test modules share: one FrameCodec, the sample frames, a few named ones."""

from __future__ import annotations

from typing import Any

import can

from dbc.codec import FrameCodec
from dbc.frames import Power, Status, WsHeartbeat
from dbc.vocabulary import AlarmCondition, DeliveryMode, PumpState, WorkstationState
from tests.bus.frame_samples import sample_frames

CODEC = FrameCodec()
SAMPLES = sample_frames()

STATUS = Status(node=5, state=PumpState.INFUSING, mode=DeliveryMode.PRIMARY, rate_ml_h=125.6,
                pressure_mmhg=80, alarms=AlarmCondition(0))
WS_HB = WsHeartbeat(state=WorkstationState.OPERATIONAL, time_s=1_700_000_000, time_ms=5,
                    timeout_s=3.0)
POWER = Power(node=31, on_mains=True, battery_percent=80, battery_minutes=120, temperature_c=30)


def copy_msg(msg: can.Message, **changes: Any) -> can.Message:
    fields: dict[str, Any] = {
        "arbitration_id": msg.arbitration_id, "is_extended_id": msg.is_extended_id,
        "is_remote_frame": msg.is_remote_frame, "is_error_frame": msg.is_error_frame,
        "data": bytes(msg.data), "dlc": msg.dlc,
    }
    fields.update(changes)
    return can.Message(**fields)
