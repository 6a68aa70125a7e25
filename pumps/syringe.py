"""Syringe driver: a pure model of lead screw, plunger, stopper compliance and force sensing.

The motor turns in micro-steps of a fraction of a micrometre, so flow is smooth; the lead screw
has a small once-per-revolution position error (the only ripple). The syringe (stopper) and the
line form one compliance; the line (``pumps.line``) drains it through a resistance to venous
pressure. Within a sub-step the pushed flow is constant and the pressure is solved exactly, so
chunking does not change results.
"""

from __future__ import annotations

import math
import random

from dbc.vocabulary import AlarmCondition, ModuleKind, SyringeSize
from pumps.line import DownstreamLine
from pumps.mechanism import Mechanism
from pumps.occlusion_trend import PressureTrend

__all__ = ["SyringeMechanism", "residual_ml"]

# Inner barrel diameters (mm), BD Plastipak-like; nominal capacity in mL is the enum value.
BARREL_ID_MM: dict[SyringeSize, float] = {
    SyringeSize.ML_5: 12.06,
    SyringeSize.ML_10: 14.50,
    SyringeSize.ML_20: 19.13,
    SyringeSize.ML_50: 26.60,
    SyringeSize.ML_60: 26.70,
}
ID_TOLERANCE = 0.003  # ±0.3 % on the diameter of each syringe loaded → ±0.6 % in volume
LEAD_PITCH_MM = 1.0
STEPS_PER_REV = 3200  # 200 full steps x 16 micro-steps: 0.31 µm, ~0.17 µL on a 50 mL syringe
STEP_MM = LEAD_PITCH_MM / STEPS_PER_REV
SCREW_ERROR_MM = 0.002  # periodic lead-screw error: ~±1.3 % flow ripple once per revolution
FRICTION_N_PER_MM = 0.1  # stopper friction per mm of circumference (~8 N on a 50 mL syringe)
FRICTION_TOLERANCE = 0.10  # friction of a given syringe vs the nominal the detector assumes
PA_PER_MMHG = 133.322

# The line's resistance is the default one: same extension set + cannula as the volumetric model.
LINE_COMPLIANCE = 0.0005  # mL/mmHg of the extension line
STOPPER_COMPLIANCE_PER_MM2 = 0.0025 / 555.7  # rubber stopper: 2.5 µL/mmHg on a 50 mL barrel
SUBSTEP_S = 1.0  # ≥ 10 per screw turn up to ~200 mL/h (50 mL); pushed volume is exact anyway
# Slack taken up after a syringe is loaded or the plunger backed off, before fluid moves: the
# drive's backlash and the gap to the plunger flange (no force; closed fast), then the stopper
# loading up to its break-away friction (force rising, no flow) at the programmed speed: at
# 0.5 mL/h on a 50 mL syringe the plunger moves 0.9 mm/h, so ~80 s of start-up delay.
SLACK_GAP_MM = 0.13
SLACK_CONTACT_MM = 0.02
SLACK_GAP_SPEED_MM_S = 0.05  # the gap closes in ~3 s at any rate
# The trend rule arms this far past first contact (force at half the nominal friction): twice
# the stopper's loading travel, so a stopper still loading never reads as a blocked line.
TREND_ARM_MM = 2 * SLACK_CONTACT_MM
FORCE_NOISE_N = 0.02  # force sensor noise (1 sigma), ~0.3 mmHg on a 50 mL syringe

NEAR_END_S = 5 * 60.0  # pre-alarm when ≤ 5 min are left at the reference rate
NEAR_END_STOPPED_FRACTION = 0.05  # never run since loading: ≤ 5 % of nominal left
END_EPS_ML = 1e-9


def residual_ml(size: SyringeSize) -> float:
    """Volume left when the plunger reaches the end detector (dead space + margin)."""
    return max(0.1, 0.01 * float(size))


