"""``icu-ws check-config``: one ok line per good file, one error line per bad one, and the
drug library and care area a config names are checked too."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.druglib import load_drug_library
from dbc.errors import ConfigError
from icu_ws.run import EXAMPLE_CONFIG
from tests.workstation.config_support import (
    BAD,
    CHANNEL_A,
    EXAMPLE,
    LIBRARY,
    SHIPPED,
    TWO_STATIONS,
    check_config,
)
from tests.workstation.config_support import write_config as _write
from workstation.config import DEFAULT_LIBRARY, REPO_ROOT, load_config


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


@pytest.mark.parametrize("where", ["checkout", "elsewhere"])
def test_check_config_without_arguments_checks_example_and_library(
        where: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    # The example and the library are package data: found from any working directory (an
    # installed wheel has no configs/ beside it), and in a checkout they are the repository's.
    monkeypatch.chdir(REPO_ROOT if where == "checkout" else tmp_path)
    status, out, err = check_config(capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert EXAMPLE_CONFIG == EXAMPLE and DEFAULT_LIBRARY == LIBRARY
    assert lines[0].startswith(f"ok: {EXAMPLE_CONFIG}: workstation ")
    assert lines[1].startswith(f"ok: {DEFAULT_LIBRARY}: drug library ")


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
