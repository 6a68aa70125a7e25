"""Telemetry to central monitors over MQTT: topics, payloads, the outbox and the publisher."""

__all__ = [
    "broker_url", "connection", "embedded_broker", "health", "mapping", "outbox", "payloads",
    "publisher", "schemas", "topics",
]
