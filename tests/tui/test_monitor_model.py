"""The central monitor's model: pure, fed with payloads built from the contract's models."""

from __future__ import annotations

import json
import random

from tests.tui.monitor_samples import T0_S, Station
from tui.monitor.model import (
    ALARMS,
    DUPLICATE,
    FUTURE_SCHEMA,
    NOT_JSON,
    NOT_SCHEMA,
    OLDER_THAN_LIST,
    TOPIC_MISMATCH,
    UNKNOWN_TOPIC,
    WORKSTATIONS,
    MonitorModel,
    ws_key,
)


def feed(model: MonitorModel, *messages: tuple[str, bytes], now: float = T0_S) -> set[str]:
    changed: set[str] = set()
    for topic, payload in messages:
        changed |= model.ingest(topic, payload, now)
    return changed


def test_alarms_across_workstations_by_priority_then_oldest_first() -> None:
    model = MonitorModel()
    bed1, bed2, bed3 = Station("icu", "bed-1"), Station("icu", "bed-2"), Station("hdu", "bed-9")
    feed(model, bed1.active([bed1.alarm_info("low", "LOW", raised=-500, text="battery"),
                             bed1.alarm_info("occl", "HIGH", raised=-10)]))
    feed(model, bed2.active([bed2.alarm_info("air", "HIGH", raised=-60, source="B"),
                             bed2.alarm_info("vtbi", "MEDIUM", raised=-30)]))
    feed(model, bed3.alarm(bed3.alarm_info("door", "HIGH", raised=-45, source="WS")))
    rows = model.alarms(T0_S)
    assert [(r.bed, r.priority, r.age_s) for r in rows] == [
        ("bed-2", "HIGH", 60.0), ("bed-9", "HIGH", 45.0), ("bed-1", "HIGH", 10.0),
        ("bed-2", "MEDIUM", 30.0), ("bed-1", "LOW", 500.0)]
    assert rows[0].channel == "B" and rows[0].source == "B" and rows[0].marker == "***"
    assert rows[1].channel is None and rows[1].source == "WS" and rows[1].unit == "hdu"
    assert model.counts() == {"HIGH": 3, "MEDIUM": 1, "LOW": 1}


def test_workstations_sorted_by_unit_then_bed_number() -> None:
    model = MonitorModel()
    for unit, bed in [("icu", "bed-10"), ("hdu", "bed-3"), ("icu", "bed-2"), ("icu", "bed-1")]:
        feed(model, Station(unit, bed).status())
    assert [(w.unit, w.bed) for w in model.workstations()] == [
        ("hdu", "bed-3"), ("icu", "bed-1"), ("icu", "bed-2"), ("icu", "bed-10")]


def test_stale_after_silence_from_the_advertised_period() -> None:
    model = MonitorModel()
    fast, slow, unknown = Station("icu", "1"), Station("icu", "2"), Station("icu", "3")
    feed(model, fast.status(period=2.0), slow.status(period=20.0), unknown.observation("A"))
    by_bed = {w.bed: w for w in model.workstations()}
    assert model.stale(T0_S + 29) == []  # 3 x 2 s is less than the 30 s floor
    assert [w.bed for w in model.stale(T0_S + 31)] == ["1", "3"]
    assert model.condition(by_bed["1"], T0_S + 31) == "STALE"
    assert [w.bed for w in model.stale(T0_S + 61)] == ["1", "2", "3"]  # 3 x 20 s
    feed(model, fast.observation("A"), now=T0_S + 61)
    assert [w.bed for w in model.stale(T0_S + 61)] == ["2", "3"]  # heard again


def test_stale_after_can_be_set_for_every_workstation() -> None:
    model = MonitorModel(stale_after_s=5.0)
    feed(model, Station("icu", "1").status(period=60.0))
    assert model.stale(T0_S + 5) == [] and len(model.stale(T0_S + 5.1)) == 1


