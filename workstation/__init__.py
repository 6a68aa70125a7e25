"""The workstation: every channel, the shared alarm system, the event log and telemetry.

Depends on ``channels`` and ``dbc`` (and on ``pumps`` only in ``demo``); never on the UI. The
public entry point is ``api.Workstation`` over ``supervisor`` (the pure ``station`` on real
buses); ``config`` composes the TOML configuration, ``alarms`` and ``alarm_catalog`` are the
alarm system, ``eventlog`` the durable log, ``users`` and ``login_guard`` the named users,
``telemetry`` the MQTT side. Nothing is imported here: importing a submodule loads only what
it needs.
"""

__all__ = [
    "alarm_catalog", "alarms", "api", "blocked_attempts", "bus_health", "bus_monitor",
    "bus_view", "channel_commands", "channel_faults", "command_errors", "config", "demo",
    "eventlog", "headless", "intrusion", "login_guard", "order_checks", "reminders",
    "restart_memory", "snapshot", "sqlite_store", "station", "station_access",
    "station_failures", "supervisor", "telemetry", "users", "watchdog", "weight_change",
]
