"""Alarm system rules (IEC 60601-1-8 style), each with an injected clock."""

from __future__ import annotations

import random
import time

import pytest

from workstation.alarms import AlarmChange, AlarmKey, AlarmSystem, AudioState, ChangeKind, Priority

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


def test_indicator_content_and_counts() -> None:
    s = AlarmSystem()
    ind = s.indicator(T0)
    assert (ind.priority, ind.source, ind.text, ind.alarm_id) == (None, "", "", None)
    assert ind.audio is AudioState.OFF and ind.total == 0
    assert ind.counts == dict.fromkeys(Priority, 0)
    s.raise_(BAT, MEDIUM, "Battery low", T0)
    occ = one_id(s.raise_(OCC, HIGH, "Occlusion downstream", T0 + 1))
    s.raise_(AlarmKey("C", "COMM_LOST"), HIGH, "Channel communication lost", T0 + 2)
    s.raise_(ONB, INFO, "On battery", T0)
    ind = s.indicator(T0 + 3)
    assert (ind.priority, ind.source, ind.alarm_id) == (HIGH, "B", occ)
    assert ind.text == "B: Occlusion downstream"
    assert ind.counts == {HIGH: 2, MEDIUM: 1, LOW: 0, INFO: 1} and ind.total == 4
    s.acknowledge(occ, T0 + 4)  # unacknowledged before acknowledged
    ind = s.indicator(T0 + 4)
    assert ind.text == "C: Channel communication lost" and ind.audio is AudioState.ON


@pytest.mark.parametrize("seed", range(25))
def test_random_sequences_keep_invariants(seed: int) -> None:
    rng = random.Random(seed)
    s = AlarmSystem(audio_pause_s=rng.choice([5.0, 120.0]), escalation_s=rng.choice([7.0, 300.0]),
                    repeat_window_s=rng.choice([0.0, 10.0]))
    keys = [AlarmKey(src, cond) for src in ("A", "B", "WS") for cond in ("X", "Y", "Z")]
    now, seen_priority = 0.0, dict[int, Priority]()
    for _ in range(400):
        now += rng.choice([0.0, 0.1, 1.0, 3.0, 40.0])
        op = rng.randrange(7)
        if op <= 1:
            latching = rng.choice([None, True, False])
            changes = s.raise_(rng.choice(keys), rng.choice(list(Priority)), "t", now,
                               latching=latching)
        elif op == 2:
            changes = s.clear(rng.choice(keys), now)
        elif op == 3:
            shown = s.active()
            target = rng.choice(shown).id if shown and rng.random() < 0.8 else rng.randrange(50)
            changes = s.acknowledge(target, now, user="u")
        elif op == 4:
            changes = s.acknowledge_all(now, source=rng.choice([None, "A", "WS"]))
        elif op == 5:
            changes = s.audio_pause(now)
        else:
            changes = s.tick(now)
        assert all(c.at == now for c in changes)
        shown = s.active()
        assert len({a.key for a in shown}) == len(shown)
        ind = s.indicator(now)
        assert ind.alarm_id == (shown[0].id if shown else None)
        assert ind.priority == (shown[0].priority if shown else None)
        assert ind.total == len(shown) == sum(ind.counts.values())
        sounding = any((a.active or a.latching) and not a.acknowledged and a.priority >= LOW
                       for a in shown)
        assert (ind.audio is not AudioState.OFF) == sounding
        for a in shown:
            assert a.active or (a.latching and not a.acknowledged)
            if op == 6 and a.priority is HIGH and a.active and a.acknowledged:
                # H5: never silenced by an acknowledgement for more than the pause time
                assert a.acknowledged_at is not None
                assert now - a.acknowledged_at < s.audio_pause_s
            assert a.priority >= seen_priority.get(a.id, INFO)  # priorities never drop
            seen_priority[a.id] = a.priority


def test_many_channels_stay_cheap() -> None:
    s = AlarmSystem()
    for ch in range(64):
        high, low = divmod(ch, 26)
        source = (chr(ord("A") + high - 1) if high else "") + chr(ord("A") + low)  # A..Z, AA..
        for i, p in enumerate((HIGH, MEDIUM, LOW, INFO)):
            s.raise_(AlarmKey(source, f"C{i}"), p, "x", T0)
    start = time.perf_counter()
    for n in range(3000):  # 5 minutes at 10 Hz, the UI redrawing every tick
        s.tick(T0 + n / 10)
        s.indicator(T0 + n / 10)
    assert time.perf_counter() - start < 3.0
    assert len(s.active()) == 256
