"""Workstation configuration: shipped examples, precise errors, ``check-config``, demo defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from channels.druglib import load_drug_library
from workstation import cli
from workstation.config import (
    DEFAULT_LIBRARY,
    REPO_ROOT,
    SLOTS_PER_BUS,
    AlarmConfig,
    BusConfig,
    ChannelConfig,
    CommandConfig,
    HeartbeatConfig,
    SupervisionConfig,
    TelemetryConfig,
    WorkstationConfig,
    channel_letters,
    demo_config,
    load_config,
    validation_problems,
)
from workstation.errors import ConfigError

CONFIGS = REPO_ROOT / "configs"
EXAMPLE = CONFIGS / "workstation.toml"
TWO_STATIONS = CONFIGS / "two-stations.toml"
SHIPPED = [EXAMPLE, TWO_STATIONS]
LIBRARY = CONFIGS / "drug-library" / "adult-icu.toml"


def check_config(capsys: pytest.CaptureFixture[str], *files: Path | str) -> tuple[int, str, str]:
    """Run ``icu-ws check-config FILES`` in-process: (exit status, stdout, stderr)."""
    status = cli.main(["check-config", *map(str, files)])
    out, err = capsys.readouterr()
    return status, out, err


# -- the shipped configs ---------------------------------------------------------------------------


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


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_check_config_ok_on_shipped_config(path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = check_config(capsys, path)
    assert status == 0, err
    assert out.startswith(f"ok: {path}: workstation ")
    assert "care area adult-icu" in out
    assert err == ""


def test_check_config_one_ok_line_per_file(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = check_config(capsys, *SHIPPED, LIBRARY)
    assert status == 0, err
    lines = out.splitlines()
    assert [line.split(": ")[1] for line in lines] == [str(p) for p in (*SHIPPED, LIBRARY)]
    assert all(line.startswith("ok: ") for line in lines)
    assert "12 channels on 2 bus(es)" in lines[1]
    assert "drug library Adult ICU" in lines[2]


def test_check_config_without_arguments_checks_example_and_library(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    status, out, err = check_config(capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("ok: configs/workstation.toml: workstation ")
    assert lines[1].startswith(f"ok: {DEFAULT_LIBRARY}: drug library ")


def test_check_config_without_arguments_elsewhere_fails(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no configs/workstation.toml here
    status, out, err = check_config(capsys)
    assert status == 1
    assert "error: configs/workstation.toml" in err and "file not found" in err
    assert out.startswith(f"ok: {DEFAULT_LIBRARY}")  # the library is still checked


# -- bad configs -----------------------------------------------------------------------------------

CHANNEL_A = '[[channels]]\nletter = "A"\nslot = 1\n'

# name -> (TOML text, fragments the error must contain: the field path and the bad value)
BAD: dict[str, tuple[str, list[str]]] = {
    "slot-40": ('[[channels]]\nletter = "A"\nslot = 40\n',
                ["channels[0].slot", "31", "(got 40)"]),
    "slot-0-third-channel": (CHANNEL_A + '[[channels]]\nletter = "B"\nslot = 2\n'
                             '[[channels]]\nletter = "C"\nslot = 0\n',
                             ["channels[2].slot", "(got 0)"]),
    "duplicate-letter": (CHANNEL_A + '[[channels]]\nletter = "A"\nslot = 2\n',
                         ["channels[1].letter", "'A' is already used by channels[0]"]),
    "duplicate-bus-slot": ('[[buses]]\nname = "can0"\n'
                           '[[buses]]\nname = "can1"\nchannel = "vcan1"\n'
                           '[[channels]]\nletter = "A"\nslot = 3\nbus = "can1"\n'
                           '[[channels]]\nletter = "B"\nslot = 3\nbus = "can1"\n',
                           ["channels[1].slot", "slot 3", "'can1'", "already used by channels[0]"]),
    "unknown-bus": ('[[channels]]\nletter = "A"\nslot = 1\nbus = "can9"\n',
                    ["channels[0].bus", "'can9'", "['can0']"]),
    "unknown-field": ('colour = "blue"\n', ["colour", "Extra inputs are not permitted",
                                            "'blue'"]),
    "unknown-nested-field": ('[heartbeat]\nperod_s = 1.0\n',
                             ["heartbeat.perod_s", "Extra inputs are not permitted"]),
    "wrong-type": ('[heartbeat]\nperiod_s = "fast"\n',
                   ["heartbeat.period_s", "valid number", "(got 'fast')"]),
    "audio-pause-300": ('[alarms]\naudio_pause_s = 300\n',
                        ["alarms.audio_pause_s", "120", "(got 300)"]),
    "bad-letter": ('[[channels]]\nletter = "a1"\nslot = 1\n', ["channels[0].letter", "'a1'"]),
    "label-too-long": ('[[channels]]\nletter = "A"\nslot = 1\nlabel = "' + "x" * 25 + '"\n',
                       ["channels[0].label", "24"]),
    "bad-kind": ('[[channels]]\nletter = "A"\nslot = 1\nkind = "pca"\n',
                 ["channels[0].kind", "'pca'"]),
    "missing-slot": ('[[channels]]\nletter = "A"\n', ["channels[0].slot", "Field required"]),
    "no-buses": ("buses = []\n", ["buses", "at least 1"]),
    "syntax": ('name = "ws"\n[heartbeat\nperiod_s = 1.0\n', ["TOML syntax", "line 2"]),
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


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


@pytest.mark.parametrize("name", BAD)
def test_check_config_reports_bad_config(name: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    text, fragments = BAD[name]
    path = _write(tmp_path, name, text)
    status, out, err = check_config(capsys, path)
    assert status == 1
    assert out == ""
    assert err.startswith(f"error: {path}: ")
    for fragment in fragments:
        assert fragment in err


def test_bad_file_among_good_ones_fails_but_good_ones_are_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad", '[alarms]\naudio_pause_s = 300\n')
    status, out, err = check_config(capsys, EXAMPLE, bad, TWO_STATIONS)
    assert status == 1
    assert [line.split(": ")[1] for line in out.splitlines()] == [str(EXAMPLE), str(TWO_STATIONS)]
    assert err.count("error: ") == 1 and str(bad) in err


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


def test_care_area_not_in_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "area", f'care_area = "neonatal-icu"\ndrug_library = "{LIBRARY}"\n'
                                    + CHANNEL_A)
    assert load_config(path).care_area == "neonatal-icu"  # the library is checked by check-config
    status, out, err = check_config(capsys, path)
    assert status == 1 and out == ""
    assert err.startswith(f"error: {path}: ")
    assert "care_area" in err and "'neonatal-icu'" in err
    assert "adult-icu" in err  # the known care areas are listed


def test_drug_library_path_that_does_not_exist(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "lib", 'drug_library = "libraries/missing.toml"\n' + CHANNEL_A)
    config = load_config(path)
    expected = tmp_path / "libraries" / "missing.toml"  # relative to the config file
    assert config.drug_library == expected
    with pytest.raises(ConfigError) as info:
        load_drug_library(config.drug_library)
    assert str(expected) in str(info.value)
    status, out, err = check_config(capsys, path)
    assert status == 1 and out == ""
    assert err.startswith("error: ")
    assert str(expected) in err and "file not found" in err


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


def test_relative_drug_library_is_relative_to_the_file_not_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    path = _write(tmp_path / "conf", "ws", 'drug_library = "lib.toml"\nevent_log = "ev.db"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("conf/ws.toml"))
    assert config.drug_library == tmp_path / "conf" / "lib.toml"
    assert config.event_log == Path("ev.db")  # relative to the working directory
    assert path.exists()


def test_defaults_when_fields_are_left_out(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "empty", ""))
    assert config.drug_library == DEFAULT_LIBRARY
    assert config.buses == [BusConfig()]
    assert config.channels == []
    assert config.alarms.audio_pause_s == 120.0


# -- demo defaults ---------------------------------------------------------------------------------


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


# -- validation_problems ---------------------------------------------------------------------------


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
