"""The central monitor's widgets, one per screen area."""

__all__ = ["alarm_list", "bed_table", "header", "help", "lines"]
