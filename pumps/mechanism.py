"""The pumping mechanism seen by the firmware core: a pure physical model.

A mechanism knows nothing of CAN, programs or alarms policy. The firmware core asks it to run
the motor at a rate for a span of *module* time and reads back what its sensors measure:
volume delivered, downstream pressure and the physical conditions detected. Faults are
injected here because they are physical (a clamp, a bubble, an open door).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from dbc.vocabulary import AlarmCondition, ModuleKind
from pumps.line import DownstreamLine

__all__ = ["Mechanism"]


class Mechanism(ABC):
    """Common interface of the volumetric and syringe models."""

    kind: ModuleKind

    def __init__(self, line: DownstreamLine) -> None:
        self._line = line  # every mechanism pushes into a downstream line to the patient
        self._counted_ml = 0.0  # see delivered_ml
        self.occlusion_limit_mmhg: float = 300.0
        self.air_bubble_limit_ul: float = 50.0

    @abstractmethod
    def advance(self, dt_s: float, rate_ml_h: float) -> None:
        """Run the motor at ``rate_ml_h`` (0 = stopped) for ``dt_s`` seconds of module time.

        ``dt_s`` may be large (a fast clock steps many seconds at once): implementations
        sub-step internally so results do not depend on the step size.
        """

    @property
    def delivered_ml(self) -> float:
        """Cumulative volume delivered, as the module measures it: its own displacement count.

        Counted from what the mechanism pushed into the line (strokes turned x nominal stroke
        volume; plunger steps x nominal bore area), at the moment it is pushed. The firmware
        ends a VTBI or a bolus on this count, so what the line's compliance holds at that
        moment is part of the program, not extra on top of it (H19, H11), and flow out of the
        line while the motor is stopped is never uncounted: it was counted when pushed.
        The motor's own error (``set_calibration_error``) shows in it; the set's or the
        syringe's geometry error does not (that is the mechanism's accuracy).
        """
        return self._counted_ml

    @property
    def patient_ml(self) -> float:
        """Volume that left the line into the patient: what a balance would weigh."""
        return self._line.delivered_ml

    @property
    def pressure_mmhg(self) -> float:
        """Downstream line pressure."""
        return self._line.pressure_mmhg

    @property
    def time_s(self) -> float:
        """Module time this mechanism has been advanced by."""
        return self._line.time_s

    @property
    def last_post_occlusion_bolus_ml(self) -> float:
        """Volume the line released when the last clamp was opened."""
        return self._line.last_release_bolus_ml

    @abstractmethod
    def conditions(self) -> AlarmCondition:
        """Physical alarm conditions currently detected by the sensors."""

    @abstractmethod
    def reset_air(self) -> None:
        """The nurse has cleared the air from the line: re-arm the air detectors."""

    # -- fault injection -------------------------------------------------------------------
    @abstractmethod
    def set_occlusion(self, *, downstream: bool = True, upstream: bool = False) -> None:
        """Clamp the line (True) or release the clamp (False)."""

    @abstractmethod
    def inject_air(self, volume_ul: float) -> None:
        """Put a bubble of ``volume_ul`` microlitres in the line; it reaches the sensor next."""

    @abstractmethod
    def set_door_open(self, is_open: bool) -> None: ...

    @abstractmethod
    def set_empty(self) -> None:
        """The container (bag or syringe) is empty now."""

    @abstractmethod
    def set_calibration_error(self, percent: float) -> None:
        """The motor delivers ``(1 + percent/100)`` times what it is asked; sensors report it."""