def test_offline_status_and_plain_last_will_mark_a_workstation_offline() -> None:
    model = MonitorModel()
    a, b = Station("icu", "bed-1"), Station("icu", "bed-2")
    feed(model, a.status(), b.status(), a.active([a.alarm_info("occl")]))
    changed = feed(model, a.status("offline", reason="connection lost"), now=T0_S + 1)
    assert changed == {ws_key("icu", "bed-1", "ws-1"), ALARMS}  # its alarm rows say OFFLINE
    feed(model, (b.topics.status, b"offline"), now=T0_S + 2)
    assert [(w.bed, model.condition(w, T0_S + 2)) for w in model.stale(T0_S + 2)] == [
        ("bed-1", "OFFLINE"), ("bed-2", "OFFLINE")]
    assert model.alarms(T0_S + 2)[0].ws_condition == "OFFLINE"  # still listed, marked
    feed(model, a.status("online"), now=T0_S + 3)
    assert [w.bed for w in model.stale(T0_S + 3)] == ["bed-2"]


def test_the_same_last_will_applies_at_every_disconnection() -> None:
    """A will's id is fixed at connect time and the client reconnects with it."""
    model = MonitorModel()
    ws = Station("icu", "bed-1")
    will = ws.status("offline", message_id="will-boot-1")
    feed(model, ws.status(), will, ws.status(), will)
    assert model.workstations()[0].offline
    assert model.dropped[DUPLICATE] == 0


def test_duplicates_are_dropped_and_counted() -> None:
    model = MonitorModel()
    ws = Station("icu", "bed-1")
    info = ws.alarm_info("occl")
    raise_ = ws.alarm(info, time=1.0)
    assert feed(model, raise_) == {WORKSTATIONS, ALARMS, ws_key("icu", "bed-1", "ws-1")}
    feed(model, ws.alarm(info, "clear", time=2.0))
    assert feed(model, raise_) == set()  # QoS 1 again: the cleared alarm stays cleared
    obs = ws.observation("A")
    feed(model, obs, obs)
    assert model.alarms(T0_S) == [] and model.dropped[DUPLICATE] == 2


def test_dedup_memory_is_bounded() -> None:
    model = MonitorModel(dedup_ids=100)
    ws = Station("icu", "bed-1")
    first = ws.observation("A")
    feed(model, first, *(ws.observation("A") for _ in range(200)))
    assert len(model._ids) == 100
    assert feed(model, first) != set()  # forgotten: only the last 100 ids are remembered


def test_bad_input_is_counted_by_reason_and_never_raises() -> None:
    model = MonitorModel()
    ws = Station("icu", "bed-1")
    obs_topic, obs = ws.observation("A")
    wrong_bed = json.loads(obs)
    wrong_bed["bed"] = "bed-7"
    messages = [
        (obs_topic, b"\xff\x00 not json"), (obs_topic, b"{"), (obs_topic, b"[1, 2]"),
        (obs_topic, b'{"kind": "observation"}'), ("icu/bed-1", obs), ("other/a/b/c/status", obs),
        ("icu/u/b/w/channels/A/weird", obs), (obs_topic, json.dumps(wrong_bed).encode()),
        (ws.topics.observation("B"), obs), (ws.topics.status, obs)]
    for topic, payload in messages:
        assert model.ingest(topic, payload, T0_S) == set()
    assert model.dropped == {NOT_JSON: 2, NOT_SCHEMA: 2, UNKNOWN_TOPIC: 3, TOPIC_MISMATCH: 3}
    assert model.workstations() == [] and model.received == len(messages)


def test_random_junk_never_raises() -> None:
    model = MonitorModel()
    rng = random.Random(7)
    ws = Station("icu", "bed-1")
    good = [ws.observation("A"), ws.status(), ws.active([]), ws.event()]
    for _ in range(2000):
        topic, payload = rng.choice(good)
        cut = rng.randrange(len(payload))
        payload = payload[:cut] + bytes([rng.randrange(256)]) + payload[cut + 1:]
        model.ingest(rng.choice([topic, topic + "/x", "icu/#"]), payload, T0_S)
    assert model.received == 2000


