"""Bad workstation configs: a ConfigError naming the file, the field and the bad value, every
problem at once, and pydantic's errors turned into those lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dbc.errors import ConfigError
from icu_ws import cli
from tests.workstation.config_support import BAD, CHANNEL_A, check_config
from tests.workstation.config_support import write_config as _write
from workstation.config import WorkstationConfig, load_config, validation_problems


@pytest.mark.parametrize("name", BAD)
def test_bad_config_raises_config_error_naming_file_field_and_value(
        name: str, tmp_path: Path) -> None:
    text, fragments = BAD[name]
    path = _write(tmp_path, name, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert info.value.path == str(path)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "many", '[heartbeat]\nperiod_s = "fast"\n[alarms]\n'
                                    'audio_pause_s = 300\n[[channels]]\nletter = "A"\nslot = 40\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(info.value.problems) == 3
    assert "3 problem(s)" in str(info.value)


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert info.value.problems == ["file not found"]
    status, _out, err = check_config(capsys, path)
    assert status == 1
    assert err.startswith(f"error: {path}: ") and "file not found" in err


def test_run_with_unknown_care_area_is_a_config_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "area", f'care_area = "neonatal-icu"\n'
                                    f'event_log = "{tmp_path / "events.db"}"\n'
                                    '[[buses]]\nname = "can0"\ninterface = "virtual"\n'
                                    f'channel = "test-care-area-{tmp_path.name}"\n' + CHANNEL_A)
    status = cli.main(["run", "--config", str(path), "--headless", "--duration", "0.1"])
    _out, err = capsys.readouterr()
    assert status == 2
    assert err.startswith("icu-ws run: ")
    assert "care_area" in err and "'neonatal-icu'" in err


def test_two_buses_on_the_same_can_interface_are_rejected(tmp_path: Path) -> None:
    # The second bus leaves channel out: it defaults to vcan0, the first bus's interface.
    path = _write(tmp_path, "same", '[[buses]]\nname = "can0"\nchannel = "vcan0"\n'
                                    '[[buses]]\nname = "can1"\n'
                                    '[[channels]]\nletter = "A"\nslot = 1\nbus = "can0"\n'
                                    '[[channels]]\nletter = "B"\nslot = 1\nbus = "can1"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "buses" in str(info.value) and "vcan0" in str(info.value)


def test_heartbeat_timeout_shorter_than_period_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "hb", "[heartbeat]\nperiod_s = 5.0\nws_timeout_s = 3.0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "ws_timeout_s" in str(info.value)


def _problems(data: object) -> list[str]:
    with pytest.raises(ValidationError) as info:
        WorkstationConfig.model_validate(data)
    return validation_problems(info.value)


def test_validation_problems_nested_location() -> None:
    channels = [{"letter": "A", "slot": 1}, {"letter": "B", "slot": 2},
                {"letter": "C", "slot": 99}]
    assert _problems({"channels": channels}) == [
        "channels[2].slot: Input should be less than or equal to 31 (got 99)"]


def test_validation_problems_formats() -> None:
    problems = _problems({"heartbeat": {"period_s": "fast"}, "buses": [{"name": ""}],
                          "channels": [{"slot": 1}], "alarms": 5})
    by_field = {p.split(": ")[0]: p for p in problems}
    assert set(by_field) == {"heartbeat.period_s", "buses[0].name", "channels[0].letter",
                             "alarms"}
    assert by_field["heartbeat.period_s"].endswith("(got 'fast')")
    assert by_field["buses[0].name"].endswith("(got '')")
    assert by_field["channels[0].letter"] == "channels[0].letter: Field required"
    assert by_field["alarms"].endswith("(got 5)")


def test_validation_problems_model_rule_drops_pydantic_prefix() -> None:
    problems = _problems({"channels": [{"letter": "A", "slot": 1}, {"letter": "A", "slot": 2}]})
    assert len(problems) == 1
    assert "Value error" not in problems[0]
    assert problems[0].startswith("channels[1].letter: 'A' is already used by channels[0]")
    assert "{" not in problems[0]  # the whole input dict is not dumped into the message
