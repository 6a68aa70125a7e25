"""Volumetric (peristaltic) pump: a pure, event-driven model of strokes, line pressure and sensors.

The cam pushes one stroke of ``STROKE_ML`` as ``STEPS_PER_STROKE`` micro-steps, then spends a short
refill phase delivering nothing (pulsatile flow). Each micro-step is an instantaneous volume pulse
into the downstream compliance; between pulses the line (``pumps.line``) relaxes exactly
(C·dP/dt = -(P - P_venous)/R), so the result does not depend on how ``advance`` is chunked.
"""

from __future__ import annotations

import random
from collections import deque

from dbc.vocabulary import AlarmCondition, ModuleKind
from pumps.line import DownstreamLine
from pumps.mechanism import Mechanism

__all__ = ["STROKE_ML", "VolumetricMechanism"]

STROKE_ML = 0.0625
STEPS_PER_STROKE = 16  # micro-steps: a 1 mL/h stroke is 16 small pulses, not one every 225 s
STEP_ML = STROKE_ML / STEPS_PER_STROKE
# The motor speeds through the dead (refill) part of the cam: at most REFILL_S, and at most a
# quarter of the stroke period at high rates; delivery micro-steps run faster to compensate.
REFILL_S = 0.5
REFILL_MAX_FRACTION = 0.25
STROKE_CV = 0.02  # per-stroke volume scatter (1 sigma): valve closure, tubing recovery
SET_BIAS_PERCENT = -1.0  # sets under-deliver a little (tubing fatigue, head height)

LINE_COMPLIANCE = 0.001  # mL/mmHg downstream of the fingers (set tubing): ~0.3 mL at 300 mmHg
UPSTREAM_DETECT_STEPS = STEPS_PER_STROKE // 2  # vacuum builds over half a stroke against a clamp

AIR_WINDOW_S = 15 * 60.0
AIR_ACCUMULATED_LIMIT_UL = 1000.0


