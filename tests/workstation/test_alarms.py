"""Alarm system rules (IEC 60601-1-8 style), each with an injected clock: keys and timings,
raising, latching, acknowledging, repeats. Audio pause and escalation: test_alarm_audio.py;
the indicator and invariants: test_alarm_indicator.py."""

from __future__ import annotations

import pytest

from tests.workstation.alarm_support import (
    BAT,
    DOOR,
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


def test_priority_order_and_markers() -> None:
    assert INFO < LOW < MEDIUM < HIGH
    assert [p.marker for p in (HIGH, MEDIUM, LOW, INFO)] == ["***", "**", "*", ""]
    assert str(AlarmKey("WS", "BUS_ERROR")) == "WS/BUS_ERROR" and AlarmKey("AA", "X")


@pytest.mark.parametrize(("source", "condition"), [("", "X"), ("b", "X"), ("A1", "X"),
                                                    ("Ä", "X"), ("A", "")])
def test_alarm_key_validated(source: str, condition: str) -> None:
    with pytest.raises(ValueError):
        AlarmKey(source, condition)


@pytest.mark.parametrize("kwargs", [{"audio_pause_s": 0}, {"escalation_s": -1},
                                    {"repeat_window_s": -1}])
def test_bad_timings_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AlarmSystem(**kwargs)


def test_raise_reports_snapshot_and_increasing_ids() -> None:
    s = AlarmSystem()
    first = s.raise_(OCC, HIGH, "Occlusion downstream", T0)
    second = s.raise_(BAT, MEDIUM, "Battery low", T0 + 1)
    assert kinds(first) == [C.RAISED] and first[0].at == T0
    a, b = first[0].alarm, second[0].alarm
    assert a is not None and b is not None
    assert b.id > a.id
    assert (a.key, a.priority, a.text, a.raised_at, a.last_seen_at) == (
        OCC, HIGH, "Occlusion downstream", T0, T0)
    assert a.active and not a.acknowledged and a.repeats == 0 and a.escalated_from is None
    s.acknowledge(a.id, T0 + 2)
    assert not a.acknowledged  # the change holds a copy, not the live alarm
    got = s.get(a.id)
    assert got is not None and got.acknowledged and got.age(T0 + 5) == 5.0
    assert s.get(999) is None


def test_latching_defaults_to_high_only() -> None:
    s = AlarmSystem()
    for i, p in enumerate(Priority):
        s.raise_(AlarmKey("A", f"C{i}"), p, "x", T0)
    assert {a.priority: a.latching for a in s.active()} == {
        HIGH: True, MEDIUM: False, LOW: False, INFO: False}
    s.raise_(AlarmKey("B", "X"), HIGH, "x", T0, latching=False)
    s.raise_(AlarmKey("B", "Y"), LOW, "x", T0, latching=True)
    latch = {a.key.condition: a.latching for a in s.active() if a.key.source == "B"}
    assert latch == {"X": False, "Y": True}


def test_active_order_priority_unacknowledged_oldest_id() -> None:
    s = AlarmSystem()
    s.raise_(AlarmKey("A", "LOW1"), LOW, "x", T0)
    s.raise_(AlarmKey("A", "MED_OLD"), MEDIUM, "x", T0 + 1)
    s.raise_(AlarmKey("B", "HIGH_ACKED"), HIGH, "x", T0 + 2)
    s.raise_(AlarmKey("C", "HIGH_LATER"), HIGH, "x", T0 + 3)
    s.raise_(AlarmKey("D", "HIGH_SAME_TIME"), HIGH, "x", T0 + 3)
    s.raise_(AlarmKey("A", "MED_NEW"), MEDIUM, "x", T0 + 4)
    s.raise_(AlarmKey("A", "INFO"), INFO, "x", T0 - 10)
    acked = next(a.id for a in s.active() if a.key.condition == "HIGH_ACKED")
    s.acknowledge(acked, T0 + 5)
    assert [a.key.condition for a in s.active()] == [
        "HIGH_LATER", "HIGH_SAME_TIME", "HIGH_ACKED", "MED_OLD", "MED_NEW", "LOW1", "INFO"]


def test_non_latching_removed_when_condition_clears() -> None:
    s = AlarmSystem()
    s.raise_(BAT, MEDIUM, "Battery low", T0)
    changes = s.clear(BAT, T0 + 3)
    assert kinds(changes) == [C.REMOVED]
    removed = changes[0].alarm
    assert removed is not None and not removed.active and removed.cleared_at == T0 + 3
    assert s.active() == []
    assert s.clear(BAT, T0 + 4) == []  # unknown key: nothing to do
    again = s.raise_(BAT, MEDIUM, "Battery low", T0 + 5)  # after removal: a new alarm
    assert kinds(again) == [C.RAISED] and one_id(again) > one_id(changes)


def test_latching_stays_until_acknowledged_then_removed() -> None:
    s = AlarmSystem()
    aid = one_id(s.raise_(OCC, HIGH, "Occlusion", T0))
    assert kinds(s.clear(OCC, T0 + 5)) == [C.CONDITION_CLEARED]
    assert s.clear(OCC, T0 + 6) == []  # already cleared
    [shown] = s.active()
    assert shown.id == aid and not shown.active and shown.cleared_at == T0 + 5
    changes = s.acknowledge(aid, T0 + 10, user="rn.smith")
    assert kinds(changes) == [C.ACKNOWLEDGED, C.REMOVED]
    acked = changes[0].alarm
    assert acked is not None and acked.acknowledged_by == "rn.smith"
    assert acked.acknowledged_at == T0 + 10
    assert s.active() == [] and s.get(aid) is None


# H5: this test used to cover HIGH too (an acknowledged, still-present HIGH stayed silent
# until its condition cleared); GIP "silence <= 2 min" allows that for MEDIUM/LOW only now.
@pytest.mark.parametrize(("key", "priority"), [(BAT, MEDIUM), (END, LOW)])
def test_acknowledged_while_present_stays_silenced_until_clear(
    key: AlarmKey, priority: Priority
) -> None:
    s = AlarmSystem(escalation_s=60.0)
    aid = one_id(s.raise_(key, priority, "x", T0))
    assert s.indicator(T0).audio is AudioState.ON
    assert kinds(s.acknowledge(aid, T0 + 1)) == [C.ACKNOWLEDGED]
    assert s.acknowledge(aid, T0 + 2) == [] and s.acknowledge(42, T0 + 2) == []
    [shown] = s.active()
    assert shown.active and shown.acknowledged
    assert s.indicator(T0 + 2).audio is AudioState.OFF  # acknowledged alarms do not sound
    assert s.tick(T0 + 1000) == [] and s.indicator(T0 + 1000).audio is AudioState.OFF
    assert kinds(s.clear(key, T0 + 1001)) == [C.REMOVED]
    assert s.active() == []


@pytest.mark.parametrize("pause_s", [120.0, 30.0])
def test_acknowledged_high_whose_condition_persists_sounds_again_after_the_pause(
    pause_s: float,
) -> None:
    # H5: acknowledging an occlusion that is still there is an audio pause for that alarm.
    s = AlarmSystem(audio_pause_s=pause_s)
    aid = one_id(s.raise_(OCC, HIGH, "Occlusion", T0))
    assert kinds(s.acknowledge(aid, T0 + 1, user="rn.lee")) == [C.ACKNOWLEDGED]
    assert s.indicator(T0 + 2).audio is AudioState.OFF
    assert s.tick(T0 + 1 + pause_s - 0.1) == []
    changes = s.tick(T0 + 1 + pause_s)
    assert kinds(changes) == [C.REPEATED] and "sounds again" in changes[0].detail
    [shown] = s.active()
    assert shown.id == aid and shown.active and not shown.acknowledged
    assert shown.acknowledged_by is None
    assert s.indicator(T0 + 1 + pause_s).audio is AudioState.ON
    # Acknowledged again: silenced for one more period, then again, as long as it persists.
    s.acknowledge(aid, T0 + 2 + pause_s)
    assert s.tick(T0 + 2 + 2 * pause_s - 0.1) == []
    assert kinds(s.tick(T0 + 2 + 2 * pause_s)) == [C.REPEATED]
    s.acknowledge(aid, T0 + 3 + 2 * pause_s)
    assert kinds(s.clear(OCC, T0 + 4 + 2 * pause_s)) == [C.REMOVED]  # gone: nothing re-arms
    assert s.tick(T0 + 10 * pause_s) == [] and s.active() == []


def test_high_that_sounds_again_breaks_an_audio_pause() -> None:
    s = AlarmSystem(audio_pause_s=120.0)
    occ = one_id(s.raise_(OCC, HIGH, "Occlusion", T0))
    s.acknowledge(occ, T0 + 1)
    s.raise_(BAT, MEDIUM, "Battery low", T0 + 100)
    s.audio_pause(T0 + 110)
    assert kinds(s.tick(T0 + 121)) == [C.REPEATED, C.AUDIO_RESUMED]
    assert s.indicator(T0 + 121).audio is AudioState.ON


def test_acknowledged_high_that_clears_is_not_re_armed() -> None:
    s = AlarmSystem(audio_pause_s=120.0)
    s.raise_(OCC, HIGH, "Occlusion", T0)
    s.acknowledge_all(T0 + 1)
    s.clear(OCC, T0 + 50)
    s.raise_(OCC, HIGH, "Occlusion", T0 + 60)  # a new episode: a new, unacknowledged alarm
    [shown] = s.active()
    assert not shown.acknowledged and shown.raised_at == T0 + 60
    assert s.tick(T0 + 200) == []


def test_acknowledge_all_by_source_and_user() -> None:
    s = AlarmSystem()
    s.raise_(AlarmKey("A", "X"), MEDIUM, "x", T0)
    s.raise_(AlarmKey("A", "Y"), HIGH, "y", T0)
    s.raise_(AlarmKey("B", "X"), LOW, "x", T0)
    changes = s.acknowledge_all(T0 + 1, source="A", user="rn.lee")
    assert kinds(changes) == [C.ACKNOWLEDGED, C.ACKNOWLEDGED]
    assert [c.alarm.key.condition for c in changes if c.alarm] == ["Y", "X"]  # shown order
    assert {c.alarm.acknowledged_by for c in changes if c.alarm} == {"rn.lee"}
    assert [a.key.source for a in s.active() if not a.acknowledged] == ["B"]
    assert kinds(s.acknowledge_all(T0 + 2)) == [C.ACKNOWLEDGED]
    assert s.acknowledge_all(T0 + 3) == []


def test_repeat_is_deduplicated_and_reported_once_per_window() -> None:
    s = AlarmSystem(repeat_window_s=10.0)
    aid = one_id(s.raise_(BAT, MEDIUM, "Battery low", T0))
    assert kinds(s.raise_(BAT, MEDIUM, "Battery low", T0 + 1)) == [C.REPEATED]
    [shown] = s.active()
    assert (shown.id, shown.repeats, shown.last_seen_at, shown.raised_at) == (aid, 1, T0 + 1, T0)
    assert s.raise_(BAT, MEDIUM, "Battery low", T0 + 5) == []  # counted, not reported
    assert s.raise_(BAT, MEDIUM, "Battery low", T0 + 10.9) == []
    assert kinds(s.raise_(BAT, MEDIUM, "Battery low", T0 + 11)) == [C.REPEATED]
    [shown] = s.active()
    assert shown.repeats == 4 and shown.last_seen_at == T0 + 11


def test_repeat_raises_priority_but_never_lowers_it() -> None:
    s = AlarmSystem()
    door = AlarmKey("B", "DOOR_OPEN")
    aid = one_id(s.raise_(door, MEDIUM, "Door open", T0))
    s.acknowledge(aid, T0 + 1)
    changes = s.raise_(door, HIGH, "Door opened during infusion", T0 + 2)
    assert kinds(changes) == [C.REPEATED]
    alarm = changes[0].alarm
    assert alarm is not None and alarm.priority is HIGH and alarm.latching
    assert not alarm.acknowledged  # a more serious condition must be seen again
    assert alarm.text == "Door opened during infusion"
    s.raise_(door, MEDIUM, "Door open", T0 + 30)
    [shown] = s.active()
    assert shown.priority is HIGH and shown.latching


def test_latched_alarm_reactivates_when_condition_returns() -> None:
    s = AlarmSystem()
    aid = one_id(s.raise_(OCC, HIGH, "Occlusion", T0))
    s.clear(OCC, T0 + 1)
    changes = s.raise_(OCC, HIGH, "Occlusion", T0 + 2)  # inside the repeat window: still told
    assert kinds(changes) == [C.REPEATED] and "returned" in changes[0].detail
    [shown] = s.active()
    assert shown.id == aid and shown.active and shown.cleared_at is None and shown.repeats == 1


def test_info_never_sounds_and_latched_cleared_sounds_until_acknowledged() -> None:
    s = AlarmSystem()
    s.raise_(ONB, INFO, "Running on battery", T0)
    ind = s.indicator(T0)
    assert ind.audio is AudioState.OFF and ind.priority is INFO
    assert s.audio_pause(T0) == []  # nothing to silence
    s.raise_(OCC, HIGH, "Occlusion", T0)
    assert s.indicator(T0).audio is AudioState.ON
    s.clear(OCC, T0 + 1)
    ind = s.indicator(T0 + 1)
    assert ind.audio is AudioState.ON and ind.priority is HIGH  # latched: shown and heard
    s.acknowledge(ind.alarm_id or 0, T0 + 2)
    assert s.indicator(T0 + 2).audio is AudioState.OFF
    s.raise_(DOOR, MEDIUM, "Door open", T0 + 3, latching=False)
    s.clear(DOOR, T0 + 4)
    assert s.indicator(T0 + 4).audio is AudioState.OFF  # non-latching: gone with its cause

