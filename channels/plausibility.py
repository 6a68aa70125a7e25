"""Is what a module reports plausible? (issue 10, B3). Pure, one instance per channel.

CRC and counters tell a frame was not corrupted, not that it is true: a second sender can
send a well-formed Status saying 999 mL/h, or a Delivery whose volume went back and so restarted
the delivery supervision window (B3: one such frame every 3 s hid a 30 %-fast pump's
over-infusion for 47 s). A report that contradicts both the program and the module's own history
is flagged (IMPLAUSIBLE_DELIVERY) and not taken into the view nor into supervision:

* Status: a rate far off the program while the last ``RATE_HISTORY`` statuses agreed with it,
  with no command since. A slower rate that persists is the motor's truth and goes through (the
  stop/rate rules then judge it: UNCOMMANDED_RATE); a faster one only once the taken Deliveries
  show at least half of it (a forger that out-races every Status cannot move the volume).
* Delivery: against the last accepted (module time, volume), the volume must not go back and
  must not grow faster than the fastest plausible rate x elapsed module time. One frame off that
  line is held as a candidate and dropped; only a second frame continuing from the candidate
  (the module really restarted its counter or runs away) is accepted. So no single frame can
  restart supervision. A reboot, a volume reset or a program change restart the line
  (``restart``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["RATE_DOUBTS", "RATE_HISTORY", "ReportPlausibility"]

RATE_HISTORY = 3  # agreeing statuses before a contradiction is doubted
RATE_AGREE = 0.10  # relative: a status agrees with the program within 10 %
RATE_FAR = 0.50  # relative: doubted only beyond 50 % off the program ...
RATE_FAR_MIN_ML_H = 1.0  # ... and at least this far
RATE_DOUBTS = 2  # consecutive doubted statuses; the next one is the motor's truth
VOLUME_SLACK = 1.5  # a Delivery may show up to this x the fastest plausible rate
VOLUME_FLOOR_ML = 0.02  # plus a few motor steps and the frame's rounding
MODULE_TIME_WRAP_S = (1 << 28) * 0.01  # Delivery.ModuleTime (28 bits of 10 ms)
MEASURED_POINTS = 8  # taken Deliveries the measured rate is taken over
CORROBORATED = 0.5  # a faster Status is the truth once Deliveries show half its rate


@dataclass(frozen=True)
class _Point:
    module_time_s: float
    volume_ml: float


@dataclass
class ReportPlausibility:
    _agreeing: int = 0
    _doubts: int = 0
    _last: _Point | None = None
    _candidate: _Point | None = None
    _rates: tuple[float, float] = (0.0, 0.0)  # the last two taken statuses' rates
    _line: deque[_Point] = field(default_factory=lambda: deque(maxlen=MEASURED_POINTS))

    def restart(self) -> None:
        """The module's counters may restart (reboot, volume reset, new program): the next
        Delivery is the new baseline and the rate history is rebuilt."""
        self._last = self._candidate = None
        self._line.clear()
        self.commanded()

    def commanded(self) -> None:
        """A command was sent: the rate may change; rebuild the history first."""
        self._agreeing = self._doubts = 0

    def status_rate(self, reported_ml_h: float, program_ml_h: float | None) -> str | None:
        """None if plausible, else why (the Status must not be taken)."""
        if program_ml_h is None:
            self._agreeing = self._doubts = 0
            self._took(reported_ml_h)
            return None
        off = abs(reported_ml_h - program_ml_h)
        if off <= RATE_AGREE * program_ml_h + 0.05:
            self._agreeing += 1
            self._doubts = 0
            self._took(reported_ml_h)
            return None
        far = off > max(RATE_FAR * program_ml_h, RATE_FAR_MIN_ML_H)
        measured = self.measured_ml_h()
        faster_unseen = reported_ml_h > program_ml_h and (
            measured is None or measured < CORROBORATED * reported_ml_h)
        if far and self._agreeing >= RATE_HISTORY and (faster_unseen or
                                                      self._doubts < RATE_DOUBTS):
            self._doubts += 1
            return (f"Status says {reported_ml_h:g} mL/h, the program {program_ml_h:g} mL/h and "
                    f"the last {self._agreeing} statuses agreed with it")
        self._agreeing = self._doubts = 0  # persistent: the motor really changed
        self._took(reported_ml_h)
        return None

    def measured_ml_h(self) -> float | None:
        """The rate the taken Deliveries show (over the last few), None before two."""
        if len(self._line) < 2:
            return None
        first, last = self._line[0], self._line[-1]
        dt = last.module_time_s - first.module_time_s
        return (last.volume_ml - first.volume_ml) / dt * 3600.0 if dt > 0 else None

    def _took(self, rate_ml_h: float) -> None:
        self._rates = (self._rates[1], rate_ml_h)

    def delivery(self, module_time_s: float, volume_ml: float,
                 max_rate_ml_h: float) -> str | None:
        """None if plausible, else why (the Delivery must not be taken). ``max_rate_ml_h``:
        the fastest rate the channel's programs allow now; the rates of the last two taken
        statuses count too (the frame's period may span a rate change)."""
        max_rate_ml_h = max(max_rate_ml_h, *self._rates)
        point = _Point(module_time_s, volume_ml)
        last = self._last
        if last is None:
            self._take(point)
            return None
        why = self._off_line(last, point, max_rate_ml_h)
        if why is None:
            self._take(point)
            return None
        candidate = self._candidate
        if candidate is not None and self._off_line(candidate, point, None) is None:
            self._line.clear()  # two frames agree: the module moved on, measure afresh
            self._line.append(candidate)
            self._take(point)
            return None
        self._candidate = point
        return why

    def _take(self, point: _Point) -> None:
        self._last, self._candidate = point, None
        self._line.append(point)

    @staticmethod
    def _off_line(last: _Point, point: _Point, max_rate_ml_h: float | None) -> str | None:
        dt = point.module_time_s - last.module_time_s
        if dt < -MODULE_TIME_WRAP_S / 2:
            dt += MODULE_TIME_WRAP_S  # the module clock wrapped
        dv = point.volume_ml - last.volume_ml
        if dt < 0:
            return (f"Delivery module time went back from {last.module_time_s:g} s to "
                    f"{point.module_time_s:g} s")
        if dv < -1e-6:
            return (f"Delivery volume went back from {last.volume_ml:.3f} mL to "
                    f"{point.volume_ml:.3f} mL")
        if max_rate_ml_h is None:
            return None
        allowed = VOLUME_SLACK * max_rate_ml_h * dt / 3600.0 + VOLUME_FLOOR_ML
        if dv > allowed:
            return (f"Delivery volume rose {dv:.3f} mL in {dt:g} s of module time, at most "
                    f"{allowed:.3f} mL at {max_rate_ml_h:g} mL/h")
        return None
