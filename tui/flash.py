"""The IEC 60601-1-8 visual rhythm, for both screens: one 4 Hz tick drives HIGH alarms at 2 Hz
(on 0.25 s, off 0.25 s) and MEDIUM alarms at 0.5 Hz (on 1 s, off 1 s); LOW is steady."""

from __future__ import annotations

FLASH_TICK_S = 0.25


def high_on(ticks: int) -> bool:
    return ticks % 2 == 0


def medium_on(ticks: int) -> bool:
    return (ticks // 4) % 2 == 0
