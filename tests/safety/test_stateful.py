"""Stateful property-based safety tests: random sequences of nurse actions, pump and wire
faults, workstation restarts and time, with the safety invariants checked after every quantum.

CI runs a fixed, derandomised budget (about a minute). ``pytest -m soak`` runs the long profile:
``SOAK_EXAMPLES`` (default 2000) sequences of ``SOAK_STEPS`` (default 60) steps, random, with
Hypothesis' example database in ``.hypothesis/`` so a failure found once replays first.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from .machine import SafetyMachine

CI_EXAMPLES = 20
CI_STEPS = 40

TestSafety = SafetyMachine.TestCase
TestSafety.settings = settings(
    max_examples=CI_EXAMPLES, stateful_step_count=CI_STEPS, derandomize=True, deadline=None,
    database=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)


class SoakMachine(SafetyMachine):
    """The same machine with the long budget (a separate class: its own settings)."""


@pytest.mark.soak
class TestSafetySoak(SoakMachine.TestCase):  # type: ignore[misc,valid-type]
    settings = settings(
        max_examples=int(os.environ.get("SOAK_EXAMPLES", "2000")),
        stateful_step_count=int(os.environ.get("SOAK_STEPS", "60")), derandomize=False,
        deadline=None, database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
        suppress_health_check=[HealthCheck.too_slow], print_blob=True)
