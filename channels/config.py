"""A channel's own settings: its slot, its commands' timing and its delivery supervision.

Part of the workstation's configuration (``workstation.config`` composes them); every field is
documented in ``configs/workstation.toml``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChannelConfig", "CommandConfig", "Letter", "SupervisionConfig"]

Letter = Annotated[str, Field(pattern=r"^[A-Z]{1,2}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChannelConfig(_Model):
    letter: Letter
    slot: int = Field(ge=1, le=31)
    bus: str = "can0"
    label: str = Field(default="", max_length=24)
    kind: Literal["volumetric", "syringe"] = "volumetric"


class CommandConfig(_Model):
    ack_timeout_s: float = Field(default=0.5, ge=0.05, le=5.0)
    retries: int = Field(default=3, ge=0, le=10)
    readback_timeout_s: float = Field(default=2.0, ge=0.1, le=10.0)


class SupervisionConfig(_Model):
    window_s: float = Field(default=900.0, ge=60.0)  # 15 min of module time (FDA GIP)
    over_ratio: float = Field(default=1.10, gt=1.0, le=2.0)
    under_ratio: float = Field(default=0.90, ge=0.1, lt=1.0)
    min_expected_ml: float = Field(default=0.1, ge=0.0)  # the window grows to expect this
