"""Alarm system: the indicator's content, invariants over random sequences, 64 channels' cost."""

from __future__ import annotations

import random
import time

import pytest

from tests.workstation.alarm_support import BAT, HIGH, INFO, LOW, MEDIUM, OCC, ONB, T0, one_id
from workstation.alarms import AlarmKey, AlarmSystem, AudioState, Priority


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
