"""The central monitor's widgets, one per screen area."""
