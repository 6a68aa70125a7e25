"""Early downstream occlusion from a steady rise of the plunger force (syringe drivers).

A syringe's compliance (stopper + line, ~3 µL/mmHg on a 50 mL syringe) makes a fixed force
threshold slow at low rates: at 0.5 mL/h the pressure climbs ~2.8 mmHg/min, so 300 mmHg takes
well over an hour. A blocked line shows long before that as a force that keeps rising while
the motor pushes; a clear line settles within seconds at venous + flow x resistance.

The rule (pure; samples in, verdict out): the force, expressed as line pressure over the
nominal friction, is averaged over segments of ``segment_s``; an occlusion is a run of at
least ``segments`` consecutive segment means each rising at ``slope_mmhg_min`` or more (or at
half the rate a blocked line would rise at, if that is less: 0.1 mL/h on a 50 mL syringe),
that has risen ``min_rise_mmhg`` in all. What it must not take for an occlusion:
- the start-up transient of a clear line (venous -> venous + qR, a few time constants of
  ~0.6 s): one segment, not a run;
- slack take-up (the pusher closing the gap to the flange, then loading the stopper until it
  breaks away): no flow and a force rising from zero, but below the contact floor (the
  nominal friction less its tolerance) until the last few seconds, and samples below the
  floor break a run;
- sensor noise: averaged over a segment.
Any sample with the motor not pushing (paused, held, door open) ends the run.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PressureTrend", "TrendRule"]

SEGMENT_S = 30.0  # averaging segment: ~30 force samples at the 1 s mechanism sub-step
SEGMENTS = 4  # a run of 4 rising segments: the rise lasted at least 2 min
SLOPE_MMHG_MIN = 1.5  # an occluded 50 mL syringe at 0.5 mL/h rises 2.8 mmHg/min
SLOPE_FRACTION = 0.5  # below that, half the rise a blocked line would show at this rate
MIN_RISE_MMHG = 15.0  # above any clear-line start-up transient at up to 200 mL/h (qR ~ 11)


@dataclass(frozen=True)
class TrendRule:
    segment_s: float = SEGMENT_S
    segments: int = SEGMENTS
    slope_mmhg_min: float = SLOPE_MMHG_MIN
    min_rise_mmhg: float = MIN_RISE_MMHG

    def __post_init__(self) -> None:
        if self.segment_s <= 0 or self.segments < 2 or self.slope_mmhg_min <= 0 \
                or self.min_rise_mmhg <= 0:
            raise ValueError(f"occlusion trend rule {self}: segment_s, slope and rise must be "
                             "> 0 and segments >= 2")


class PressureTrend:
    """Consistent-rise detector over segment means of the force-derived pressure."""

    def __init__(self, rule: TrendRule | None = None) -> None:
        self.rule = rule or TrendRule()
        self.tripped = False
        self._seg_start: float | None = None
        self._seg_sum = 0.0
        self._seg_n = 0
        self._seg_low = False  # a sample of this segment was below the contact floor
        self._run_start: float | None = None  # mean where the current rising run began
        self._last_mean: float | None = None
        self._run_len = 0
        self._slope = self.rule.slope_mmhg_min

    def reset(self) -> None:
        """Start over (motor stopped, syringe changed, plunger backed off); clears the trip."""
        self.tripped = False
        self._restart_run()

    def _restart_run(self) -> None:
        self._seg_start = None
        self._seg_sum, self._seg_n, self._seg_low = 0.0, 0, False
        self._run_start = self._last_mean = None
        self._run_len = 0

    def sample(self, time_s: float, pressure_mmhg: float, floor_mmhg: float,
               pushing: bool, occluded_slope_mmhg_min: float | None = None) -> bool:
        """One force reading (as pressure over nominal friction); True once tripped.

        ``floor_mmhg``: below it the pusher may not be in full contact with the stopper yet.
        ``occluded_slope_mmhg_min``: how fast a blocked line would rise at the running rate
        (rate / compliance); at very low rates the slope rule follows it down.
        """
        if occluded_slope_mmhg_min is not None:
            self._slope = min(self.rule.slope_mmhg_min,
                              SLOPE_FRACTION * occluded_slope_mmhg_min)
        if self.tripped:
            return True
        if not pushing:
            self._restart_run()
            return False
        if self._seg_start is None:
            self._seg_start = time_s
        self._seg_sum += pressure_mmhg
        self._seg_n += 1
        self._seg_low |= pressure_mmhg < floor_mmhg
        if time_s - self._seg_start < self.rule.segment_s:
            return False
        mean, low = self._seg_sum / self._seg_n, self._seg_low
        self._seg_start = time_s
        self._seg_sum, self._seg_n, self._seg_low = 0.0, 0, False
        self._close_segment(mean, low)
        return self.tripped

    def _close_segment(self, mean: float, low: bool) -> None:
        rule = self.rule
        step = self._slope * rule.segment_s / 60.0
        if low:
            self._run_start = self._last_mean = None
            self._run_len = 0
            return
        if self._last_mean is not None and mean - self._last_mean >= step:
            self._run_len += 1
        else:
            self._run_start, self._run_len = mean, 0
        self._last_mean = mean
        assert self._run_start is not None
        if self._run_len >= rule.segments and mean - self._run_start >= rule.min_rise_mmhg:
            self.tripped = True
