"""The terminal UIs (Textual): the nurse's workstation (``app``) and the central ``monitor``.

Uses the public ``workstation.api.Workstation``; whatever else it needs (e.g. the demo's
simulated modules) is injected by the composition root, ``icu_ws``. Styles are package data
(``*.tcss``, found with ``importlib.resources``). Nothing is imported here.
"""

__all__ = ["alarm_display", "app", "fault_simulator", "flash", "keypad_lock", "monitor",
           "quit_notice", "screens", "widgets"]
