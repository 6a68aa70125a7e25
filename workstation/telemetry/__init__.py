"""Telemetry to central monitors over MQTT: topics, payloads, the outbox and the publisher."""
