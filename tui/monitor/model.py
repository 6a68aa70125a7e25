"""What the central monitor knows about every workstation, built from MQTT messages. Pure.

``MonitorModel.ingest(topic, payload, now)`` takes one received message and returns the keys of
what changed (``WORKSTATIONS``, ``ALARMS``, ``ws:{unit}/{bed}/{workstation}``); nothing here
knows Textual or MQTT, so it is tested with plain bytes and an injected clock. ``now`` is the
wall clock (``time.time()``): alarm ages are measured against the workstations' UTC
``raised_at``, and silence against the receive times.

Ingest is O(1) per message (a dict update, a dedup lookup); sorting happens in the queries and
is cached until something changes. Bad input is counted by reason and never raises.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

from pydantic import ValidationError

from tui.monitor.records import RANK, AlarmRow, IdWindow, WorkstationState, natural, ws_key
from workstation.telemetry.payloads import (
    SCHEMA_VERSION,
    ActiveAlarmsPayload,
    AlarmChangeType,
    AlarmPayload,
    EventPayload,
    ObservationPayload,
    StatusPayload,
    parse_payload,
)
from workstation.telemetry.topics import ParsedTopic, Stream, parse_topic

__all__ = ["AlarmRow", "MonitorModel", "WorkstationState", "ws_key"]

WORKSTATIONS = "workstations"  # a workstation appeared or was forgotten: the list changed
ALARMS = "alarms"  # the alarm list across workstations changed
MIN_STALE_S = 30.0
STALE_PERIODS = 3  # observations missed before a workstation counts as silent
DEDUP_IDS = 100_000
# The payload kind each stream must carry: anything else on that topic is not ours.
KIND_OF = {Stream.STATUS: "status", Stream.OBSERVATION: "observation", Stream.EVENTS: "event",
           Stream.ALARMS: "alarm", Stream.ACTIVE_ALARMS: "active_alarms"}
_TOPIC_CACHE_MAX = 200_000  # bounded: a flood of odd topics must not grow memory

# Reasons a message was dropped (keys of ``MonitorModel.dropped``).
NOT_JSON = "not_json"
NOT_SCHEMA = "not_schema"
FUTURE_SCHEMA = "future_schema"
UNKNOWN_TOPIC = "unknown_topic"
TOPIC_MISMATCH = "topic_mismatch"  # payload names another workstation/channel than its topic
DUPLICATE = "duplicate"
OLDER_THAN_LIST = "alarm_change_older_than_list"  # a replayed change the active list covers


class MonitorModel:
    def __init__(self, *, root: str = "icu", stale_after_s: float | None = None,
                 dedup_ids: int = DEDUP_IDS) -> None:
        self.root = root
        self.stale_after_s = stale_after_s  # None: from each workstation's observation period
        self.received = 0  # every message handed to ingest, good or bad
        self.dropped: Counter[str] = Counter()
        self._ids = IdWindow(dedup_ids)
        self._ws: dict[str, WorkstationState] = {}
        self._topics: dict[str, ParsedTopic | None] = {}
        self._sorted_ws: list[WorkstationState] | None = None
        self._sorted_alarms: list[AlarmRow] | None = None

    # -- ingest ------------------------------------------------------------------------------
    def ingest(self, topic: str, payload: bytes, now: float, *, retained: bool = False
               ) -> set[str]:
        """Apply one message; returns what changed (empty for duplicates and bad input).
        ``retained``: the broker replayed it on subscribe, so it says nothing about whether
        the workstation is alive now; its own ``time`` is used as when it was heard."""
        self.received += 1
        where = self._parse_topic(topic)
        if where is None:
            self.dropped[UNKNOWN_TOPIC] += 1
            return set()
        if not payload:
            return self._cleared(where)
        try:
            msg = parse_payload(payload)
        except ValidationError as exc:
            if where.stream is Stream.STATUS and payload.strip().lower() == b"offline":
                return self._plain_offline(where, now)
            self.dropped[_reason(payload, exc)] += 1
            return set()
        if (msg.kind != KIND_OF[where.stream] or msg.unit != where.unit or msg.bed != where.bed
                or msg.workstation != where.workstation
                or (isinstance(msg, ObservationPayload) and msg.channel != where.channel)):
            self.dropped[TOPIC_MISMATCH] += 1
            return set()
        ws = self._ws.get(ws_key(where.unit, where.bed, where.workstation))
        # A last will's payload (and so its id) is fixed when the workstation connects and is
        # sent again at each disconnection: status is de-duplicated against the current one
        # only, as re-applying the same status changes nothing.
        if isinstance(msg, StatusPayload):
            if ws is not None and ws.status is not None and ws.status.id == msg.id:
                self.dropped[DUPLICATE] += 1
                return set()
        elif self._ids.seen(msg.id):
            self.dropped[DUPLICATE] += 1
            return set()
        changed: set[str] = set()
        if ws is None:
            ws = self._add(where, now, changed)
        ws.messages += 1
        heard = min(now, msg.time.timestamp()) if retained else now
        ws.last_heard = max(ws.last_heard, heard)
        if isinstance(msg, ObservationPayload):
            ws.channels[msg.channel] = msg
            changed.add(ws.key)
        elif isinstance(msg, StatusPayload):
            self._status(ws, msg, now, changed)
        elif isinstance(msg, ActiveAlarmsPayload):
            self._active_list(ws, msg, changed)
        elif isinstance(msg, AlarmPayload):
            self._seq(ws, msg.seq)
            self._alarm_change(ws, msg, changed)
        elif isinstance(msg, EventPayload):
            self._seq(ws, msg.seq)
        return changed

    def _parse_topic(self, topic: str) -> ParsedTopic | None:
        try:
            return self._topics[topic]
        except KeyError:
            where = parse_topic(topic, self.root)
            if len(self._topics) < _TOPIC_CACHE_MAX:
                self._topics[topic] = where
            return where

    def _add(self, where: ParsedTopic, now: float, changed: set[str]) -> WorkstationState:
        key = ws_key(where.unit, where.bed, where.workstation)
        ws = WorkstationState(key, where.unit, where.bed, where.workstation, first_heard=now,
                              state_since=now)
        self._ws[key] = ws
        self._sorted_ws = None
        changed.update((WORKSTATIONS, key))
        return ws

    def _status(self, ws: WorkstationState, msg: StatusPayload, now: float,
                changed: set[str]) -> None:
        if msg.state != ws.state:
            ws.state_since = now
            if ws.alarms:
                changed.add(ALARMS)  # its alarm rows say OFFLINE: they may be out of date
        ws.status, ws.state = msg, msg.state
        changed.add(ws.key)

    def _plain_offline(self, where: ParsedTopic, now: float) -> set[str]:
        """A last will sent as the bare text ``offline`` rather than a StatusPayload."""
        key = ws_key(where.unit, where.bed, where.workstation)
        ws = self._ws.get(key)
        changed: set[str] = set()
        if ws is None:
            ws = self._add(where, now, changed)
        ws.last_heard = max(ws.last_heard, now)
        if ws.state != "offline":
            ws.state, ws.state_since = "offline", now
            changed.add(key)
            if ws.alarms:
                changed.add(ALARMS)
        return changed

    def _active_list(self, ws: WorkstationState, msg: ActiveAlarmsPayload,
                     changed: set[str]) -> None:
        alarms = {a.ref: a for a in msg.alarms}
        ws.list_time = msg.time
        if msg.audio != ws.audio:
            ws.audio = msg.audio
            changed.add(ws.key)
        if alarms != ws.alarms:
            ws.alarms = alarms
            self._alarms_changed(ws, changed)

    def _alarm_change(self, ws: WorkstationState, msg: AlarmPayload, changed: set[str]) -> None:
        # The active list has no seq: a change older than the last list is already in it (or
        # replayed from an outbox after it) and must not bring back a cleared alarm.
        if ws.list_time is not None and msg.time < ws.list_time:
            self.dropped[OLDER_THAN_LIST] += 1
            return
        ref = msg.alarm.ref
        if msg.change is AlarmChangeType.CLEAR:
            if ws.alarms.pop(ref, None) is None:
                return
        elif ws.alarms.get(ref) == msg.alarm:
            return
        else:
            ws.alarms[ref] = msg.alarm
        self._alarms_changed(ws, changed)

    def _alarms_changed(self, ws: WorkstationState, changed: set[str]) -> None:
        self._sorted_alarms = None
        changed.update((ALARMS, ws.key))

    @staticmethod
    def _seq(ws: WorkstationState, seq: int) -> None:
        if ws.last_seq and seq > ws.last_seq + 1:
            ws.seq_gaps += seq - ws.last_seq - 1
        ws.last_seq = max(ws.last_seq, seq)

    def _cleared(self, where: ParsedTopic) -> set[str]:
        """An empty payload deletes a retained message: a channel, a list or a workstation
        taken out of service."""
        key = ws_key(where.unit, where.bed, where.workstation)
        ws = self._ws.get(key)
        if ws is None:
            return set()
        if where.stream is Stream.STATUS:
            del self._ws[key]
            self._sorted_ws = self._sorted_alarms = None
            return {WORKSTATIONS, ALARMS, key}
        if where.stream is Stream.OBSERVATION and where.channel in ws.channels:
            del ws.channels[where.channel]
            return {key}
        if where.stream is Stream.ACTIVE_ALARMS and ws.alarms:
            ws.alarms = {}
            self._sorted_alarms = None
            return {ALARMS, key}
        return set()

    # -- queries -----------------------------------------------------------------------------
    def workstation(self, key: str) -> WorkstationState | None:
        return self._ws.get(key)

    def workstations(self) -> list[WorkstationState]:
        """Every workstation heard of, by unit, bed, then name."""
        if self._sorted_ws is None:
            self._sorted_ws = sorted(self._ws.values(),
                                     key=lambda w: (w.unit, natural(w.bed), w.workstation))
        return self._sorted_ws

    def stale_after(self, ws: WorkstationState) -> float:
        if self.stale_after_s is not None:
            return self.stale_after_s
        period = ws.status.observation_period_s if ws.status is not None else None
        return max(MIN_STALE_S, STALE_PERIODS * period) if period else MIN_STALE_S

    def condition(self, ws: WorkstationState, now: float) -> str:
        """OFFLINE (its status says so), STALE (silent too long) or ONLINE."""
        if ws.offline:
            return "OFFLINE"
        if now - ws.last_heard > self.stale_after(ws):
            return "STALE"
        return "ONLINE"

    def stale(self, now: float) -> list[WorkstationState]:
        """Workstations whose data cannot be trusted now: offline, or silent too long."""
        return [w for w in self.workstations() if self.condition(w, now) != "ONLINE"]

    def alarms(self, now: float) -> list[AlarmRow]:
        """Every active alarm of every workstation: HIGH first, then the oldest first."""
        if self._sorted_alarms is None:
            rows = [AlarmRow.of(ws, a) for ws in self._ws.values() for a in ws.alarms.values()]
            rows.sort(key=lambda r: (-RANK.get(r.priority, -1), r.raised_at, r.ws_key, r.ref))
            self._sorted_alarms = rows
        conditions: dict[str, str] = {}
        out = []
        for row in self._sorted_alarms:
            cond = conditions.get(row.ws_key)
            if cond is None:
                cond = conditions[row.ws_key] = self.condition(self._ws[row.ws_key], now)
            out.append(replace(row, age_s=max(0.0, now - row.raised_at), ws_condition=cond))
        return out

    def counts(self) -> Counter[str]:
        """Active alarms by priority name."""
        return Counter(a.priority for ws in self._ws.values() for a in ws.alarms.values())


def _reason(payload: bytes, exc: ValidationError) -> str:
    """Why a payload failed validation; only the failure path pays for a second parse."""
    if exc.errors()[0]["type"] == "json_invalid":
        return NOT_JSON
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return NOT_JSON
    if isinstance(data, dict):
        version = data.get("schema_version")
        if isinstance(version, int) and not isinstance(version, bool) and \
                version > SCHEMA_VERSION:
            return FUTURE_SCHEMA
    return NOT_SCHEMA
