"""Delivery supervision: is the module delivering what it was told to, over 15 min?

Works on the module's own (module time, volume) pairs from the Delivery frame, against the rate
the workstation expects for the module's state. Over-infusion: > 110 % of the expected volume
over a full window at one steady expected rate; under-infusion: < 90 % (FDA GIP: 10 % for
15 min). Any change of the expected rate starts a new window. Pure and clock-free.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum


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
    min_expected_ml: float = 0.5
    ratio: float | None = None  # measured / expected over the last full window
    _samples: deque[_Sample] = field(default_factory=deque)
    _rate_ml_h: float = 0.0  # expected rate since the last sample

    def reset(self) -> None:
        self._samples.clear()
        self.ratio = None

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
            return DeliveryVerdict.UNKNOWN
        dt = module_time_s - last.module_time_s
        expected = last.expected_ml + self._rate_ml_h * dt / 3600.0
        self._samples.append(_Sample(module_time_s, expected, volume_ml))
        self._rate_ml_h = expected_rate_ml_h
        # Keep exactly one sample at or before the window start.
        start = module_time_s - self.window_s
        while len(self._samples) > 1 and self._samples[1].module_time_s <= start:
            self._samples.popleft()
        first = self._samples[0]
        if first.module_time_s > start:
            return DeliveryVerdict.UNKNOWN
        expected_ml = expected - first.expected_ml
        measured_ml = volume_ml - first.measured_ml
        if expected_ml < self.min_expected_ml:
            self.ratio = None
            return DeliveryVerdict.UNKNOWN
        self.ratio = measured_ml / expected_ml
        if self.ratio > self.over_ratio:
            return DeliveryVerdict.OVER
        if self.ratio < self.under_ratio:
            return DeliveryVerdict.UNDER
        return DeliveryVerdict.OK
