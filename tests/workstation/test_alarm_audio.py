"""Alarm system rules, with an injected clock: the audio pause and escalation."""

from __future__ import annotations

import pytest

from tests.workstation.alarm_support import (
    BAT,
    END,
    HIGH,
    INFO,
    LOW,
    MEDIUM,
    OCC,
    ONB,
    T0,
    C,
    kinds,
    one_id,
)
from workstation.alarms import AlarmKey, AlarmSystem, AudioState, Priority


def test_audio_pause_120_s_and_rearm_exactly_at_expiry() -> None:
    s = AlarmSystem(escalation_s=3600.0)  # default 120 s pause; no escalation in the way
    s.raise_(BAT, MEDIUM, "Battery low", T0)
    changes = s.audio_pause(T0 + 10)
    assert kinds(changes) == [C.AUDIO_PAUSED] and changes[0].alarm is None
    ind = s.indicator(T0 + 10)
    assert ind.audio is AudioState.PAUSED and ind.pause_left_s == 120.0
    assert s.indicator(T0 + 70).pause_left_s == pytest.approx(60.0)
    assert s.tick(T0 + 129.9) == []
    ind = s.indicator(T0 + 129.9)
    assert ind.audio is AudioState.PAUSED and ind.pause_left_s == pytest.approx(0.1)
    assert kinds(s.tick(T0 + 130.0)) == [C.AUDIO_RESUMED]
    ind = s.indicator(T0 + 130.0)
    assert ind.audio is AudioState.ON and ind.pause_left_s == 0.0
    assert s.tick(T0 + 131.0) == []
    s.audio_pause(T0 + 200)
    s.audio_pause(T0 + 300)  # pressed again: the period restarts
    assert s.tick(T0 + 410) == [] and kinds(s.tick(T0 + 420)) == [C.AUDIO_RESUMED]


def test_new_high_breaks_the_pause() -> None:
    s = AlarmSystem()
    s.raise_(BAT, MEDIUM, "Battery low", T0)
    s.audio_pause(T0)
    changes = s.raise_(OCC, HIGH, "Occlusion", T0 + 30)
    assert kinds(changes) == [C.RAISED, C.AUDIO_RESUMED]
    assert s.indicator(T0 + 30).audio is AudioState.ON
    assert s.tick(T0 + 120) == []  # nothing left to expire
    s.audio_pause(T0 + 121)
    door = AlarmKey("D", "DOOR_OPEN")  # a repeat upgrading to HIGH breaks it too
    assert kinds(s.raise_(door, MEDIUM, "Door open", T0 + 122)) == [C.RAISED]
    assert kinds(s.raise_(door, HIGH, "Door open", T0 + 123)) == [C.REPEATED, C.AUDIO_RESUMED]


@pytest.mark.parametrize("priority", [MEDIUM, LOW, INFO])
def test_new_lower_alarm_does_not_break_the_pause(priority: Priority) -> None:
    s = AlarmSystem()
    s.raise_(BAT, MEDIUM, "Battery low", T0)
    s.audio_pause(T0)
    assert kinds(s.raise_(END, priority, "Near end", T0 + 30)) == [C.RAISED]
    assert s.indicator(T0 + 30).audio is AudioState.PAUSED


def test_pause_ends_when_nothing_is_left_to_silence() -> None:
    s = AlarmSystem()
    s.raise_(BAT, MEDIUM, "Battery low", T0)
    s.raise_(END, LOW, "Near end", T0)
    s.audio_pause(T0)
    assert kinds(s.clear(BAT, T0 + 5)) == [C.REMOVED]  # END still sounds: pause holds
    assert s.indicator(T0 + 5).audio is AudioState.PAUSED
    changes = s.acknowledge_all(T0 + 6)
    assert kinds(changes) == [C.ACKNOWLEDGED, C.AUDIO_RESUMED]
    assert s.indicator(T0 + 6).audio is AudioState.OFF
    # So the next alarm is heard at once.
    s.raise_(AlarmKey("D", "CALLBACK"), MEDIUM, "Callback", T0 + 7)
    assert s.indicator(T0 + 7).audio is AudioState.ON


def test_medium_escalates_to_high_at_escalation_s_not_before() -> None:
    s = AlarmSystem()
    s.raise_(BAT, MEDIUM, "Battery low", T0)
    assert s.tick(T0 + 299.9) == []
    changes = s.tick(T0 + 300.0)
    assert kinds(changes) == [C.ESCALATED]
    alarm = changes[0].alarm
    assert alarm is not None and alarm.priority is HIGH and alarm.escalated_from is MEDIUM
    assert s.tick(T0 + 10_000) == []  # never beyond HIGH


def test_low_escalates_step_by_step() -> None:
    s = AlarmSystem(escalation_s=60.0)
    s.raise_(END, LOW, "Near end", T0)
    assert s.tick(T0 + 59.9) == []
    [step1] = s.tick(T0 + 60.0)
    assert step1.alarm is not None and step1.alarm.priority is MEDIUM
    assert step1.alarm.escalated_from is LOW
    assert s.tick(T0 + 119.9) == []  # a full period again at MEDIUM
    [step2] = s.tick(T0 + 120.0)
    assert step2.alarm is not None and step2.alarm.priority is HIGH
    assert step2.alarm.escalated_from is LOW  # where it started
    assert s.tick(T0 + 1000) == []


def test_acknowledged_and_info_alarms_are_not_escalated() -> None:
    s = AlarmSystem()
    aid = one_id(s.raise_(BAT, MEDIUM, "Battery low", T0))
    s.raise_(ONB, INFO, "On battery", T0)
    s.acknowledge(aid, T0 + 100)
    assert s.tick(T0 + 1000) == []
    assert {a.priority for a in s.active()} == {MEDIUM, INFO}


def test_latched_cleared_alarm_escalates_only_once_present_again() -> None:
    s = AlarmSystem()
    key = AlarmKey("A", "OVER_INFUSION")
    s.raise_(key, MEDIUM, "Over-infusion", T0, latching=True)
    s.clear(key, T0 + 10)
    assert s.tick(T0 + 400) == []
    changes = s.raise_(key, MEDIUM, "Over-infusion", T0 + 401)
    assert kinds(changes) == [C.REPEATED]
    assert kinds(s.tick(T0 + 401.1)) == [C.ESCALATED]  # the clock ran since it was raised


def test_escalation_ends_pause_only_when_it_produces_high() -> None:
    s = AlarmSystem(audio_pause_s=120.0, escalation_s=100.0)
    s.raise_(END, LOW, "Near end", T0)
    s.raise_(BAT, MEDIUM, "Battery low", T0 + 50)
    s.audio_pause(T0 + 60)
    assert kinds(s.tick(T0 + 100)) == [C.ESCALATED]  # LOW -> MEDIUM: stays paused
    assert s.indicator(T0 + 100).audio is AudioState.PAUSED
    assert kinds(s.tick(T0 + 150)) == [C.ESCALATED, C.AUDIO_RESUMED]  # MEDIUM -> HIGH
    assert s.indicator(T0 + 150).audio is AudioState.ON

