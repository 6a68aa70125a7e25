"""The central monitor: every workstation of the unit, from MQTT telemetry."""
