"""The demo's config: channels lettered A..ZZ, filled onto virtual buses slot by slot."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbc.errors import ConfigError
from workstation.config import SLOTS_PER_BUS, channel_letters, demo_config


@pytest.mark.parametrize(("count", "buses", "last_letter"),
                         [(1, 1, "A"), (8, 1, "H"), (31, 1, "AE"), (32, 2, "AF"),
                          (64, 3, "BL"), (26 * 27, 23, "ZZ")])
def test_demo_config(count: int, buses: int, last_letter: str) -> None:
    config = demo_config(count)
    letters = [c.letter for c in config.channels]
    assert len(letters) == count and len(set(letters)) == count
    assert letters[:26] == [chr(ord("A") + i) for i in range(min(count, 26))]
    if count > 26:
        assert letters[26:28] == ["AA", "AB"][:count - 26]
    assert letters[-1] == last_letter
    assert len(config.buses) == buses
    assert len({b.name for b in config.buses}) == buses
    per_bus: dict[str, list[int]] = {}
    for c in config.channels:
        per_bus.setdefault(c.bus, []).append(c.slot)
    assert list(per_bus) == [b.name for b in config.buses]  # every bus is used, in order
    for slots in per_bus.values():
        assert len(slots) <= SLOTS_PER_BUS
        assert slots == list(range(1, len(slots) + 1))
    full, rest = divmod(count, SLOTS_PER_BUS)
    assert [len(s) for s in per_bus.values()] == [SLOTS_PER_BUS] * full + ([rest] if rest else [])
    assert [c.kind for c in config.channels] == \
        ["volumetric" if i % 2 == 0 else "syringe" for i in range(count)]
    assert all(c.label and len(c.label) <= 24 for c in config.channels)
    assert config.patient_weight_kg is not None


def test_demo_config_buses_are_virtual_and_named_by_prefix() -> None:
    config = demo_config(40, channel_prefix="ward")
    assert [(b.name, b.interface, b.channel) for b in config.buses] == [
        ("ward0", "virtual", "ward0"), ("ward1", "virtual", "ward1")]
    assert config.event_log == Path("var/demo-events.db")


@pytest.mark.parametrize("count", [0, -1, 26 * 27 + 1])
def test_demo_config_rejects_impossible_counts(count: int) -> None:
    with pytest.raises(ConfigError) as info:
        demo_config(count)
    assert info.value.path == "--channels"
    assert str(count) in str(info.value)


def test_channel_letters() -> None:
    letters = channel_letters(26 * 27)
    assert letters[:3] == ["A", "B", "C"]
    assert letters[25:29] == ["Z", "AA", "AB", "AC"]
    assert letters[51:53] == ["AZ", "BA"]
    assert len(set(letters)) == len(letters)
