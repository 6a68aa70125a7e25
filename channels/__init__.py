"""Pure per-channel logic: the workstation's side of one pump module, across the bus contract.

Depends only on ``dbc`` (the bus contract): no I/O of its own, no clock it does not get passed.
The heart is ``controller`` (one per channel) with its workflow table ``programming``; around
it the drug library (``druglib``, ``library_rules``), dose arithmetic (``dosing``,
``quantities``), limit checks (``limits``, ``bus_limits``, ``bus_ranges``), ordering
(``planning``, ``plan``), and the judgements on what a module reports (``reconcile``,
``stops``, ``status_checks``, ``plausibility``, ``supervision``). Nothing is imported here: a
user pays only for the modules it imports.
"""

__all__ = [
    "bolus_history", "bus_limits", "bus_ranges", "channel_state", "commands", "conditions",
    "config", "controller", "dosing", "druglib", "duplicate_pairs", "effects", "events",
    "library_rules", "limits", "line_advisory", "module_view", "patient_weight", "pending",
    "plan", "planning", "plausibility", "program_flow", "programming", "quantities",
    "reconcile", "status_checks", "stops", "supervision",
]
