"""The frame and page models at their pydantic boundaries: frozen, no extra fields, field limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dbc.frames import (
    FRAME_TYPES,
    Command,
    Frame,
    PrimaryPage,
    Program,
    Status,
    WsHeartbeat,
)
from dbc.vocabulary import (
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    PumpState,
    WorkstationState,
)
from tests.bus.codec_support import SAMPLES
from tests.bus.frame_samples import sample_pages


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
