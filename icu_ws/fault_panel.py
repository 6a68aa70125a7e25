"""The demo's fault panel: the faults the trainer's screen offers, on which keys, and the
simulated modules they go to. Given to the terminal UI as a ``tui.fault_simulator.FaultSimulator``
(the UI itself imports neither the simulated pumps nor the demo wiring)."""

from __future__ import annotations

from functools import partial

from pumps.module import Fault
from pumps.rack import PumpRack
from tui.fault_simulator import FaultButton, FaultSimulator
from workstation.config import WorkstationConfig
from workstation.demo import module_for

__all__ = ["FAULTS", "demo_simulator"]

FAULTS = (
    FaultButton("a", "Occlusion on", Fault.OCCLUSION, 1),
    FaultButton("b", "Occlusion off", Fault.OCCLUSION, 0),
    FaultButton("c", "Upstream occlusion", Fault.UPSTREAM_OCCLUSION, 1),
    FaultButton("d", "Air bubble 100 µL", Fault.AIR, 100),
    FaultButton("s", "Air cleared at the pump", Fault.CLEAR_AIR, 1),  # the only way (H12)
    FaultButton("e", "Door open", Fault.DOOR, 1),
    FaultButton("f", "Door close", Fault.DOOR, 0),
    FaultButton("g", "Empty container", Fault.EMPTY, 1),
    FaultButton("h", "Battery low", Fault.BATTERY_LOW, 1),
    FaultButton("i", "Mains back", Fault.MAINS, 1),
    FaultButton("j", "Disconnect (silent)", Fault.SILENT, 1),
    FaultButton("k", "Reconnect", Fault.SILENT, 0),
    FaultButton("l", "Reboot", Fault.REBOOT, 1),
    FaultButton("m", "Corrupt 5 frames", Fault.CORRUPT, 5),
    FaultButton("n", "Calibration +15 %", Fault.CALIBRATION, 15),
    FaultButton("o", "Calibration 0 %", Fault.CALIBRATION, 0),
    FaultButton("p", "Syringe disengaged", Fault.SYRINGE_DISENGAGED, 1, syringe_only=True),
    FaultButton("r", "Syringe engaged", Fault.SYRINGE_DISENGAGED, 0, syringe_only=True),
)


def demo_simulator(config: WorkstationConfig, racks: list[PumpRack]) -> FaultSimulator:
    """The faults above, into the simulated modules of ``racks`` (one per bus of ``config``)."""
    return FaultSimulator(FAULTS, partial(module_for, config, racks))
