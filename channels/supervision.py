"""Delivery supervision: is the module delivering what it was told to, over 15 min?

Works on the module's own (module time, volume) pairs from the Delivery frame, against the rate
the workstation expects for the module's state. Over-infusion: > 110 % of the expected volume
over a full window at one steady expected rate; under-infusion: < 90 % (FDA GIP: 10 % for
15 min). Any change of the expected rate starts a new window. Pure and clock-free.

Low rates (H9): the window is ``window_s`` (15 min) unless that holds less than
``min_expected_ml``; then it grows until it does, up to ``max_window_s`` (1 h). The module's
volume is its own displacement count (strokes x nominal volume, plunger steps x nominal bore,
0.001 mL in the frame), not the pulsatile flow at the patient end, so its resolution is one
motor step: <= 5 µL (a volumetric micro-step, plus rounding). With ``min_expected_ml`` at
0.1 mL that is <= 5 % of a window, half the 10 % band: rates down to 0.4 mL/h are judged over
15 min, 0.1 mL/h over 1 h. Below what ``max_window_s`` can hold, no verdict (UNKNOWN).

Start-up: a window starts once the count first moves after a start or rate change (a syringe
takes up its slack first: ~80 s at 0.5 mL/h, 9 % of a 15 min window), but no later than
``startup_grace_s`` after it, so a pump that never moves is still judged.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["DeliverySupervisor", "DeliveryVerdict"]


class DeliveryVerdict(Enum):
    UNKNOWN = "unknown"  # not enough history, or too little expected volume to judge
    OK = "ok"
    OVER = "over"
    UNDER = "under"


@dataclass(frozen=True)
class _Sample:
    module_time_s: float
    expected_ml: float  # cumulative expected volume
    measured_ml: float  # the module's volume counter


@dataclass
class DeliverySupervisor:
    window_s: float = 900.0
    over_ratio: float = 1.10
    under_ratio: float = 0.90
    min_expected_ml: float = 0.1
    max_window_s: float = 3600.0
    startup_grace_s: float = 300.0
    ratio: float | None = None  # measured / expected over the last full window
    judged_window_s: float | None = None  # the window that ratio was taken over
    _samples: deque[_Sample] = field(default_factory=deque)
    _rate_ml_h: float = 0.0  # expected rate since the last sample
    _started: bool = False  # the count has moved (or the grace ran out) since the reset
    _reset_at: float = 0.0

    def reset(self) -> None:
        self._samples.clear()
        self.ratio = self.judged_window_s = None

    def window_for(self, rate_ml_h: float) -> float:
        """The window a steady ``rate_ml_h`` is judged over (seconds of module time)."""
        if rate_ml_h <= 0.0:
            return self.window_s
        needed = self.min_expected_ml / rate_ml_h * 3600.0
        return min(max(self.window_s, needed), max(self.window_s, self.max_window_s))

    def sample(self, module_time_s: float, volume_ml: float,
               expected_rate_ml_h: float) -> DeliveryVerdict:
        """Add a sample; ``expected_rate_ml_h`` is what should run from now on."""
        last = self._samples[-1] if self._samples else None
        if last is not None and (module_time_s < last.module_time_s or
                                 volume_ml < last.measured_ml - 1e-6 or
                                 abs(expected_rate_ml_h - self._rate_ml_h) > 1e-6):
            # The module rebooted, its counter was reset, or the expected rate changed (start,
            # pause, titration, bolus...): a verdict needs a full window at one steady rate.
            self.reset()
            last = None
        if last is None:
            self._samples.append(_Sample(module_time_s, 0.0, volume_ml))
            self._rate_ml_h = expected_rate_ml_h
            self._started, self._reset_at = False, module_time_s
            return DeliveryVerdict.UNKNOWN
        if not self._started:
            moved = volume_ml > last.measured_ml + 1e-9
            if moved or module_time_s - self._reset_at >= self.startup_grace_s:
                self._started = True
            else:  # still starting up: the window is anchored here
                self._samples.clear()
                self._samples.append(_Sample(module_time_s, 0.0, volume_ml))
                return DeliveryVerdict.UNKNOWN
        dt = module_time_s - last.module_time_s
        expected = last.expected_ml + self._rate_ml_h * dt / 3600.0
        self._samples.append(_Sample(module_time_s, expected, volume_ml))
        self._rate_ml_h = expected_rate_ml_h
        # Keep exactly one sample at or before the window start (the rate is steady since the
        # first sample, so the window is the same for all of them).
        window = self.window_for(expected_rate_ml_h)
        start = module_time_s - window
        while len(self._samples) > 1 and self._samples[1].module_time_s <= start:
            self._samples.popleft()
        first = self._samples[0]
        if first.module_time_s > start:
            return DeliveryVerdict.UNKNOWN
        expected_ml = expected - first.expected_ml
        measured_ml = volume_ml - first.measured_ml
        if expected_ml < self.min_expected_ml - 1e-9:
            self.ratio = self.judged_window_s = None
            return DeliveryVerdict.UNKNOWN
        self.ratio = measured_ml / expected_ml
        self.judged_window_s = module_time_s - first.module_time_s
        if self.ratio > self.over_ratio:
            return DeliveryVerdict.OVER
        if self.ratio < self.under_ratio:
            return DeliveryVerdict.UNDER
        return DeliveryVerdict.OK
