"""The workstation's telemetry through a real mosquitto: alarms arrive, nothing is lost.

Workstations here are the demo's (simulated modules on the ``virtual`` bus, in this process);
the broker and the subscriber are real. Events and alarms are checked the way a consumer must
read them: de-duplicated by ``id``, ordered by ``seq``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pumps.module import Fault
from tests.buslab import free_port
from tests.mqttlab import Mosquitto, Received, Subscriber
from workstation.api import Workstation
from workstation.config import TelemetryConfig, WorkstationConfig, demo_config
from workstation.demo import demo_workstation, module_for, start_demo_infusions
from workstation.telemetry.payloads import AlarmPayload, EventPayload, parse_payload

SPEED = 30.0


def ws_config(tmp_path: Path, url: str, channels: int = 2, **telemetry: Any
              ) -> WorkstationConfig:
    t = TelemetryConfig(enabled=True, url=url, outbox=tmp_path / "outbox.db",
                        **({"observation_period_s": 2.0, "link_lost_alarm_s": 1.0} | telemetry))
    return demo_config(channels, event_log=tmp_path / "events.db", telemetry=t)


@asynccontextmanager
async def running(config: WorkstationConfig, tmp_path: Path
                  ) -> AsyncIterator[tuple[Workstation, list[Any]]]:
    async with demo_workstation(config=config, speed=SPEED,
                                event_log=tmp_path / "events.db") as (ws, racks):
        await asyncio.sleep(1.2)  # modules announce themselves
        yield ws, racks


def kind(name: str) -> Any:
    return lambda m: json.loads(m.payload).get("kind") == name


def history(received: list[Received]) -> list[EventPayload | AlarmPayload]:
    """Events and alarms as a consumer reads them: every id once, in arrival order."""
    seen: set[str] = set()
    out: list[EventPayload | AlarmPayload] = []
    for m in received:
        p = parse_payload(m.payload)
        if isinstance(p, EventPayload | AlarmPayload) and p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


async def until(predicate: Any, timeout: float, what: str) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)
    assert predicate(), what


async def test_a_pump_fault_arrives_as_an_alarm_at_a_subscriber(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    config = ws_config(tmp_path, mosquitto.url)
    async with mosquitto.subscriber("icu/#") as sub, running(config, tmp_path) as (ws, racks):
        assert not await start_demo_infusions(ws)
        module = module_for(config, racks, "A")
        assert module is not None
        module.inject(Fault.OCCLUSION)
        raised = await sub.collect(
            lambda m: kind("alarm")(m) and json.loads(m.payload)["alarm"]["channel"] == "A"
            and json.loads(m.payload)["change"] == "raise", timeout=15)
        alarm = parse_payload(raised[0].payload)
        assert isinstance(alarm, AlarmPayload)
        assert alarm.alarm.priority == "HIGH" and "cclusion" in alarm.alarm.text
        assert (alarm.workstation, alarm.bed) == ("demo", "demo-bed")
        assert raised[0].topic == "icu/icu/demo-bed/demo/alarms" and raised[0].qos == 1
        # The retained active list and the channel's observation say it too.
        await sub.collect(lambda m: m.topic.endswith("/alarms/active") and any(
            a["channel"] == "A" for a in json.loads(m.payload)["alarms"]), timeout=5)
        await sub.collect(lambda m: m.topic.endswith("/channels/A/observation")
                          and json.loads(m.payload)["alarm_priority"] == "HIGH", timeout=5)
        events = [p for p in history(sub.received) if isinstance(p, EventPayload)]
        assert {"program", "program_verified", "start"} <= {e.event.value for e in events}
        status = [parse_payload(m.payload) for m in sub.matching(kind("status"))]
        assert status and status[-1].state == "online"  # type: ignore[union-attr]
    # A clean stop says offline (retained), with its reason.
    async with mosquitto.subscriber("icu/+/+/+/status") as late:
        got = await late.collect(timeout=5)
        assert json.loads(got[-1].payload)["state"] == "offline" and got[-1].retain


async def test_broker_outage_loses_nothing_and_keeps_the_order(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", persistence=True)
    broker.start()
    config = ws_config(tmp_path, broker.url)
    # A persistent session (clean_session false) is how a central station gets what was
    # published while it was away: the broker queues it, also across its own restart.
    consumer = Subscriber(broker.url, "icu/+/+/+/events", "icu/+/+/+/alarms", qos=1,
                          identifier="central-1", clean_session=False)
    try:
        async with consumer, running(config, tmp_path) as (ws, _racks):
            publisher = ws.telemetry
            assert publisher is not None
            await until(lambda: publisher.connected, 5, "connected")
            broker.stop()
            await until(lambda: not publisher.connected, 5, "saw the broker go")
            # While the broker is away: a whole programming sequence and alarms.
            assert not await start_demo_infusions(ws)
            await ws.pause("B")
            await asyncio.sleep(2.0)
            assert len(publisher.outbox) > 10
            bedside = {a.key.condition for a in ws.active_alarms()}
            assert "TELEMETRY_LINK_LOST" in bedside, bedside
            broker.start()
            await until(lambda: publisher.connected and not len(publisher.outbox), 20,
                        "backlog delivered after the broker came back")
            last = publisher.outbox.last_seq
            await consumer.collect(
                lambda m: parse_payload(m.payload).seq == last,  # type: ignore[union-attr]
                timeout=10)
            await until(lambda: "TELEMETRY_LINK_LOST" not in
                        {a.key.condition for a in ws.active_alarms() if a.active}, 5,
                        "link-lost condition cleared")
        got = history(consumer.received)
        seqs = [p.seq for p in got]
        assert seqs == sorted(seqs), "out of order"
        assert seqs == list(range(1, len(seqs) + 1)), "a gap: something was lost"
        assert seqs[-1] >= last
        assert any(p.kind == "event" and p.event.value == "pause" for p in got)  # type: ignore[union-attr]
    finally:
        broker.stop()


def demo_process(tmp_path: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "icu_ws.cli", "demo", "--headless", "--channels", "2",
         "--speed", str(SPEED), "--mqtt", url, "--event-log", str(tmp_path / "events.db"),
         "--status-every", "1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=Path(__file__).resolve().parents[2], env=os.environ | {"PYTHONUNBUFFERED": "1"})


async def test_a_killed_workstation_delivers_its_backlog_after_restart(tmp_path: Path) -> None:
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    first = demo_process(tmp_path, url)  # no broker yet: everything waits in the outbox
    try:
        await until(lambda: (tmp_path / "events-outbox.db").exists(), 20, "outbox created")
        await asyncio.sleep(6.0)  # discovery, programming, start: all queued
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    broker = Mosquitto(tmp_path / "broker", port=port)
    broker.start()
    try:
        async with broker.subscriber("icu/#") as sub:
            second = demo_process(tmp_path, url, "--idle")
            try:
                await sub.collect(lambda m: kind("event")(m)
                                  and b"workstation demo starting" in m.payload,
                                  count=2, timeout=30)
            finally:
                second.terminate()
                out, _ = second.communicate(timeout=15)
        got = history(sub.received)
        seqs = [p.seq for p in got]
        assert seqs == list(range(1, len(seqs) + 1)), f"gap or disorder: {seqs[:40]}"
        messages = [p.message for p in got if isinstance(p, EventPayload)]
        starts = [i for i, m in enumerate(messages) if "workstation demo starting" in m]
        assert len(starts) == 2
        # The first run's programming (queued before the kill) comes before the second start.
        assert any("read-back verified" in m for m in messages[:starts[1]]), messages
        assert second.returncode == 0, out
    finally:
        broker.stop()


async def test_tls_with_user_and_acl_the_production_broker_config(
        mosquitto_secure: Mosquitto, tmp_path: Path) -> None:
    """configs/mosquitto/mosquitto.conf: the workstation logs in as itself over TLS; a
    workstation using another's account is refused by the ACL (nothing arrives)."""
    secret = tmp_path / "ws-1.password"
    secret.write_text(mosquitto_secure.users["ws-1"] + "\n")
    tls = {"username": "ws-1", "password_file": secret, "ca_file": mosquitto_secure.ca_file}
    good = ws_config(tmp_path / "good", mosquitto_secure.url, **tls).model_copy(
        update={"name": "ws-1", "bed": "bed-1"})
    impostor = ws_config(tmp_path / "bad", mosquitto_secure.url, **tls).model_copy(
        update={"name": "ws-2", "bed": "bed-2"})
    async with mosquitto_secure.subscriber("icu/#", user="monitor") as sub:
        for config, sub_dir in ((good, "good"), (impostor, "bad")):
            async with running(config, tmp_path / sub_dir) as (ws, _racks):
                assert ws.telemetry is not None
                await until(lambda: ws.telemetry is not None and ws.telemetry.connected, 10,
                            f"{config.name} connected over TLS")
                await until(lambda: ws.telemetry is not None and not len(ws.telemetry.outbox),
                            10, "outbox delivered (acknowledged by the broker)")
        await sub.barrier()
        senders = {json.loads(m.payload)["workstation"] for m in sub.received}
        assert senders == {"ws-1"}, senders
        assert sub.matching(lambda m: m.topic == "icu/icu/bed-1/ws-1/status")


