"""Fixtures shared by every suite."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import can.interfaces.virtual
import pytest

from tests.buslab import remote_hub

_channel_ids = itertools.count()


@pytest.fixture(autouse=True)
def _no_leaked_virtual_buses() -> Iterator[None]:
    """Like python-can's own suite: every test shuts down every virtual bus it opened."""
    yield
    leaked = dict(can.interfaces.virtual.channels)
    can.interfaces.virtual.channels.clear()
    assert not leaked, f"virtual buses left open: {list(leaked)}"


@pytest.fixture
def virtual_channel() -> str:
    """A virtual channel name no other test uses."""
    return f"test-{next(_channel_ids)}"


@pytest.fixture(scope="session")
def remote_channel() -> Iterator[str]:
    """One python-can-remote hub on 127.0.0.1 for the session; every client shares it."""
    with remote_hub() as channel:
        yield channel
