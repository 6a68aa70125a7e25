"""Simulated pump modules: the other side of the bus, for the demo, the tests and training.

Depends only on ``dbc`` (the bus contract). A ``module`` is the firmware core (``firmware``,
its state table ``state_table`` and guards ``commands``, ``delivery``, ``power``,
``conflict``) over a physical model (``volumetric`` or ``syringe``, on a shared ``line``); a
``rack`` puts modules on a bus. Nothing is imported here.
"""

__all__ = [
    "commands", "conflict", "delivery", "firmware", "line", "mechanism", "module",
    "nvm", "occlusion_trend", "power", "rack", "state_table", "syringe", "volumetric",
]
