"""The workstation main screen's widgets, by screen area."""

__all__ = [
    "alarm_banner", "channel_card", "channel_grid", "inputs", "key_footer", "station_header",
]
