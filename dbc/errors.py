"""The project's exception tree, after python-can's: one base, a few precise kinds.

Receive-path errors (``FrameError`` and below) are counted and logged by the receive loop;
they never escape it and never stop reception.
"""

from __future__ import annotations

__all__ = [
    "BusError", "ConfigError", "CounterError", "CrcError", "DbcError", "EncodeError",
    "ForeignFrameError", "FrameError", "FrameLengthError", "InfusionError", "SignalRangeError",
]


class InfusionError(Exception):
    """Base of every error this project raises on purpose."""


class DbcError(InfusionError):
    """The DBC file is missing, malformed, or disagrees with the code's vocabulary."""


class FrameError(InfusionError):
    """A received frame that cannot be trusted. ``kind`` names the counter it goes to."""

    kind = "malformed"

    def __init__(self, frame_id: int | None, message: str) -> None:
        where = f"frame 0x{frame_id:03X}" if frame_id is not None else "frame"
        super().__init__(f"{where}: {message}")
        self.frame_id = frame_id


class ForeignFrameError(FrameError):
    """Not one of ours: extended, remote or error frame, or an identifier not in the DBC."""

    kind = "foreign"


class FrameLengthError(FrameError):
    kind = "length"


class CrcError(FrameError):
    kind = "crc"


class CounterError(FrameError):
    kind = "counter"


class SignalRangeError(FrameError):
    """A signal outside its DBC range or value table."""

    kind = "range"


class EncodeError(InfusionError):
    """A frame we were asked to send does not fit the DBC (a bug or an unchecked input)."""


class BusError(InfusionError):
    """The CAN interface could not be opened or failed while in use."""


class ConfigError(InfusionError):
    """A configuration or drug-library file is wrong. Names the file, the field and the fix."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s):\n{lines}")
