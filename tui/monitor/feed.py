"""The MQTT side of the monitor: subscribe to every workstation, hand each message on.

Kept apart from the App so the app (and the headless summary) can be fed by anything: tests call
``MonitorApp.ingest`` directly. One long-lived task in the app's loop, with the maintainers'
reconnect loop: a broker that goes away is shown as disconnected and tried again, forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable

import aiomqtt

from workstation.telemetry.connection import BrokerAccess
from workstation.telemetry.topics import subscription

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes, bool], None]  # topic, payload, retained
OnState = Callable[[str], None]  # "connecting", "connected", or what went wrong
CONNECTED = "connected"


def monitor_identifier() -> str:
    """Unique per process: with clean sessions, two monitors sharing an id would keep
    disconnecting each other."""
    host = socket.gethostname().split(".")[0][:16] or "host"
    return f"icu-monitor-{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class MqttFeed:
    def __init__(self, access: BrokerAccess, *, root: str = "icu", retry_s: float = 2.0,
                 identifier: str | None = None) -> None:
        self.access = access
        self.root = root
        self.retry_s = retry_s
        self.identifier = identifier or monitor_identifier()
        self.connects = 0

    @property
    def broker(self) -> str:
        return str(self.access.url)  # never shows the password

    async def run(self, on_message: OnMessage, on_state: OnState) -> None:
        """Until cancelled. ``on_message`` must not block: it runs once per message."""
        client = self.access.client(identifier=self.identifier)
        while True:
            on_state("connecting")
            try:
                async with client:
                    # QoS 1: the workstations publish at QoS 1 and we de-duplicate by id.
                    await client.subscribe(subscription(self.root), qos=1)
                    self.connects += 1
                    on_state(CONNECTED)
                    async for message in client.messages:
                        self._deliver(on_message, message)
            except aiomqtt.MqttError as exc:
                on_state(f"disconnected: {exc}; retry in {self.retry_s:g} s")
                # INFO, not WARNING: the screen shows it, and a log line on the terminal
                # would land in the middle of the UI every retry.
                log.info("monitor: broker %s: %s", self.broker, exc)
            await asyncio.sleep(self.retry_s)

    @staticmethod
    def _deliver(on_message: OnMessage, message: aiomqtt.Message) -> None:
        payload = message.payload
        if isinstance(payload, str):
            raw = payload.encode()
        elif isinstance(payload, bytes | bytearray):
            raw = bytes(payload)
        else:
            raw = b"" if payload is None else str(payload).encode()
        try:
            on_message(message.topic.value, raw, bool(message.retain))
        except Exception:  # one bad message must not stop the whole unit's monitor
            log.exception("monitor: message on %s", message.topic.value)
