"""The central monitor through a real mosquitto (tests/mqttlab.py): what workstations publish
with aiomqtt reaches the monitor's model, once, also after the broker restarts."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path

from icu_ws import monitor as monitor_cli
from tests.mqttlab import LAB_USERS, Mosquitto, write_secret
from tests.tui.monitor_samples import Station
from tui.monitor.app import MonitorApp
from tui.monitor.feed import CONNECTED, MqttFeed
from tui.monitor.model import DUPLICATE, NOT_JSON, MonitorModel
from workstation.telemetry.connection import BrokerAccess


async def until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out after {timeout} s: {what}"
        await asyncio.sleep(0.02)


async def test_the_monitor_sees_what_workstations_publish(mosquitto: Mosquitto) -> None:
    bed1, bed2 = Station("icu", "bed-1"), Station("icu", "bed-2")
    async with mosquitto.client() as pub:  # retained before the monitor starts
        await pub.publish(*bed1.status(), qos=1, retain=True)
        await pub.publish(*bed1.observation("A"), qos=1, retain=True)
    model = MonitorModel()
    feed = MqttFeed(BrokerAccess.build(mosquitto.url), retry_s=0.1)
    app = MonitorApp(model, feed=feed)
    async with app.run_test(size=(120, 40)):
        await until(lambda: len(model.workstations()) == 1, "the retained status")
        assert app.connection == CONNECTED
        alarm = bed2.alarm(bed2.alarm_info("occl", "HIGH", source="B"))
        async with mosquitto.client() as pub:
            for topic, payload in [bed2.status(), alarm, alarm,
                                   ("icu/icu/bed-2/ws-1/events", b"{")]:
                await pub.publish(topic, payload, qos=1)
            await until(lambda: model.dropped[NOT_JSON] == 1, "the bad event")
            assert [w.bed for w in model.workstations()] == ["bed-1", "bed-2"]
            assert [(r.bed, r.source, r.priority) for r in model.alarms(0)] == [
                ("bed-2", "B", "HIGH")]
            assert model.dropped[DUPLICATE] == 1
            await pub.publish(*bed1.status("offline", reason="connection lost"), qos=1,
                              retain=True)
            await until(lambda: model.workstations()[0].offline, "bed-1 offline")
        # The broker restarts (retained messages gone: persistence off): the feed reconnects
        # by itself and what is published afterwards arrives.
        mosquitto.restart()
        await until(lambda: feed.connects == 2 and app.connection == CONNECTED, "reconnected")
        async with mosquitto.client() as pub:
            await pub.publish(*bed2.observation("C"), qos=1)
        await until(lambda: "C" in model.workstations()[1].channels, "bed-2 C after restart")


async def test_the_monitor_user_reads_every_workstation_through_the_acl(
        mosquitto_acl: Mosquitto, tmp_path: Path) -> None:
    """The example ACL: user "monitor" reads icu/#; ws-1 may publish only its own subtree."""
    password = write_secret(tmp_path / "monitor.pw", LAB_USERS["monitor"])
    access = BrokerAccess.build(mosquitto_acl.url, username="monitor", password_file=password)
    model = MonitorModel()
    states: list[str] = []

    def on_message(topic: str, payload: bytes, retained: bool) -> None:
        model.ingest(topic, payload, 0.0, retained=retained)

    task = asyncio.create_task(MqttFeed(access).run(on_message, states.append))
    try:
        await until(lambda: CONNECTED in states, f"monitor connected: {states}")
        ws1 = Station("icu", "bed-1", "ws-1")
        async with mosquitto_acl.client("ws-1") as pub:
            await pub.publish(*ws1.status(), qos=1)
            await pub.publish(*ws1.active([ws1.alarm_info("occl")]), qos=1)
        await until(lambda: len(model.alarms(0)) == 1, "ws-1's alarm through the ACL")
        assert model.workstations()[0].workstation == "ws-1"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_headless_monitor_prints_summary_lines(mosquitto: Mosquitto) -> None:
    now = time.time()
    bed = Station("icu", "bed-1")
    async with mosquitto.client() as pub:
        for topic, payload in (bed.status(time=now), bed.active([bed.alarm_info("occl")],
                                                                time=now),
                               ("icu/junk", b"x")):
            await pub.publish(topic, payload, qos=1, retain=True)
    out = io.StringIO()
    feed = MqttFeed(BrokerAccess.build(mosquitto.url), retry_s=0.1)
    await monitor_cli.run_headless(MonitorModel(), feed, duration=1.5, status_every_s=0.5,
                                   out=out)
    lines = out.getvalue().splitlines()
    assert f"monitor: broker {mosquitto.url}: connected" in lines, lines
    assert any("monitor: 1 workstations (0 stale, 0 offline); alarms: 1 HIGH; 3 messages" in line
               and "dropped: unknown_topic=1; broker connected" in line for line in lines), lines
