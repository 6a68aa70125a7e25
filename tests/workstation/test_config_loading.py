"""load_config on a valid file: where its relative paths point, and what left-out fields become."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workstation.config_support import write_config as _write
from workstation.config import DEFAULT_LIBRARY, BusConfig, load_config


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
