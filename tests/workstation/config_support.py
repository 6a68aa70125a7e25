"""What several config test modules share: the shipped files, ``check-config`` run in-process,
and the table of bad configs with the fragments each error must contain."""

from __future__ import annotations

from pathlib import Path

import pytest

from icu_ws import cli
from workstation.config import REPO_ROOT

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


def write_config(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path
