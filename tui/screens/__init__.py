"""The workstation's dialogs and full-screen views, each pushed over the channel grid."""

__all__ = [
    "bolus", "diagnostics", "dialogs", "event_log", "form_parts", "patient_weight", "program",
    "review", "running_form", "simulator", "titrate",
]
