"""The composition root: the ``icu-ws`` command and its subcommands.

The only package that may import every other one: it reads configs, wires the bus, the
workstation, the simulated modules and the terminal UI together, and runs them.
"""

__all__ = ["cli", "fault_panel", "log", "monitor", "pump", "record", "run", "user"]
