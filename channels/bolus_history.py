"""The boluses a patient was given, by drug, and the library's bolus lockout and hourly limits.

Pure: times come from the caller's clock (the workstation's), nothing here reads one. One
history per workstation (one patient): a bolus of fentanyl on channel B counts against the next
fentanyl bolus on channel D. Doses are kept in the drug's bolus unit (per kg when it is per kg,
which is right because the workstation has one patient weight).

H4: the bolus screen said "at least 5 min between boluses" but nothing enforced it, and there
was no cumulative limit: four fentanyl boluses were accepted within 2 minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from channels.druglib import Drug, fmt
from channels.events import LogRow
from channels.limits import LimitCheck, Verdict

__all__ = ["BolusHistory", "from_log", "wait_text"]

WINDOW_S = 3600.0  # the library's per-hour limits are over a rolling hour


def wait_text(seconds: float) -> str:
    """'4 min 20 s', '45 s', '1 h 02 min': how long until the next bolus is allowed."""
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


class BolusHistory:
    """Given boluses, (time, dose) by drug id, oldest first."""

    def __init__(self, given: Iterable[tuple[str, float, float]] = ()) -> None:
        self._given: dict[str, list[tuple[float, float]]] = {}
        for drug_id, dose, at in given:
            self.record(drug_id, dose, at)

    def record(self, drug_id: str, dose: float, at: float) -> None:
        """A bolus that started (counted whole even if stopped early: the safe side)."""
        entries = self._given.setdefault(drug_id, [])
        entries.append((at, dose))
        entries.sort()

    def _recent(self, drug_id: str, now: float) -> list[tuple[float, float]]:
        return [(at, dose) for at, dose in self._given.get(drug_id, [])
                if now - WINDOW_S < at <= now]

    def last(self, drug_id: str, now: float) -> float | None:
        times = [at for at, _ in self._given.get(drug_id, []) if at <= now]
        return times[-1] if times else None

    def count_in_last_hour(self, drug_id: str, now: float) -> int:
        return len(self._recent(drug_id, now))

    def amount_in_last_hour(self, drug_id: str, now: float) -> float:
        return sum(dose for _, dose in self._recent(drug_id, now))

    def check(self, drug: Drug, dose: float, now: float) -> list[LimitCheck]:
        """HARD checks for the lockout and the hourly limits (none when the bolus may go)."""
        bolus = drug.bolus
        if bolus is None:
            return []
        unit, out = str(bolus.dose_unit), []
        last = self.last(drug.id, now)
        interval_s = (bolus.min_interval_min or 0.0) * 60
        if last is not None and interval_s and now - last < interval_s:
            text = (f"{drug.name}: at least {fmt(bolus.min_interval_min or 0)} min between "
                    f"boluses; the last was {wait_text(now - last)} ago: next bolus in "
                    f"{wait_text(last + interval_s - now)}")
            out.append(LimitCheck(Verdict.HARD, "bolus", dose, bolus.min_interval_min,
                                  "min", text))
        recent = self._recent(drug.id, now)
        if bolus.max_doses_per_hour is not None and len(recent) >= bolus.max_doses_per_hour:
            # The oldest that must leave the window for one more to fit.
            leaves = recent[len(recent) - bolus.max_doses_per_hour][0] + WINDOW_S
            text = (f"{drug.name}: at most {bolus.max_doses_per_hour} boluses per hour; "
                    f"{len(recent)} given in the last hour: next bolus in "
                    f"{wait_text(leaves - now)}")
            out.append(LimitCheck(Verdict.HARD, "bolus", dose, bolus.max_doses_per_hour,
                                  "boluses/h", text))
        cap = bolus.max_amount_per_hour
        given = sum(d for _, d in recent)
        if cap is not None and given + dose > cap * (1 + 1e-9):
            left, wait_until = given, now
            for at, d in recent:  # oldest first: wait until enough has left the window
                if left + dose <= cap * (1 + 1e-9):
                    break
                left, wait_until = left - d, at + WINDOW_S
            when = f"this bolus is allowed in {wait_text(wait_until - now)}" \
                if dose <= cap else "this bolus is above the hourly maximum"
            text = (f"{drug.name}: at most {fmt(cap)} {unit} of boluses per hour; "
                    f"{fmt(given)} {unit} given in the last hour, {fmt(dose)} more would be "
                    f"{fmt(given + dose)} {unit}: {when} (next bolus in "
                    f"{wait_text(wait_until - now)})")
            out.append(LimitCheck(Verdict.HARD, "bolus", dose, cap, unit, text))
        return out


def from_log(rows: Iterable[LogRow], now: float, wall_now: datetime) -> BolusHistory:
    """The boluses started in the last hour, from the event log's PROGRAM rows, on the
    caller's clock: a restarted workstation keeps the lockout and the hourly limits."""
    history = BolusHistory()
    for row in rows:
        plan = row.data.get("plan")
        if row.data.get("step") != "active" or not isinstance(plan, dict) or \
                plan.get("kind") != "bolus":
            continue
        age = (wall_now - row.wall_time).total_seconds()
        dose, drug_id = plan.get("dose"), plan.get("drug_id")
        if 0 <= age < WINDOW_S and isinstance(dose, int | float) and isinstance(drug_id, str):
            history.record(drug_id, float(dose), now - age)
    return history
