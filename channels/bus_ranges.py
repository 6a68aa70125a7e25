"""The range of every program page field, read from the DBC's signals (never re-typed).

The signal's minimum and maximum, clipped to what its bits can hold at its scale. Used by
``bus_limits`` (what the bus can carry, H13) and by ``limits`` (the pump's rate, VTBI and KVO
ranges are the bus's).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from dbc.database import load_database, split_name
from dbc.frames import BolusPage, Page, PrimaryPage, SecondaryPage, SettingsPage

__all__ = ["PROGRAM_MESSAGE", "FieldRange", "field_range"]

PROGRAM_MESSAGE = "Program"  # the DBC message that carries every program page


@dataclass(frozen=True)
class FieldRange:
    """One page field's signal: the physical range the bus carries and its step."""

    signal: str
    minimum: float
    maximum: float
    scale: float
    unit: str


@functools.cache
def _ranges() -> dict[tuple[type[Page], str], FieldRange]:
    db = load_database()
    message = next((m for m in db.messages if split_name(m.name)[0] == PROGRAM_MESSAGE), None)
    if message is None:
        raise LookupError(f"the DBC has no {PROGRAM_MESSAGE} message: cannot check programs")
    out: dict[tuple[type[Page], str], FieldRange] = {}
    for page in (PrimaryPage, SettingsPage, BolusPage, SecondaryPage):
        for field, name in page.SIGNALS.items():
            signal = message.get_signal_by_name(name)
            scale, offset = float(signal.scale), float(signal.offset)
            # What the bits can hold, in case the DBC's stated range is wider than its field.
            raw_max = (1 << signal.length) - 1 if not signal.is_signed \
                else (1 << (signal.length - 1)) - 1
            raw_min = 0 if not signal.is_signed else -(1 << (signal.length - 1))
            low = raw_min * scale + offset if signal.minimum is None \
                else max(float(signal.minimum), raw_min * scale + offset)
            high = raw_max * scale + offset if signal.maximum is None \
                else min(float(signal.maximum), raw_max * scale + offset)
            out[(page, field)] = FieldRange(name, low, high, scale, signal.unit or "")
    return out


def field_range(page: type[Page], field: str) -> FieldRange:
    """The bus range of one page field (KeyError names the field when it has no signal)."""
    try:
        return _ranges()[(page, field)]
    except KeyError:
        raise KeyError(f"{page.__name__}.{field} has no signal in the DBC "
                       f"{PROGRAM_MESSAGE} message") from None