async def test_backlog_and_dropping_are_bedside_alarms_until_delivered(tmp_path: Path) -> None:
    port = free_port()
    config = ws_config(tmp_path, f"mqtt://127.0.0.1:{port}", channels=1,
                       outbox_max_messages=100, backlog_alarm_s=1.0, link_lost_alarm_s=60.0)
    async with running(config, tmp_path) as (ws, _racks):
        publisher = ws.telemetry
        assert publisher is not None
        for i in range(150):  # no broker: the outbox fills and drops its oldest
            ws.supervisor.record_user_action(f"note {i}", user="rn")

        def conditions() -> set[str]:
            return {a.key.condition for a in ws.active_alarms() if a.active}

        await until(lambda: {"TELEMETRY_DROPPING", "TELEMETRY_BACKLOG"} <= conditions(), 5,
                    "dropping and backlog alarms")
        assert len(publisher.outbox) == 100 and publisher.outbox.dropped_total >= 50
        assert "TELEMETRY_LINK_LOST" not in conditions()  # 60 s not reached
        # The oldest were dropped; the newest wait, in order.
        waiting = [m.payload for m in publisher.outbox.pending(100)]
        assert any(b'"note 149"' in p for p in waiting)
        assert not any(b'"note 0"' in p for p in waiting)
        broker = Mosquitto(tmp_path / "broker", port=port)
        broker.start()
        try:
            await until(lambda: publisher.connected and not len(publisher.outbox), 20,
                        "backlog delivered")
            await until(lambda: not {"TELEMETRY_DROPPING", "TELEMETRY_BACKLOG"}
                        & conditions(), 5, "alarms cleared once delivered")
        finally:
            broker.stop()


async def test_the_nurse_sees_the_link_state_in_the_header(mosquitto: Mosquitto,
                                                           tmp_path: Path) -> None:
    from tui.widgets.station_header import render_header

    config = ws_config(tmp_path, mosquitto.url, channels=1)
    async with running(config, tmp_path) as (ws, _racks):
        publisher = ws.telemetry
        assert publisher is not None
        await until(lambda: publisher.connected, 5, "connected")
        assert "telemetry OK" in render_header(ws, locked=False, width=160).plain
        assert "connected" in publisher.summary()
        mosquitto.stop()
        await until(lambda: not publisher.connected, 5, "saw the broker go")
        assert "telemetry DOWN" in render_header(ws, locked=False, width=160).plain
        assert "NOT CONNECTED" in publisher.summary()
