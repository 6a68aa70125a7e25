"""The brokers, for real: mosquitto (plain, TLS, the example ACL and config) through aiomqtt,
the demo's embedded amqtt broker, and BrokerAccess (connection.py) against the lab."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import aiomqtt
import pytest

from dbc.errors import ConfigError
from tests.buslab import free_port
from tests.mqttlab import (
    EXAMPLE_ACL,
    LAB_USERS,
    Mosquitto,
    Received,
    Subscriber,
    TlsMaterial,
    write_secret,
)
from workstation.telemetry.connection import BrokerAccess
from workstation.telemetry.embedded_broker import BrokerStartError, EmbeddedBroker

WS1_STATUS = "icu/icu/bed-1/ws-1/status"
WS2_STATUS = "icu/icu/bed-2/ws-2/status"


async def test_plain_pubsub_qos1_in_order_and_retained(mosquitto: Mosquitto) -> None:
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    async with mosquitto.subscriber("icu/#") as sub:
        async with mosquitto.client() as pub:
            for i in range(20):
                await pub.publish("icu/icu/bed-1/ws-1/events", f"e{i}".encode(), qos=1)
            await pub.publish(WS1_STATUS, b"online", qos=1, retain=True)
            await pub.publish("icu/icu/bed-1/ws-1/alarms", b"q0", qos=0)
        events = await sub.collect(lambda m: m.topic.endswith("/events"), count=20)
        assert [m.payload for m in events] == [f"e{i}".encode() for i in range(20)]
        assert {(m.qos, m.retain) for m in events} == {(1, False)}
        # mosquitto keeps the publish QoS (min with the subscription's); amqtt does not
        [q0] = await sub.collect(lambda m: m.payload == b"q0")
        assert q0.qos == 0
    async with mosquitto.subscriber("icu/+/+/+/status") as late:
        assert await late.collect() == [Received(WS1_STATUS, b"online", 1, True)]


async def test_stop_fails_the_client_and_a_restart_on_the_same_port_serves_it_again(
        mosquitto: Mosquitto) -> None:
    url, first_pid = mosquitto.url, mosquitto.pid
    client = mosquitto.client(identifier="ws-1")
    async with mosquitto.subscriber("icu/#") as sub:
        with pytest.raises(aiomqtt.MqttError):
            async with client:
                mosquitto.stop()
                assert not mosquitto.running
                async with asyncio.timeout(3):  # the broker closed the connection
                    async for _ in client.messages:
                        pass
        with pytest.raises(aiomqtt.MqttError, match="refused"):
            async with client:
                pass
        mosquitto.start()
        assert (mosquitto.url, mosquitto.running) == (url, True)
        assert mosquitto.pid != first_pid
        await sub.wait_connected(2)  # the subscriber's own reconnect loop
        async with client:  # the same Client object, as in aiomqtt's reconnect loop
            await client.publish(WS1_STATUS, b"back", qos=1)
        [back] = await sub.collect(lambda m: m.payload == b"back")
        assert back.qos == 1


async def test_persistence_keeps_retained_and_queued_messages_across_a_restart(
        tmp_path: Path) -> None:
    with Mosquitto(tmp_path / "persistent", persistence=True) as broker:
        durable = Subscriber(broker.url, "icu/+/+/+/events", identifier="central-1",
                             clean_session=False)
        async with durable:
            pass  # the broker now keeps central-1's session and queues for it
        async with broker.client() as pub:
            await pub.publish(WS1_STATUS, b"online", qos=1, retain=True)
            await pub.publish("icu/icu/bed-1/ws-1/events", b"while away", qos=1)
        broker.restart()
        async with durable:
            [queued] = await durable.collect()
            assert queued.payload == b"while away"
        async with broker.subscriber("icu/+/+/+/status") as late:
            assert [m.payload for m in await late.collect()] == [b"online"]


async def test_restart_keeps_the_port_when_run_twice(mosquitto: Mosquitto) -> None:
    port = mosquitto.port
    for _ in range(2):
        mosquitto.restart()
        assert mosquitto.port == port and mosquitto.running
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


def test_a_broker_that_cannot_start_raises_with_its_log_and_leaves_no_process(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    second = Mosquitto(tmp_path / "second", port=mosquitto.port)
    with pytest.raises(RuntimeError, match=rf"(?s)127\.0\.0\.1:{mosquitto.port}.*in use"):
        second.start()
    assert not second.running and second.pid is None
    assert mosquitto.running  # the first one is untouched


async def test_tls_verifies_the_broker_with_the_ca_file_and_refuses_without(
        mosquitto_tls: Mosquitto, tmp_path: Path) -> None:
    assert mosquitto_tls.url == f"mqtts://localhost:{mosquitto_tls.port}"
    async with mosquitto_tls.subscriber("icu/#") as sub:  # via the url: localhost
        async with mosquitto_tls.client(host="127.0.0.1") as pub:  # the IP is in the cert too
            await pub.publish(WS1_STATUS, b"over tls", qos=1)
        await sub.collect(lambda m: m.payload == b"over tls")
    port = mosquitto_tls.port
    system_cas = ssl.create_default_context()
    with pytest.raises(aiomqtt.MqttError, match="CERTIFICATE_VERIFY_FAILED"):
        async with aiomqtt.Client("localhost", port, tls_context=system_cas, timeout=2):
            pass
    # plain MQTT to the TLS listener: the broker drops it, aiomqtt waits for its timeout
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", port, timeout=0.5):
            pass
    # hostname checking is on: a certificate for another name is refused
    other = Mosquitto(tmp_path / "other-name", tls=TlsMaterial(tmp_path / "other-tls",
                                                               ("broker.example.org",)))
    with other:
        assert other.tls is not None
        with pytest.raises(aiomqtt.MqttError, match=r"Hostname mismatch|doesn't match"):
            async with aiomqtt.Client("localhost", other.port, timeout=2,
                                      tls_context=other.tls.client_context()):
                pass


async def test_acl_a_workstation_writes_only_its_own_subtree(mosquitto_acl: Mosquitto) -> None:
    async with mosquitto_acl.subscriber("icu/#", user="monitor") as monitor:
        async with mosquitto_acl.client("ws-1") as ws1:
            # denied publishes are acknowledged (MQTT 3.1.1) and dropped by the broker
            await ws1.publish(WS2_STATUS, b"forged", qos=1)
            await ws1.publish("icu/icu/bed-1/ws-2/events", b"forged", qos=1)
            await ws1.publish("elsewhere/ws-1/status", b"forged", qos=1)
            await ws1.publish("icu/ws-1", b"forged", qos=1)
            await ws1.publish(WS1_STATUS, b"own", qos=1)
            await ws1.publish("icu/cardio/bed-9/ws-1/channels/A/observation", b"moved", qos=1)
        # the broker handles one client's publishes in order: "forged" would have come first
        await monitor.collect(lambda m: m.payload == b"moved")
        assert [(m.topic, m.payload) for m in monitor.received] == [
            (WS1_STATUS, b"own"), ("icu/cardio/bed-9/ws-1/channels/A/observation", b"moved")]


async def test_acl_a_workstation_reads_nothing(mosquitto_acl: Mosquitto) -> None:
    async with mosquitto_acl.subscriber("#", user="ws-1") as ws1, \
            mosquitto_acl.subscriber("icu/#", user="monitor") as monitor:
        async with mosquitto_acl.client("ws-2") as ws2:
            await ws2.publish(WS2_STATUS, b"ws-2 online", qos=1, retain=True)
        await monitor.collect(lambda m: m.payload == b"ws-2 online")
        await ws1.barrier()
        assert ws1.received == []


async def test_acl_the_monitor_cannot_publish(mosquitto_acl: Mosquitto, tmp_path: Path) -> None:
    async with mosquitto_acl.subscriber("icu/#", user="monitor") as watcher:
        async with mosquitto_acl.client("monitor") as monitor:
            await monitor.publish(WS1_STATUS, b"fake", qos=1)
            await monitor.publish("icu/icu/bed-1/monitor/status", b"fake", qos=1)
        await watcher.barrier()
        assert watcher.received == []
    # The second publish is under icu/+/+/monitor/#, which the example's pattern line opens to
    # every user and its deny line closes to the monitor: a reader of "#" shows it is dropped.
    acl = tmp_path / "acl-with-auditor"
    acl.write_text(EXAMPLE_ACL.read_text() + "\nuser auditor\ntopic read #\n")
    users = {**LAB_USERS, "auditor": "auditor-secret"}
    with Mosquitto(tmp_path / "audited", users=users, acl_file=acl) as audited:
        async with audited.subscriber("#", user="auditor") as auditor:
            async with audited.client("monitor") as monitor:
                await monitor.publish("icu/icu/bed-1/monitor/status", b"fake", qos=1)
            async with audited.client("ws-1") as ws1:
                await ws1.publish(WS1_STATUS, b"real", qos=1)
            [real] = await auditor.collect(lambda m: m.payload == b"real")
            assert auditor.received == [real]


@pytest.mark.parametrize("broker", ["mosquitto_acl", "mosquitto_secure"])
@pytest.mark.parametrize(("user", "password"), [("ws-1", "wrong"), ("ws-1", None),
                                                ("intruder", "x"), (None, None)],
                         ids=["wrong-password", "no-password", "unknown-user", "anonymous"])
async def test_bad_credentials_are_refused(request: pytest.FixtureRequest, broker: str,
                                           user: str | None, password: str | None) -> None:
    lab: Mosquitto = request.getfixturevalue(broker)
    client = aiomqtt.Client(lab.host, lab.port, username=user, password=password,
                            identifier="intruder", timeout=2,
                            tls_context=lab.tls.client_context() if lab.tls else None)
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with client:
            pass
    assert "authori" in str(refused.value).lower()  # CONNACK 5: not authorised


def _kernel_listeners(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port``, as the kernel lists them."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1])
                             if len(address) == 8 else f"[{address}]")
    return found


async def test_embedded_broker_listens_on_loopback_only_and_relays() -> None:
    async with EmbeddedBroker() as broker:
        port = broker.port
        assert broker.url == f"mqtt://127.0.0.1:{port}"
        assert broker.addresses == [("127.0.0.1", broker.port)]
        assert _kernel_listeners(broker.port) == ["127.0.0.1"]
        async with Subscriber(broker.url, "icu/#") as sub:
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="ws-1") as pub:
                await pub.publish(WS1_STATUS, b"demo", qos=1)
            [got] = await sub.collect()
            assert (got.topic, got.payload) == (WS1_STATUS, b"demo")
            assert not any(m.topic.startswith("$SYS") for m in sub.received)
    assert _kernel_listeners(port) == []


async def test_embedded_broker_on_a_given_port_and_a_taken_port() -> None:
    port = free_port()
    async with EmbeddedBroker(port) as broker:
        assert broker.url == f"mqtt://127.0.0.1:{port}"
        with pytest.raises(BrokerStartError, match=rf"127\.0\.0\.1:{port}.*in use"):
            async with EmbeddedBroker(port):
                pass
    with pytest.raises(RuntimeError, match="not started"):
        _ = EmbeddedBroker().url


async def test_broker_access_connects_with_tls_and_a_password_file(
        mosquitto_secure: Mosquitto, tmp_path: Path) -> None:
    """configs/mosquitto/mosquitto.conf as run in production, and the workstation's side."""
    secret = write_secret(tmp_path / "ws-1.password", LAB_USERS["ws-1"])
    access = BrokerAccess.build(mosquitto_secure.url, username="ws-1", password_file=secret,
                                ca_file=mosquitto_secure.ca_file)
    assert (access.url.tls, access.username, access.password) == (True, "ws-1", "ws-1-secret")
    async with mosquitto_secure.subscriber("icu/#", user="monitor") as monitor:
        async with access.client(identifier="ws-1") as client:
            await client.publish(WS1_STATUS, b"online", qos=1, retain=True)
            await client.publish(WS2_STATUS, b"forged", qos=1)
            await client.publish("icu/icu/bed-1/ws-1/events", b"started", qos=1)
        await monitor.collect(lambda m: m.payload == b"started")
        assert [m.payload for m in monitor.received] == [b"online", b"started"]

    wrong = write_secret(tmp_path / "wrong.password", "not-it")
    refused = BrokerAccess.build(mosquitto_secure.url, username="ws-1", password_file=wrong,
                                 ca_file=mosquitto_secure.ca_file)
    with pytest.raises(aiomqtt.MqttCodeError):
        async with refused.client(identifier="ws-1", timeout=2):
            pass
    no_ca = BrokerAccess.build(mosquitto_secure.url, username="ws-1", password_file=secret)
    with pytest.raises(aiomqtt.MqttError, match="CERTIFICATE_VERIFY_FAILED"):
        async with no_ca.client(identifier="ws-1", timeout=2):
            pass
    with pytest.raises(ConfigError, match=r"missing\.password"):
        BrokerAccess.build(mosquitto_secure.url, password_file=tmp_path / "missing.password")
