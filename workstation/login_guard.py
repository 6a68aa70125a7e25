"""Unlock attempts: rate-limited per user name, locked out after N failures. Pure (clock in).

PINs are short (4 digits = 10 000 guesses), so the hash alone does not protect them at the
keypad: after each failure the next try for that name waits longer (``delay_s`` times the
failures so far), and ``max_failures`` in a row lock the name out for ``lockout_s``. Unknown
names are counted like known ones, so the answers never tell which names exist. A success
clears the name's count. The caller logs every outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    OK = "ok"
    WRONG = "wrong"  # wrong user or PIN; may try again after ``wait_s``
    LOCKED_OUT = "locked out"  # too many failures: wait ``wait_s``
    TOO_SOON = "too soon"  # not tried: wait ``wait_s``


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    failures: int = 0
    wait_s: float = 0.0

    def message(self, max_failures: int) -> str:
        wait = math.ceil(self.wait_s)
        if self.verdict is Verdict.WRONG:
            left = max_failures - self.failures
            return f"Wrong user or PIN ({left} tries left before a lock-out; next try in " \
                   f"{wait} s)"
        if self.verdict is Verdict.LOCKED_OUT:
            return f"Too many wrong PINs for this user: locked out for {wait} s. Another " \
                   "user may unlock; Space still pauses audio."
        if self.verdict is Verdict.TOO_SOON:
            return f"Wait {wait} s before trying again"
        return ""


@dataclass
class _Record:
    failures: int = 0
    not_before: float = -math.inf


class LoginGuard:
    def __init__(self, *, max_failures: int = 5, lockout_s: float = 300.0,
                 delay_s: float = 2.0) -> None:
        self.max_failures, self.lockout_s, self.delay_s = max_failures, lockout_s, delay_s
        self._records: dict[str, _Record] = {}

    def _record(self, name: str) -> _Record:
        return self._records.setdefault(name.strip().lower(), _Record())

    def may_try(self, name: str, now: float) -> Outcome:
        """OK to try now, else TOO_SOON or LOCKED_OUT with the seconds left."""
        rec = self._record(name)
        if now >= rec.not_before:
            if rec.failures >= self.max_failures:  # the lock-out has passed: start again
                rec.failures = 0
            return Outcome(Verdict.OK, rec.failures)
        verdict = Verdict.LOCKED_OUT if rec.failures >= self.max_failures else Verdict.TOO_SOON
        return Outcome(verdict, rec.failures, rec.not_before - now)

    def failed(self, name: str, now: float) -> Outcome:
        rec = self._record(name)
        rec.failures += 1
        if rec.failures >= self.max_failures:
            rec.not_before = now + self.lockout_s
            return Outcome(Verdict.LOCKED_OUT, rec.failures, self.lockout_s)
        rec.not_before = now + self.delay_s * rec.failures
        return Outcome(Verdict.WRONG, rec.failures, self.delay_s * rec.failures)

    def succeeded(self, name: str) -> Outcome:
        self._records.pop(name.strip().lower(), None)
        return Outcome(Verdict.OK)
