"""Supervisor vocabulary -> telemetry payloads, and the payloads against their JSON Schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from channels.events import Event, EventKind
from workstation.alarms import AlarmKey, AlarmSystem, AudioState, Priority
from workstation.telemetry.mapping import TelemetryMapper, classify
from workstation.telemetry.payloads import (
    AlarmChangeType,
    InfusionEventType,
    parse_payload,
)
from workstation.telemetry.schemas import main as schemas_main
from workstation.telemetry.topics import Stream, Topics, parse_topic

TOPICS = Topics("icu", "icu-3", "bed-7", "ws-7")


def mapper(now: list[float]) -> TelemetryMapper:
    return TelemetryMapper(TOPICS, boot_id="boot1", clock=lambda: now[0],
                           wall=lambda: 1_800_000_000.0 + now[0])


def state(before: str | None, before_mode: str | None, after: str, mode: str) -> Event:
    return Event(EventKind.STATE, "x", channel="A",
                 data={"state": after, "mode": mode, "previous_state": before,
                       "previous_mode": before_mode})


@pytest.mark.parametrize(("event", "expected"), [
    (state(None, None, "IDLE", "NONE"), InfusionEventType.OTHER),
    (state("IDLE", "NONE", "INFUSING", "PRIMARY"), InfusionEventType.START),
    (state("PAUSED", "NONE", "INFUSING", "PRIMARY"), InfusionEventType.START),
    (state("INFUSING", "PRIMARY", "INFUSING", "SECONDARY"), InfusionEventType.SECONDARY_START),
    (state("INFUSING", "SECONDARY", "INFUSING", "PRIMARY"), InfusionEventType.SECONDARY_END),
    (state("INFUSING", "PRIMARY", "INFUSING", "BOLUS"), InfusionEventType.BOLUS_START),
    (state("INFUSING", "BOLUS", "INFUSING", "PRIMARY"), InfusionEventType.BOLUS_END),
    (state("INFUSING", "PRIMARY", "KVO", "PRIMARY"), InfusionEventType.KVO),
    (state("INFUSING", "PRIMARY", "COMPLETE", "NONE"), InfusionEventType.COMPLETE),
    (state("INFUSING", "PRIMARY", "PAUSED", "NONE"), InfusionEventType.PAUSE),
    (state("PAUSED", "NONE", "PROGRAMMED", "NONE"), InfusionEventType.STOP),
    (state("INFUSING", "PRIMARY", "ALARM", "NONE"), InfusionEventType.ALARM_STOP),
    (Event(EventKind.PROGRAM, "s", data={"step": "sent"}), InfusionEventType.PROGRAM),
    (Event(EventKind.PROGRAM, "v", data={"step": "verified"}),
     InfusionEventType.PROGRAM_VERIFIED),
    (Event(EventKind.PROGRAM, "t", data={"step": "active", "titration": True}),
     InfusionEventType.TITRATION),
    (Event(EventKind.PROGRAM, "a", data={"step": "active", "titration": False}),
     InfusionEventType.PROGRAM_ACTIVE),
    (Event(EventKind.PROGRAM, "b", data={"step": "blocked"}), InfusionEventType.OTHER),
    (Event(EventKind.OVERRIDE, "o"), InfusionEventType.OVERRIDE),
    (Event(EventKind.USER, "locked"), InfusionEventType.USER),
])
def test_event_classification(event: Event, expected: InfusionEventType) -> None:
    assert classify(event) is expected


def test_event_payload_keeps_the_log_entry_and_validates() -> None:
    m = mapper([5.0])
    ev = Event(EventKind.PROGRAM, "A: primary sent: Heparin", channel="A", user="rn-1",
               data={"step": "sent", "plan": {"rate_ml_h": 4.2}, "odd": object()})
    payload = m.event(ev, seq=42)
    assert payload is not None
    back = parse_payload(payload.model_dump_json())
    assert back == payload
    assert (back.kind, back.seq, back.event, back.channel, back.user) == \
        ("event", 42, InfusionEventType.PROGRAM, "A", "rn-1")
    assert back.data["plan"] == {"rate_ml_h": 4.2}
    assert isinstance(back.data["odd"], str)  # not JSON: stored as text, never a crash
    assert m.event(Event(EventKind.ALARM, "A/OCCLUSION raised"), seq=1) is None


def test_alarm_life_cycle_maps_to_raise_acknowledge_clear_with_utc_times() -> None:
    now = [100.0]
    m, alarms = mapper(now), AlarmSystem(audio_pause_s=120, escalation_s=300)
    key = AlarmKey("B", "OCCLUSION")
    raised = alarms.raise_(key, Priority.HIGH, "Occlusion downstream", 100.0, latching=True)
    now[0] = 103.0
    acked = alarms.acknowledge(raised[0].alarm.id, 103.0, user="rn-2")  # type: ignore[union-attr]
    cleared = alarms.clear(key, 104.0)
    payloads = [m.alarm(c, seq=i) for i, c in enumerate(raised + acked + cleared, 1)]
    kinds = [p.change for p in payloads if p is not None]
    assert kinds[0] is AlarmChangeType.RAISE and AlarmChangeType.ACKNOWLEDGE in kinds
    assert kinds[-1] is AlarmChangeType.CLEAR
    first = payloads[0]
    assert first is not None
    assert first.alarm.priority == "HIGH" and first.alarm.channel == "B"
    assert first.alarm.ref == "ws-7:boot1:1"
    assert first.alarm.raised_at == datetime.fromtimestamp(1_800_000_100.0, UTC)
    ack = next(p for p in payloads if p and p.change is AlarmChangeType.ACKNOWLEDGE)
    assert ack.alarm.acknowledged_by == "rn-2"
    for p in payloads:
        assert p is not None and parse_payload(p.model_dump_json()) == p


def test_workstation_alarms_have_no_channel_and_audio_changes_no_alarm_message() -> None:
    m, alarms = mapper([0.0]), AlarmSystem(audio_pause_s=120, escalation_s=300)
    changes = alarms.raise_(AlarmKey("WS", "TELEMETRY_BACKLOG"), Priority.LOW, "late", 0.0)
    payload = m.alarm(changes[0], seq=1)
    assert payload is not None and payload.alarm.channel is None
    assert payload.alarm.source == "WS"
    paused = alarms.audio_pause(1.0)
    assert paused and all(m.alarm(c, seq=2) is None for c in paused)
    active = m.active_alarms(alarms.active(), AudioState.PAUSED)
    assert active.audio == "paused" and [a.condition for a in active.alarms] == \
        ["TELEMETRY_BACKLOG"]


def test_every_message_gets_its_own_id() -> None:
    m = mapper([0.0])
    ids = {m.status("online").id for _ in range(100)}
    assert len(ids) == 100


def test_topics_round_trip_and_reject_foreign_levels() -> None:
    assert parse_topic(TOPICS.observation("AB")) is not None
    parsed = parse_topic(TOPICS.observation("AB"))
    assert parsed is not None and (parsed.stream, parsed.channel) == (Stream.OBSERVATION, "AB")
    assert parse_topic(TOPICS.active_alarms).stream is Stream.ACTIVE_ALARMS  # type: ignore[union-attr]
    assert parse_topic("icu/a/b") is None
    assert parse_topic("other/icu-3/bed-7/ws-7/status") is None
    with pytest.raises(ValueError, match="bed"):
        Topics("icu", "u", "bed/1", "ws")


def test_published_schemas_match_the_models() -> None:
    assert schemas_main(["--check"]) == 0, "run: python -m workstation.telemetry.schemas"


def test_payloads_validate_against_the_published_json_schema() -> None:
    from workstation.telemetry.schemas import SCHEMA_DIR

    m, alarms = mapper([0.0]), AlarmSystem(audio_pause_s=120, escalation_s=300)
    change = alarms.raise_(AlarmKey("C", "AIR_IN_LINE"), Priority.HIGH, "Air", 0.0)[0]
    samples = {
        "status": m.status("online", channels=["A", "B"], observation_period_s=10),
        "event": m.event(Event(EventKind.USER, "locked", user="rn"), seq=3),
        "alarm": m.alarm(change, seq=4),
        "active_alarms": m.active_alarms(alarms.active(), AudioState.ON),
    }
    for kind, payload in samples.items():
        assert payload is not None
        schema = json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text())
        jsonschema.validate(json.loads(payload.model_dump_json()), schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads(payload.model_dump_json()) | {"id": ""}, schema)
