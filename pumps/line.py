"""Downstream line shared by the pump models: one compliance draining through R to venous.

The line obeys C·dP/dt = q - (P - P_venous)/R. Within a span the pushed flow ``q`` is constant
and the pressure is solved exactly, so results do not depend on how a model chunks time. The
line also carries the downstream clamp, the volume delivered to the patient, the module clock
(it advances only as the line is solved) and the occlusion comparator with hysteresis.
"""

from __future__ import annotations

import math

__all__ = ["HOLD_MARGIN_S", "LINE_RESISTANCE", "VENOUS_MMHG", "DownstreamLine"]

VENOUS_MMHG = 10.0
# mmHg·s/mL, set + extension + 22 G cannula. A 22 G cannula is rated ~35 mL/min of water at
# 1 m head (ISO 10555-5 gravity flow): 74 mmHg / 0.58 mL/s = ~125; the set, extension,
# connector and valve about as much again. So ~1.4 mmHg above venous at 25 mL/h and ~55 mmHg at
# 999 mL/h: a clear line at the top rate stays far below a 300 mmHg limit. (It was 2160, which
# put a clear line at 609 mmHg at 999 mL/h: the pump cycled occlusion-stop/auto-restart.)
LINE_RESISTANCE = 200.0
CLAMP_FACTOR = 1e6  # a clamp multiplies the resistance: only a negligible leak passes
OCCLUSION_HYSTERESIS_MMHG = 5.0  # the comparator re-arms this far below its threshold
HOLD_MARGIN_S = 1e-6  # step past the instant the comparator re-arms


class DownstreamLine:
    """Pressure, compliance, resistance, clamp and delivered volume of the patient line."""

    def __init__(
        self,
        *,
        compliance_ml_per_mmhg: float,
        resistance: float = LINE_RESISTANCE,
        venous_mmhg: float = VENOUS_MMHG,
        clamp_factor: float = CLAMP_FACTOR,
        hysteresis_mmhg: float = OCCLUSION_HYSTERESIS_MMHG,
    ) -> None:
        # Public: a syringe driver changes it with each syringe (the stopper adds compliance).
        self.compliance = compliance_ml_per_mmhg
        self._resistance = resistance
        self._venous = venous_mmhg
        self._clamp_factor = clamp_factor
        self._hysteresis = hysteresis_mmhg
        self._clamped = False
        self._pressure = venous_mmhg
        self._delivered = 0.0
        self._time_s = 0.0
        self._last_bolus = 0.0
        self._tripped = False

    @property
    def pressure_mmhg(self) -> float:
        return self._pressure

    @property
    def delivered_ml(self) -> float:
        """Volume that left the line into the patient (what a balance would weigh)."""
        return self._delivered

    @property
    def time_s(self) -> float:
        """Module time simulated so far."""
        return self._time_s

    @property
    def last_release_bolus_ml(self) -> float:
        """Volume stored in the line when the clamp was last released."""
        return self._last_bolus

    # -- clamp and stored volume -------------------------------------------------------------
    def set_clamped(self, clamped: bool) -> None:
        if self._clamped and not clamped:
            # What the compliance holds above venous flows out once the clamp opens.
            self._last_bolus = self.stored_ml()
        self._clamped = clamped

    def stored_ml(self) -> float:
        """Volume the compliance holds above venous."""
        return max(0.0, self._pressure - self._venous) * self.compliance

    def withdraw_stored(self) -> float:
        """Take back what the compliance holds (bolus reduction); returns mL."""
        volume = self.stored_ml()
        self._pressure = self._venous
        return volume

    def restart(self) -> None:
        """A fresh line at venous pressure with the comparator re-armed."""
        self._pressure = self._venous
        self._tripped = False

    # -- occlusion comparator ------------------------------------------------------------------
    def sensed(self, threshold_mmhg: float) -> bool:
        """Comparator with hysteresis: trips at the threshold, re-arms HYST below it."""
        if self._pressure >= threshold_mmhg:
            self._tripped = True
        elif self._pressure < threshold_mmhg - self._hysteresis:
            self._tripped = False
        return self._tripped

    def trip(self) -> None:
        """The motor stopped exactly at the threshold: latch without re-comparing."""
        self._tripped = True

    def time_to_rearm(self, threshold_mmhg: float) -> float:
        """How long a held motor waits for the comparator to re-arm."""
        return self.time_to_fall_below(threshold_mmhg - self._hysteresis)

    # -- exact solution ------------------------------------------------------------------------
    def push(self, volume_ml: float) -> None:
        """An instantaneous volume pulse into the compliance (a peristaltic micro-step)."""
        self._pressure += volume_ml / self.compliance

    def tau_and_r(self) -> tuple[float, float]:
        r = self._resistance * (self._clamp_factor if self._clamped else 1.0)
        return r * self.compliance, r

    def time_to_pressure(self, q: float, p_target: float) -> float:
        """Time for the pressure to reach ``p_target`` at constant push ``q`` (inf if never)."""
        tau, r = self.tau_and_r()
        p_ss = self._venous + q * r
        if p_ss <= p_target:
            return math.inf
        return tau * math.log1p(max(0.0, p_target - self._pressure) / (p_ss - p_target))

    def time_to_fall_below(self, p_target: float) -> float:
        if p_target <= self._venous:
            return math.inf
        tau, _ = self.tau_and_r()
        ratio = (self._pressure - self._venous) / (p_target - self._venous)
        return tau * math.log(max(ratio, 1.0)) + HOLD_MARGIN_S

    def flow(self, q: float, h: float) -> None:
        """Exact solution of C·dP/dt = q - (P - P_venous)/R over ``h`` seconds."""
        if h <= 0.0:
            return
        tau, r = self.tau_and_r()
        p_ss = self._venous + q * r
        rise = (p_ss - self._pressure) * -math.expm1(-h / tau)
        self._pressure += rise
        self._delivered += q * h - rise * self.compliance
        self._time_s += h