def test_a_future_schema_version_is_ignored_and_counted() -> None:
    model = MonitorModel()
    topic, payload = Station("icu", "bed-1").observation("A")
    future = json.loads(payload)
    future["schema_version"] = 2
    assert model.ingest(topic, json.dumps(future).encode(), T0_S) == set()
    assert model.dropped == {FUTURE_SCHEMA: 1} and model.workstations() == []


def test_alarm_stream_updates_the_list_between_two_lists() -> None:
    model = MonitorModel()
    ws = Station("icu", "bed-1")
    occl, air = ws.alarm_info("occl", raised=0), ws.alarm_info("air", "MEDIUM", raised=5)
    feed(model, ws.active([occl], time=1))
    feed(model, ws.alarm(air, time=6))
    assert [r.text for r in model.alarms(T0_S + 6)] == [occl.text, air.text]
    acked = occl.model_copy(update={"acknowledged": True})
    feed(model, ws.alarm(acked, "acknowledge", time=7), ws.alarm(air, "clear", time=8))
    assert [(r.ref, r.acknowledged) for r in model.alarms(T0_S + 8)] == [(occl.ref, True)]
    feed(model, ws.active([], time=9))  # the list is the authority
    assert model.alarms(T0_S + 9) == []


def test_an_alarm_change_older_than_the_list_cannot_bring_an_alarm_back() -> None:
    """An outbox replaying old changes after the workstation published its current list."""
    model = MonitorModel()
    ws = Station("icu", "bed-1")
    occl = ws.alarm_info("occl")
    feed(model, ws.active([], time=10), ws.alarm(occl, time=3))
    assert model.alarms(T0_S + 10) == [] and model.dropped[OLDER_THAN_LIST] == 1


def test_retained_messages_count_as_heard_when_they_were_sent() -> None:
    model = MonitorModel()
    topic, payload = Station("icu", "bed-1").observation("A", time=0.0)
    model.ingest(topic, payload, T0_S + 3600, retained=True)  # an hour-old retained value
    assert len(model.stale(T0_S + 3600)) == 1
    topic, payload = Station("icu", "bed-2").observation("A", time=3599.0)
    model.ingest(topic, payload, T0_S + 3600, retained=True)
    assert [w.bed for w in model.stale(T0_S + 3600)] == ["bed-1"]


def test_empty_retained_payloads_take_things_out_of_service() -> None:
    model = MonitorModel()
    ws = Station("icu", "bed-1")
    feed(model, ws.status(), ws.observation("A"), ws.observation("B"),
         ws.active([ws.alarm_info("occl")]))
    feed(model, (ws.topics.observation("B"), b""))
    assert list(model.workstations()[0].channels) == ["A"]
    assert feed(model, (ws.topics.active_alarms, b"")) == {ALARMS, ws_key("icu", "bed-1", "ws-1")}
    assert model.alarms(T0_S) == []
    assert WORKSTATIONS in feed(model, (ws.topics.status, b""))
    assert model.workstations() == []


def test_sequence_gaps_are_counted() -> None:
    model = MonitorModel()
    ws = Station("icu", "bed-1")
    feed(model, ws.event(seq=1), ws.event(seq=2), ws.event(seq=5), ws.event(seq=4))
    state = model.workstations()[0]
    assert state.seq_gaps == 2 and state.last_seq == 5


def test_ingest_reports_only_what_changed() -> None:
    model = MonitorModel()
    ws = Station("icu", "bed-1")
    key = ws_key("icu", "bed-1", "ws-1")
    assert feed(model, ws.status()) == {WORKSTATIONS, key}
    assert feed(model, ws.observation("A")) == {key}
    assert feed(model, ws.event()) == set()  # events are not shown
    assert feed(model, ws.active([])) == {key}  # audio state first seen
    assert feed(model, ws.active([])) == set()
