"""What the demo's fault simulator screen needs, injected by the composition root (``icu_ws``).

The terminal UI knows neither the simulated modules nor the demo's racks: ``icu_ws`` gives the
app a ``FaultSimulator`` with the faults to offer and a way to find a channel's simulated module.
No Textual here, so the headless demo can build one without loading the UI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from dbc.vocabulary import ModuleKind

__all__ = ["FaultButton", "FaultSimulator", "FaultTarget"]


@dataclass(frozen=True)
class FaultButton:
    """One fault on the screen: its key, its label, and what is injected."""

    key: str
    label: str
    fault: Enum  # the simulator's own fault type; logged by its value
    value: float = 1.0
    syringe_only: bool = False

    @property
    def name(self) -> str:
        return f"fault-{self.key}"


class FaultTarget(Protocol):
    """A simulated module, as the screen uses it."""

    @property
    def kind(self) -> ModuleKind: ...

    # ``fault`` is one of the ``FaultButton.fault`` values the same simulator offers.
    def inject(self, fault: Any, value: float) -> None: ...


@dataclass(frozen=True)
class FaultSimulator:
    faults: Sequence[FaultButton]
    module_for: Callable[[str], FaultTarget | None]  # the module in a channel's slot, if any
