"""The telemetry publisher: supervisor -> persistent outbox -> MQTT broker (aiomqtt).

Events and alarm changes are written to the SQLite outbox the moment the supervisor records
them, then sent oldest first at QoS 1 and deleted only once the broker acknowledged them: a
broker outage or a workstation crash delays them, never loses them (redelivery may duplicate;
consumers de-duplicate by ``id``). Observations and the active-alarm list are state, not
history: they are coalesced in memory and re-sent, retained, after every reconnect. The link's
health becomes bedside alarms (``health.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from importlib import metadata

import aiomqtt
from pydantic import BaseModel

from channels.events import Event, EventKind
from dbc.shutdown import cancel_and_wait
from workstation.alarms import AlarmChange
from workstation.config import WorkstationConfig
from workstation.snapshot import snapshot
from workstation.supervisor import Notice, Supervisor
from workstation.telemetry.connection import BrokerAccess
from workstation.telemetry.health import Action, TelemetryHealth
from workstation.telemetry.mapping import TelemetryMapper
from workstation.telemetry.outbox import Outbox, OutboxError
from workstation.telemetry.topics import Topics

log = logging.getLogger(__name__)

BATCH = 50  # QoS-1 publishes in flight at once: order is kept by the one TCP connection
HEALTH_PERIOD_S = 1.0
OBSERVATION_MIN_GAP_S = 0.25  # on-change observations are coalesced to 4 per second at most
PUBLISH_TIMEOUT_S = 5.0


def software_version() -> str:
    try:
        return f"icu-ws {metadata.version('icu-infusion-workstation')}"
    except metadata.PackageNotFoundError:
        return "icu-ws (not installed)"


class TelemetryPublisher:
    def __init__(self, supervisor: Supervisor, config: WorkstationConfig, access: BrokerAccess,
                 *, drug_library: str = "", care_area: str = "") -> None:
        t = config.telemetry
        self.supervisor, self.config, self.access = supervisor, config, access
        self.topics = Topics(t.topic_root, config.unit, config.bed, config.name)
        self.mapper = TelemetryMapper(self.topics, clock=supervisor.clock)
        self.outbox = Outbox(t.outbox, max_messages=t.outbox_max_messages)
        self.health = TelemetryHealth(t.link_lost_alarm_s, t.backlog_alarm_s)
        self._drug_library, self._care_area = drug_library, care_area
        self._outbox_ok = False
        self._queued = asyncio.Event()  # the outbox has something new
        self._changed = asyncio.Event()  # channels or alarms changed: state to re-send
        self._dirty: set[str] = set(supervisor.controllers)
        self._active_dirty = True
        self._dropped_new = 0
        self._failures = 0  # outbox writes that failed since the last health check
        self._client: aiomqtt.Client | None = None
        self._client_was_up = False
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = 0
        self.connects = 0
        self.last_error = ""

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def broker(self) -> str:
        return str(self.access.url)

    def summary(self) -> str:
        """One line for diagnostics: where, whether connected, what waits, what was lost."""
        state = "connected" if self.connected else f"NOT CONNECTED ({self.last_error or 'trying'})"
        waiting = len(self.outbox) if self._outbox_ok else 0
        dropped = self.outbox.dropped_total if self._outbox_ok else 0
        return (f"telemetry {self.broker}: {state} · {self.sent} sent · {waiting} waiting"
                + (f" · {dropped} dropped" if dropped else ""))

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            self.outbox.open()
            self._outbox_ok = True
        except OutboxError as exc:
            # Telemetry without its outbox would lose events silently: say so, go on without.
            self._failures += 1
            self._note(f"telemetry outbox unusable, events are not published: {exc}")
        self.health.started(self.supervisor.clock())
        self.supervisor.event_sinks.append(self._on_event)
        self.supervisor.listeners.append(self._on_notice)
        self._tasks = [asyncio.create_task(self._run(), name="telemetry"),
                       asyncio.create_task(self._health_loop(), name="telemetry-health")]

    async def stop(self, flush_s: float = 2.0) -> None:
        """Deliver what is waiting (bounded), say offline, disconnect; the rest stays in the
        outbox for the next start."""
        deadline = time.monotonic() + flush_s
        # From here on no "online" status may follow the "offline" one below: the retained
        # status would otherwise say online after a clean stop.
        self._stopping = True
        while self.connected and len(self.outbox) and time.monotonic() < deadline:
            self._queued.set()
            await asyncio.sleep(0.02)
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self.topics.status, self._status_json("offline", "stopped"),
                                     qos=1, retain=True, timeout=1.0)
        with contextlib.suppress(ValueError):
            self.supervisor.event_sinks.remove(self._on_event)
        with contextlib.suppress(ValueError):
            self.supervisor.listeners.remove(self._on_notice)
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        self.outbox.close()
        self._outbox_ok = False

    # -- from the supervisor (synchronous, in its loop) ----------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.ALARM:
            return  # the alarm stream carries these
        self._put(self.topics.events, lambda seq: _json(self.mapper.event(event, seq)))

    def _on_notice(self, notice: Notice) -> None:
        for change in notice.alarm_changes:
            self._alarm_change(change)
        if notice.alarm_changes:
            self._active_dirty = True
        # A channel's alarm fields change with its own alarms only (WS alarms are in no card).
        self._dirty.update(c.alarm.key.source for c in notice.alarm_changes
                           if c.alarm is not None and c.alarm.key.source in
                           self.supervisor.controllers)
        self._dirty.update(notice.channels)
        self._changed.set()

    def _alarm_change(self, change: AlarmChange) -> None:
        if change.alarm is None:
            return  # audio pause/resume: carried by the active list
        self._put(self.topics.alarms, lambda seq: _json(self.mapper.alarm(change, seq)))

    def _put(self, topic: str, payload_for: Callable[[int], bytes]) -> None:
        if not self._outbox_ok:
            self._failures += 1
            return
        try:
            result = self.outbox.put(topic, payload_for)
        except (OutboxError, ValueError, TypeError) as exc:  # a payload we cannot build: lost
            self._failures += 1
            self.last_error = str(exc)
            log.error("telemetry: message for %s not queued: %s", topic, exc)
            return
        self._dropped_new += result.dropped
        self._queued.set()

    # -- the connection ------------------------------------------------------------------------
    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._session()
            except Exception as exc:  # the link must come back, whatever broke it
                leaf = _first_leaf(exc)
                if not isinstance(leaf, aiomqtt.MqttError | OutboxError | OSError):
                    log.error("telemetry session failed", exc_info=leaf)
                self._disconnected(f"{type(leaf).__name__}: {leaf}" if not isinstance(
                    leaf, aiomqtt.MqttError) else str(leaf))
            if self._client_was_up:
                delay = 0.5  # a link that was up: try again soon
            self._client_was_up = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _session(self) -> None:
        """One connection, until it breaks: status online, then serve."""
        will = aiomqtt.Will(self.topics.status, self._status_json("offline", "link lost"),
                            qos=1, retain=True)
        client = self.access.client(identifier=f"icu-ws-{self.config.name}", will=will,
                                    keepalive=self.config.telemetry.keepalive_s)
        client.pending_calls_threshold = 2 * BATCH  # our batches are deliberate
        async with client:
            await client.publish(self.topics.status, self._status_json("online"),
                                 qos=1, retain=True, timeout=PUBLISH_TIMEOUT_S)
            self._connected(client)
            self._client_was_up = True
            async with asyncio.TaskGroup() as group:
                group.create_task(self._watch(client))
                group.create_task(self._deliver(client))
                group.create_task(self._publish_state(client))

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Raises MqttError as soon as the connection drops (we subscribe to nothing)."""
        async for _ in client.messages:
            pass

    def _connected(self, client: aiomqtt.Client) -> None:
        self._client = client
        self.connects += 1
        self._active_dirty = True
        self._dirty.update(self.supervisor.controllers)  # retained state may be stale
        self._note(f"telemetry connected to {self.broker}; {len(self.outbox)} messages waiting")

    def _disconnected(self, reason: str) -> None:
        was = self._client is not None
        self._client = None
        self.last_error = reason
        if was:
            self._note(f"telemetry link to {self.broker} lost: {reason}; "
                       f"{len(self.outbox)} messages waiting")
        else:
            log.info("telemetry: cannot reach %s: %s", self.broker, reason)

    async def _deliver(self, client: aiomqtt.Client) -> None:
        """Events and alarms, the moment they are queued: never behind a state update that
        waits for its acknowledgement."""
        while True:
            self._queued.clear()
            await self._drain(client)
            await self._queued.wait()

    async def _publish_state(self, client: aiomqtt.Client) -> None:
        """The active-alarm list on change; the status and every observation each period;
        changed observations at most every OBSERVATION_MIN_GAP_S."""
        period = self.config.telemetry.observation_period_s
        next_round = time.monotonic()
        last_obs = 0.0
        while True:
            self._changed.clear()
            if self._active_dirty:
                self._active_dirty = False
                alarms = self.supervisor.alarms
                audio = alarms.indicator(self.supervisor.clock()).audio
                # Alarm messages up to this seq are reflected, whether delivered yet or not.
                through = self.outbox.last_seq if self._outbox_ok else 0
                active = self.mapper.active_alarms(alarms.active(), audio, through_seq=through)
                await client.publish(self.topics.active_alarms, _json(active), qos=1,
                                     retain=True, timeout=PUBLISH_TIMEOUT_S)
            if self._stopping:
                return  # stop() says offline; state updates end here
            now = time.monotonic()
            if now >= next_round:
                self._dirty.update(self.supervisor.controllers)
                next_round = now + period
                # The status too: a monitor tells silent from alive even with no channels.
                await client.publish(self.topics.status, self._status_json("online"), qos=1,
                                     retain=True, timeout=PUBLISH_TIMEOUT_S)
            if self._dirty and now - last_obs >= OBSERVATION_MIN_GAP_S:
                last_obs = now
                await self._observations(client)
            wait = next_round - now
            if self._dirty:
                wait = min(wait, OBSERVATION_MIN_GAP_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=max(wait, 0.01))

    async def _drain(self, client: aiomqtt.Client) -> None:
        while self._outbox_ok and (batch := self.outbox.pending(BATCH)):
            await asyncio.gather(*(client.publish(m.topic, m.payload, qos=1, retain=m.retain,
                                                  timeout=PUBLISH_TIMEOUT_S) for m in batch))
            self.outbox.delivered(batch[-1].seq)
            self.sent += len(batch)

    async def _observations(self, client: aiomqtt.Client) -> None:
        letters, self._dirty = self._dirty, set()
        alarms = self.supervisor.alarms.active()
        for letter in sorted(letters):
            controller = self.supervisor.controllers.get(letter)
            if controller is None:
                continue
            payload = _json(self.mapper.observation(snapshot(controller, alarms)))
            # QoS 0: an observation is superseded by the next one; retained for new monitors.
            await client.publish(self.topics.observation(letter), payload, qos=0, retain=True)

    # -- health ----------------------------------------------------------------------------------
    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_PERIOD_S)
            self.check_health()

    def check_health(self) -> None:
        now = self.supervisor.clock()
        oldest = self.outbox.oldest_created_at() if self._outbox_ok else None
        dropped, self._dropped_new = self._dropped_new + self._failures, 0
        self._failures = 0
        for decision in self.health.update(
                now, connected=self.connected, backlog=len(self.outbox) if self._outbox_ok
                else 0, oldest_age_s=None if oldest is None else time.time() - oldest,
                dropped=dropped, broker=self.broker):
            self.supervisor.workstation_condition(decision.condition,
                                                  decision.action is Action.RAISE,
                                                  decision.detail)
            if decision.action is Action.RAISE:
                self._note(f"telemetry: {decision.condition}: {decision.detail}")

    def _note(self, message: str) -> None:
        log.info("%s", message)
        self.supervisor.record(Event(EventKind.SYSTEM, message))

    def _status_json(self, state: str, reason: str = "") -> bytes:
        return _json(self.mapper.status(
            state, reason=reason, software=software_version(), drug_library=self._drug_library,
            care_area=self._care_area, channels=list(self.supervisor.controllers),
            observation_period_s=self.config.telemetry.observation_period_s,
            bus=self.supervisor.bus_monitor.figures(),  # issue 10, B8
            frame_errors=dict(self.supervisor.frame_errors)))


def _first_leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups of a TaskGroup."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _json(payload: BaseModel | None) -> bytes:
    if payload is None:
        raise ValueError("no payload for this change")
    return payload.model_dump_json(exclude_none=False).encode()

