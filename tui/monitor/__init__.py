"""The central monitor: every workstation of the unit, from MQTT telemetry."""

__all__ = ["app", "feed", "model", "records", "widgets"]
