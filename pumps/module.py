"""A simulated module: firmware core + physical model + the faults a trainer or test injects."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from enum import Enum

from dbc.frames import SyringeInfo
from dbc.vocabulary import ModuleKind, SyringeSize
from pumps.firmware import Identity, PumpFirmware
from pumps.mechanism import Mechanism
from pumps.power import Battery
from pumps.syringe import SyringeMechanism
from pumps.volumetric import VolumetricMechanism

__all__ = ["Fault", "SimulatedModule"]


class Fault(Enum):
    """Faults by name, for text interfaces (``icu-ws pump`` stdin, the demo's simulator panel).

    ``value`` of ``SimulatedModule.inject``: on/off for the switches, µL for AIR, percent for
    CALIBRATION, a frame count for CORRUPT. CLEAR_AIR is the nurse's local action at the pump.
    """

    OCCLUSION = "occlusion"
    UPSTREAM_OCCLUSION = "upstream-occlusion"
    AIR = "air"
    DOOR = "door"
    EMPTY = "empty"
    BATTERY_LOW = "battery-low"
    MAINS = "mains"
    BATTERY_MINUTES = "battery-minutes"  # off mains, VALUE minutes left with the motor running
    REBOOT = "reboot"
    SILENT = "silent"
    DEAF = "deaf"  # keeps sending, ignores commands and programs (broken receive path)
    CORRUPT = "corrupt"
    CALIBRATION = "calibration"
    SYRINGE_DISENGAGED = "syringe-disengaged"
    # A local action at the pump, not a fault: the nurse opened the door, removed the air and
    # closed it. The only way an air stop is cleared (H12); value ignored.
    CLEAR_AIR = "clear-air"


class SimulatedModule:
    """One pump module in a slot. Thread-unsafe: used from one event loop."""

    def __init__(self, node: int, kind: ModuleKind, *, serial: int | None = None,
                 seed: int | None = None, boot_count: int | None = None) -> None:
        if not 1 <= node <= 31:
            raise ValueError(f"node {node}: a module's node id is its slot, 1..31")
        seed = node if seed is None else seed
        mechanism: Mechanism
        if kind is ModuleKind.SYRINGE:
            mechanism = SyringeMechanism(seed=seed, size=SyringeSize.ML_50)
        else:
            mechanism = VolumetricMechanism(seed=seed)
        identity = Identity(node=node, kind=kind, serial=serial or 100_000 + node)
        self.firmware = PumpFirmware(identity, mechanism, Battery())
        # The non-volatile boot count of a module that has been powered before: any value, so
        # a pump process started afresh still shows a new boot identity most of the time.
        self.firmware.boot_count = secrets.randbelow(16) if boot_count is None \
            else boot_count % 16
        self.silent = False
        self.deaf = False
        self.corrupt_frames = 0  # the next N frames sent get a bad CRC
        self.rebooted = False  # set on reboot; the rack resets this module's E2E counters
        # Set by the rack: evaluates the conditions at once after a fault, as a sensor
        # interrupt would, instead of at the next tick.
        self.on_fault: Callable[[SimulatedModule], None] | None = None

    @property
    def node(self) -> int:
        return self.firmware.identity.node

    @property
    def kind(self) -> ModuleKind:
        return self.firmware.identity.kind

    @property
    def mechanism(self) -> Mechanism:
        return self.firmware.mechanism

    def syringe_info(self) -> SyringeInfo | None:
        m = self.mechanism
        if not isinstance(m, SyringeMechanism):
            return None
        return SyringeInfo(node=self.node, size=m.syringe_size,
                           plunger_travel_mm=round(min(m.plunger_position_mm, 204.7), 1),
                           volume_ml=round(min(m.volume_left_ml, 102.3), 1),
                           force_n=round(min(m.plunger_force_n, 409.5), 1), engaged=m.is_engaged)

    def inject(self, fault: Fault, value: float = 1.0) -> None:
        """Inject (value truthy) or clear (0) a fault."""
        on = bool(value)
        m = self.mechanism
        if fault is Fault.OCCLUSION:
            m.set_occlusion(downstream=on)
        elif fault is Fault.UPSTREAM_OCCLUSION:
            m.set_occlusion(downstream=False, upstream=on)
        elif fault is Fault.AIR:
            m.inject_air(value)
        elif fault is Fault.DOOR:
            m.set_door_open(on)
        elif fault is Fault.EMPTY:
            m.set_empty()
        elif fault is Fault.BATTERY_LOW:
            self.firmware.battery.on_mains = not on
            if on:
                self.firmware.battery.set_low()
        elif fault is Fault.BATTERY_MINUTES:
            self.firmware.battery.set_minutes_left(value, motor_running=True)
        elif fault is Fault.MAINS:
            self.firmware.battery.on_mains = on
        elif fault is Fault.REBOOT:
            self.firmware.reboot()
            self.rebooted = True
        elif fault is Fault.SILENT:
            self.silent = on
        elif fault is Fault.DEAF:
            self.deaf = on
        elif fault is Fault.CORRUPT:
            self.corrupt_frames = int(value)
        elif fault is Fault.CALIBRATION:
            m.set_calibration_error(value)
        elif fault is Fault.CLEAR_AIR:
            self.firmware.clear_air()
        elif fault is Fault.SYRINGE_DISENGAGED:
            if not isinstance(m, SyringeMechanism):
                raise ValueError(f"node {self.node}: not a syringe module")
            m.set_engaged(not on)
        if self.on_fault is not None:
            self.on_fault(self)
