"""The shipped workstation configs: they load, say what they should, and the example names every
field with the code's defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from channels.config import ChannelConfig, CommandConfig, SupervisionConfig
from channels.druglib import load_drug_library
from tests.workstation.config_support import EXAMPLE, LIBRARY, SHIPPED, TWO_STATIONS
from workstation.config import (
    SLOTS_PER_BUS,
    AlarmConfig,
    BusConfig,
    HeartbeatConfig,
    TelemetryConfig,
    WorkstationConfig,
    channel_letters,
    load_config,
)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_config_loads_and_every_channel_bus_exists(path: Path) -> None:
    config = load_config(path)
    bus_names = {b.name for b in config.buses}
    assert config.channels
    for channel in config.channels:
        assert channel.bus in bus_names, f"channel {channel.letter} on unknown bus {channel.bus}"
        assert 1 <= channel.slot <= SLOTS_PER_BUS
        assert len(channel.label) <= 24 and channel.label
    assert len({c.letter for c in config.channels}) == len(config.channels)
    assert len({(c.bus, c.slot) for c in config.channels}) == len(config.channels)
    assert {c.kind for c in config.channels} == {"volumetric", "syringe"}
    # The library path in the file is relative to the file, and it names the shipped library.
    assert config.drug_library.is_absolute()
    assert config.drug_library.resolve() == LIBRARY.resolve()
    library = load_drug_library(config.drug_library)
    assert library.care_area(config.care_area).id == "adult-icu"
    # The event log stays relative: relative to the working directory of icu-ws, not the file.
    assert not config.event_log.is_absolute()
    assert config.telemetry.enabled is False


def test_example_config_contents() -> None:
    config = load_config(EXAMPLE)
    assert [b.name for b in config.buses] == ["can0"]
    bus = config.buses[0]
    assert (bus.interface, bus.channel, bus.bitrate) == ("socketcan", "vcan0", None)
    assert [c.letter for c in config.channels] == list("ABCDEFGH")
    assert [c.slot for c in config.channels] == list(range(1, 9))
    assert config.patient_weight_kg is None
    assert config.care_area == "adult-icu"
    assert config.event_log == Path("var/events.db")


def test_two_stations_config_contents() -> None:
    config = load_config(TWO_STATIONS)
    assert [(b.name, b.interface, b.channel) for b in config.buses] == [
        ("can0", "socketcan", "vcan0"), ("can1", "socketcan", "vcan1")]
    assert len(config.channels) == 12
    for bus in ("can0", "can1"):
        assert sorted(c.slot for c in config.channels if c.bus == bus) == list(range(1, 7))
    assert [c.letter for c in config.channels] == channel_letters(12)


def _fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def test_example_config_names_every_field() -> None:
    """Each field of each model appears in the example, set or commented out (optional ones)."""
    text = EXAMPLE.read_text()
    models: list[type[BaseModel]] = [WorkstationConfig, BusConfig, HeartbeatConfig, ChannelConfig,
                                     AlarmConfig, CommandConfig, SupervisionConfig,
                                     TelemetryConfig]
    for model in models:
        for field in _fields(model):
            pattern = rf"^((# )?{field} = |\[{field}\]$|\[\[{field}\]\]$)"
            assert re.search(pattern, text, re.MULTILINE), \
                f"{model.__name__}.{field} is not in {EXAMPLE.name}"
    for section in ("heartbeat", "alarms", "commands", "supervision", "telemetry"):
        assert re.search(rf"^\[{section}\]$", text, re.MULTILINE), section
    assert re.search(r"^# bitrate = 500000$", text, re.MULTILINE)


SECTIONS: dict[str, type[BaseModel]] = {
    "heartbeat": HeartbeatConfig, "alarms": AlarmConfig, "commands": CommandConfig,
    "supervision": SupervisionConfig,
}


@pytest.mark.parametrize("section", SECTIONS)
def test_example_config_comments_state_the_code_defaults(section: str) -> None:
    """The 'default N' written above each tuning field matches the model's default."""
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index(f"[{section}]")
    model = SECTIONS[section]
    for field, info in model.model_fields.items():
        index = next(i for i in range(start, len(lines)) if lines[i].startswith(f"{field} = "))
        comment: list[str] = []
        i = index - 1
        while lines[i].startswith("#"):
            comment.insert(0, lines[i])
            i -= 1
        found = re.search(r"default ([0-9.]+)", " ".join(comment))
        assert found, f"{section}.{field}: no 'default N' in its comment"
        assert float(found.group(1).rstrip(".")) == pytest.approx(info.default), \
            f"{section}.{field}"