class SyringeMechanism(Mechanism):
    """Lead-screw syringe driver with force-based occlusion detection."""

    kind = ModuleKind.SYRINGE

    def __init__(
        self, *, seed: int = 1, size: SyringeSize = SyringeSize.ML_50, fill_ml: float | None = None
    ) -> None:
        super().__init__(DownstreamLine(compliance_ml_per_mmhg=LINE_COMPLIANCE))
        self._rng = random.Random(seed)
        self._cal_factor = 1.0
        self._door_open = False
        self._size = SyringeSize.NONE
        self._engaged = False
        self._volume = 0.0
        self._steps = 0.0
        self._area_nom = self._area = 1.0  # mm²
        self._friction_nom = self._friction = 0.0
        self._screw_phase = 0.0
        self._ref_rate = 0.0
        self._slack_mm = 0.0
        self._contact_steps: float | None = None  # motor position at first contact
        self._noise = random.Random(seed + 7919)  # apart from the syringe draws
        # Early occlusion from the force trend (None: the fixed threshold only, as before).
        self.trend: PressureTrend | None = PressureTrend()
        self.load_syringe(size, float(size) if fill_ml is None else fill_ml)

    # -- syringe handling ------------------------------------------------------------------
    def load_syringe(self, size: SyringeSize, fill_ml: float) -> None:
        """Load a new syringe (``SyringeSize.NONE`` removes it); the line restarts at venous."""
        if not 0.0 <= fill_ml <= float(size):
            raise ValueError(f"fill {fill_ml} mL does not fit a {size.name} syringe")
        self._size = size
        self._engaged = size != SyringeSize.NONE
        self._volume = fill_ml
        self._line.restart()
        self._steps = 0.0
        self._ref_rate = 0.0
        self._slack_mm = SLACK_GAP_MM + SLACK_CONTACT_MM
        self._reset_trend()
        if size == SyringeSize.NONE:
            return
        d_nom = BARREL_ID_MM[size]
        d = d_nom * (1.0 + self._rng.uniform(-ID_TOLERANCE, ID_TOLERANCE))
        self._area_nom = math.pi * d_nom**2 / 4.0
        self._area = math.pi * d**2 / 4.0
        self._friction_nom = FRICTION_N_PER_MM * math.pi * d_nom
        spread = self._rng.uniform(-FRICTION_TOLERANCE, FRICTION_TOLERANCE)
        self._friction = self._friction_nom * (1.0 + spread)
        self._line.compliance = LINE_COMPLIANCE + STOPPER_COMPLIANCE_PER_MM2 * self._area
        self._screw_phase = self._rng.random()

    def set_engaged(self, engaged: bool) -> None:
        self._engaged = engaged and self._size != SyringeSize.NONE

    def back_off(self) -> float:
        """Bolus reduction: retract the plunger until the line is back at venous; returns mL."""
        if not self.is_engaged:
            return 0.0
        retract = self._line.withdraw_stored()
        self._volume += retract
        self._steps -= retract * 1000.0 / (self._area * STEP_MM)
        self._slack_mm = SLACK_GAP_MM + SLACK_CONTACT_MM  # the backlash reverses
        self._reset_trend()
        return retract

    @property
    def syringe_size(self) -> SyringeSize:
        return self._size

    @property
    def volume_left_ml(self) -> float:
        return self._volume

    @property
    def plunger_position_mm(self) -> float:
        """Plunger travel left to the bottom of the barrel."""
        return self._volume * 1000.0 / self._area if self._size != SyringeSize.NONE else 0.0

    @property
    def plunger_force_n(self) -> float:
        """Force on the pusher: stopper friction + line pressure x plunger area."""
        if not self.is_engaged or self._slack_mm >= SLACK_CONTACT_MM:
            return 0.0  # the pusher has not reached the flange yet
        contact = 1.0 - self._slack_mm / SLACK_CONTACT_MM  # the stopper loading up
        return contact * (self._friction
                          + self._line.pressure_mmhg * PA_PER_MMHG * self._area * 1e-6)

    @property
    def is_engaged(self) -> bool:
        return self._engaged

    @property
    def occlusion_force_limit_n(self) -> float:
        """Threshold the force sensor compares against (nominal friction + limit x area)."""
        return self._friction_nom + self.occlusion_limit_mmhg * PA_PER_MMHG * self._area_nom * 1e-6

    # -- Mechanism -------------------------------------------------------------------------
    def advance(self, dt_s: float, rate_ml_h: float) -> None:
        if dt_s < 0.0 or rate_ml_h < 0.0:
            raise ValueError("dt_s and rate_ml_h must be >= 0")
        if rate_ml_h > 0.0:
            self._ref_rate = rate_ml_h
        remaining = dt_s
        while remaining > 0.0:
            h = min(remaining, SUBSTEP_S)
            pushing = False
            if self.is_engaged and self._trend_tripped():
                self._line.flow(0.0, h)  # held until the plunger is backed off
            elif self.is_engaged and self._occlusion_sensed():
                # The motor holds while the force reads the limit, until the comparator re-arms.
                h = min(h, self._line.time_to_rearm(self._detect_pressure()))
                self._line.flow(0.0, h)
            else:
                pushing = self._can_drive(rate_ml_h)
                h = self._drive(h, rate_ml_h)
            self._sample_trend(pushing)
            remaining -= h

    def conditions(self) -> AlarmCondition:
        c = AlarmCondition(0)
        if not self.is_engaged:
            c |= AlarmCondition.SYRINGE_NOT_ENGAGED
        if self._door_open:
            c |= AlarmCondition.DOOR_OPEN
        if self._size == SyringeSize.NONE:
            return c
        if self.is_engaged and (self._occlusion_sensed() or self._trend_tripped()):
            c |= AlarmCondition.OCCLUSION_DOWNSTREAM
        if self._at_end():
            c |= AlarmCondition.SYRINGE_END
        elif self._near_end():  # the end alarm supersedes the pre-alarm
            c |= AlarmCondition.SYRINGE_NEAR_END
        return c

    def reset_air(self) -> None:
        """Nothing to re-arm: see ``inject_air``."""

    def set_occlusion(self, *, downstream: bool = True, upstream: bool = False) -> None:
        """``upstream`` is ignored: a syringe has no upstream line to clamp."""
        self._line.set_clamped(downstream)

    def inject_air(self, volume_ul: float) -> None:
        """Accepted and ignored: like most syringe drivers this one has no downstream air
        sensor (air stays at the top of the syringe), so a bubble raises no condition."""

    def set_door_open(self, is_open: bool) -> None:
        self._door_open = is_open

    def set_empty(self) -> None:
        if self._size != SyringeSize.NONE:
            self._volume = min(self._volume, residual_ml(self._size))

    def set_calibration_error(self, percent: float) -> None:
        self._cal_factor = 1.0 + percent / 100.0

    # -- internals -------------------------------------------------------------------------
    def _deliverable_ml(self) -> float:
        return max(0.0, self._volume - residual_ml(self._size))

    def _at_end(self) -> bool:
        return self._volume <= residual_ml(self._size) + END_EPS_ML

    def _near_end(self) -> bool:
        # Reference rate: the current one, else the last one run since loading (a pause must
        # not toggle the pre-alarm); never run → a fixed fraction of the nominal volume.
        if self._ref_rate > 0.0:
            return self._deliverable_ml() <= self._ref_rate * NEAR_END_S / 3600.0
        return self._deliverable_ml() <= NEAR_END_STOPPED_FRACTION * float(self._size)

    def _detect_pressure(self) -> float:
        """Line pressure at which the force reaches the threshold (actual friction differs)."""
        force_left = self.occlusion_force_limit_n - self._friction
        return force_left / (PA_PER_MMHG * self._area * 1e-6)

    def _plunger_mm(self, steps: float) -> float:
        x = math.floor(steps) * STEP_MM
        turns = x / LEAD_PITCH_MM + self._screw_phase
        return x + SCREW_ERROR_MM * math.sin(2.0 * math.pi * turns)

    def _occlusion_sensed(self) -> bool:
        # A force sensor: its threshold, seen as line pressure, moves with the actual friction.
        return self._line.sensed(self._detect_pressure())

    def _can_drive(self, rate_ml_h: float) -> bool:
        return rate_ml_h > 0.0 and self.is_engaged and not self._door_open and not self._at_end()

    def _trend_tripped(self) -> bool:
        return self.trend is not None and self.trend.tripped

    def _reset_trend(self) -> None:
        self._contact_steps = None
        if self.trend is not None:
            self.trend.reset()

    def _sample_trend(self, pushing: bool) -> None:
        """Feed the force sensor's reading, as pressure over the nominal friction."""
        if self.trend is None or self._size == SyringeSize.NONE:
            return
        scale = PA_PER_MMHG * self._area_nom * 1e-6  # N per mmHg
        force = self.plunger_force_n + self._noise.gauss(0.0, FORCE_NOISE_N)
        if self._contact_steps is None and force >= 0.5 * self._friction_nom:
            self._contact_steps = self._steps
        armed = self._contact_steps is not None and \
            (self._steps - self._contact_steps) * STEP_MM >= TREND_ARM_MM
        floor = -FRICTION_TOLERANCE * self._friction_nom / scale - 2.0
        occluded = self._ref_rate / 3600.0 / self._line.compliance * 60.0  # mmHg/min
        self.trend.sample(self._line.time_s, (force - self._friction_nom) / scale, floor,
                          pushing and armed, occluded)

    def _take_up_slack(self, h: float, speed_mm_s: float) -> float:
        """The motor turns, no fluid moves; returns the time used (up to ``h``).

        The gap closes at a fast speed (no force on the pusher yet: contact shows as force);
        the stopper loads at the programmed speed (rushing it would push a bolus).
        """
        gap = self._slack_mm - SLACK_CONTACT_MM
        speed = max(speed_mm_s, SLACK_GAP_SPEED_MM_S) if gap > 0.0 else speed_mm_s
        phase = gap if gap > 0.0 else self._slack_mm
        run = phase / speed
        if run <= h:
            self._slack_mm = SLACK_CONTACT_MM if gap > 0.0 else 0.0
        else:
            run = h
            self._slack_mm -= h * speed
        self._steps += run * speed / STEP_MM
        self._line.flow(0.0, run)
        return run

    def _drive(self, h: float, rate_ml_h: float) -> float:
        """Push for up to ``h`` s; returns the time used (less if the force limit trips)."""
        if not self._can_drive(rate_ml_h):
            self._line.flow(0.0, h)
            return h
        step_ml = self._area_nom * STEP_MM / 1000.0
        steps_per_s = rate_ml_h * self._cal_factor / 3600.0 / step_ml
        if self._slack_mm > 0.0:
            return self._take_up_slack(h, steps_per_s * STEP_MM)
        s0 = self._steps
        full = (self._plunger_mm(s0 + steps_per_s * h) - self._plunger_mm(s0)) * self._area
        full = max(0.0, full / 1000.0)
        if full == 0.0:  # within one micro-step: the motor has not stepped yet
            self._steps = s0 + steps_per_s * h
            self._line.flow(0.0, h)
            return h
        run, pushed = h, full
        if pushed > self._deliverable_ml():  # plunger reaches the end detector
            pushed = self._deliverable_ml()
            run = h * pushed / full
        hit = self._line.time_to_pressure(pushed / run, self._detect_pressure())
        if hit < run:  # force limit: the motor stops at the threshold
            pushed *= hit / run
            run = hit
        self._steps = s0 + steps_per_s * h * pushed / full
        # The module counts whole plunger steps x the nominal bore (the motor's own error
        # included, the bore tolerance and the screw ripple not), as pushed. A back-off is not
        # subtracted: the count never goes down; what was withdrawn is given short, never twice.
        self._counted_ml += max(0.0, math.floor(self._steps) - math.floor(s0)) * step_ml
        self._volume -= pushed
        self._line.flow(pushed / run, run)
        if hit <= run:
            self._line.trip()
            return run
        self._line.flow(0.0, h - run)
        return h
