"""Fixtures of the safety tests: the stateful machine, driven by hand in regression tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .machine import SafetyMachine


@pytest.fixture
def machine() -> Iterator[SafetyMachine]:
    """The coupled system with its invariants, as the stateful test builds it; call its rules
    as Hypothesis' shrunk sequence does, then ``machine.safe()``."""
    state = SafetyMachine()
    try:
        yield state
    finally:
        state.teardown()