class VolumetricMechanism(Mechanism):
    """Peristaltic pump with set, downstream line, upstream container and air sensor."""

    kind = ModuleKind.VOLUMETRIC

    def __init__(
        self,
        *,
        seed: int = 1,
        container_ml: float = 1000.0,
        set_bias_percent: float = SET_BIAS_PERCENT,
    ) -> None:
        super().__init__(DownstreamLine(compliance_ml_per_mmhg=LINE_COMPLIANCE))
        self._rng = random.Random(seed)
        self._set_factor = 1.0 + set_bias_percent / 100.0
        self._cal_factor = 1.0
        self._container_ml = container_ml
        self._pumped = 0.0
        self._phase = 0.0  # fraction of the next micro-step already turned
        self._step_in_stroke = 0
        self._refill_left_s = 0.0
        self._stroke_factor = self._draw_stroke()
        self._up_clamped = False
        self._upstream_vacuum_steps = 0
        self._door_open = False
        self._bubbles: deque[float] = deque()  # µL queued in front of the air sensor
        self._moved_ul = 0.0  # fluid moved behind the head bubble since it reached the sensor
        self._air_history: deque[tuple[float, float]] = deque()  # (time, µL) small bubbles
        self._air_in_line = False
        self._air_accumulated = False

    # -- Mechanism -------------------------------------------------------------------------
    def advance(self, dt_s: float, rate_ml_h: float) -> None:
        if dt_s < 0.0 or rate_ml_h < 0.0:
            raise ValueError("dt_s and rate_ml_h must be >= 0")
        q = rate_ml_h / 3600.0
        remaining = dt_s
        while remaining > 0.0:
            if q == 0.0 or self._door_open:  # door interlock: motor disabled
                self._line.flow(0.0, remaining)
                return
            if self._occlusion_sensed():
                # Hardware interlock: the motor holds while the sensor reads the limit, so a
                # coarse caller cannot over-pressurise the line; resume once it re-arms.
                h = min(remaining, self._line.time_to_rearm(self.occlusion_limit_mmhg))
                self._line.flow(0.0, h)
                remaining -= h
                continue
            if self._refill_left_s > 0.0:
                h = min(remaining, self._refill_left_s)
                self._line.flow(0.0, h)
                self._refill_left_s -= h
                remaining -= h
                continue
            period = STROKE_ML / q
            refill = min(REFILL_S, REFILL_MAX_FRACTION * period)
            speed = q / STEP_ML * period / (period - refill)  # micro-steps per second
            h = (1.0 - self._phase) / speed
            if h > remaining:
                self._phase += remaining * speed
                self._line.flow(0.0, remaining)
                return
            self._line.flow(0.0, h)
            remaining -= h
            self._phase = 0.0
            self._micro_step()
            self._step_in_stroke += 1
            if self._step_in_stroke == STEPS_PER_STROKE:
                self._step_in_stroke = 0
                self._refill_left_s = refill
                self._stroke_factor = self._draw_stroke()

    def conditions(self) -> AlarmCondition:
        c = AlarmCondition(0)
        if self._occlusion_sensed():
            c |= AlarmCondition.OCCLUSION_DOWNSTREAM
        if self._upstream_vacuum_steps >= UPSTREAM_DETECT_STEPS:
            c |= AlarmCondition.OCCLUSION_UPSTREAM
        if self._air_in_line:
            c |= AlarmCondition.AIR_IN_LINE
        if self._air_accumulated:
            c |= AlarmCondition.AIR_ACCUMULATED
        if self._door_open:
            c |= AlarmCondition.DOOR_OPEN
        if self._container_ml <= 0.0:
            c |= AlarmCondition.CONTAINER_EMPTY
        return c

    def reset_air(self) -> None:
        self._air_in_line = False
        self._air_accumulated = False
        self._air_history.clear()

    def set_occlusion(self, *, downstream: bool = True, upstream: bool = False) -> None:
        if not upstream:
            self._upstream_vacuum_steps = 0
        self._line.set_clamped(downstream)
        self._up_clamped = upstream

    def inject_air(self, volume_ul: float) -> None:
        if volume_ul > 0.0:
            self._bubbles.append(volume_ul)

    def set_door_open(self, is_open: bool) -> None:
        self._door_open = is_open

    def set_empty(self) -> None:
        self._container_ml = 0.0

    def set_calibration_error(self, percent: float) -> None:
        self._cal_factor = 1.0 + percent / 100.0

    # -- extras ----------------------------------------------------------------------------
    def hang_container(self, volume_ml: float) -> None:
        """A new bag: clears CONTAINER_EMPTY."""
        self._container_ml = volume_ml

    @property
    def container_ml(self) -> float:
        return self._container_ml

    @property
    def pumped_ml(self) -> float:
        """Volume the fingers pushed into the line (delivered + what the compliance holds)."""
        return self._pumped

    # -- internals -------------------------------------------------------------------------
    def _draw_stroke(self) -> float:
        return max(0.0, self._rng.gauss(1.0, STROKE_CV))

    def _occlusion_sensed(self) -> bool:
        # A pressure transducer: the comparator's threshold is the limit itself.
        return self._line.sensed(self.occlusion_limit_mmhg)

    def _micro_step(self) -> None:
        if self._up_clamped:  # fingers close on an empty segment: vacuum upstream, no flow
            self._upstream_vacuum_steps += 1
            return
        if self._container_ml <= 0.0:
            return
        full = STEP_ML * self._stroke_factor * self._set_factor * self._cal_factor
        vol = min(full, self._container_ml)
        self._container_ml -= vol
        self._pumped += vol
        # The module counts the cam's steps x the nominal step volume (the motor's own error
        # included, the set's scatter and bias not): counted as pushed, never at the patient.
        self._counted_ml += STEP_ML * self._cal_factor * vol / full
        self._line.push(vol)
        self._move_air(vol * 1000.0)

    def _move_air(self, fluid_ul: float) -> None:
        """A bubble has passed the sensor once the column has moved by its own volume."""
        self._moved_ul += fluid_ul
        while self._bubbles and self._moved_ul >= self._bubbles[0]:
            bubble = self._bubbles.popleft()
            self._moved_ul -= bubble
            self._bubble_seen(bubble)
        if not self._bubbles:
            self._moved_ul = 0.0

    def _bubble_seen(self, volume_ul: float) -> None:
        if volume_ul >= self.air_bubble_limit_ul:
            self._air_in_line = True  # latched until reset_air()
        history = self._air_history
        now = self._line.time_s
        history.append((now, volume_ul))
        while history and history[0][0] <= now - AIR_WINDOW_S:
            history.popleft()
        if sum(v for _, v in history) > AIR_ACCUMULATED_LIMIT_UL:
            self._air_accumulated = True  # latched until reset_air()
