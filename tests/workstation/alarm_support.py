"""What the alarm system's test modules share: priorities, an epoch, a few alarm keys and
helpers to read a list of changes."""

from __future__ import annotations

from workstation.alarms import AlarmChange, AlarmKey, ChangeKind, Priority

HIGH, MEDIUM, LOW, INFO = Priority.HIGH, Priority.MEDIUM, Priority.LOW, Priority.INFO
C = ChangeKind
T0 = 1000.0
OCC = AlarmKey("B", "OCCLUSION_DOWNSTREAM")
BAT = AlarmKey("A", "BATTERY_LOW")
END = AlarmKey("C", "NEAR_END")
ONB = AlarmKey("A", "ON_BATTERY")
DOOR = AlarmKey("B", "DOOR_OPEN")


def kinds(changes: list[AlarmChange]) -> list[ChangeKind]:
    return [c.kind for c in changes]


def one_id(changes: list[AlarmChange]) -> int:
    alarm = changes[0].alarm
    assert alarm is not None
    return alarm.id
