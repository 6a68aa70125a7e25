"""``[telemetry]`` in a workstation config: wrong values are named, files resolved and read."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbc.errors import ConfigError
from icu_ws import cli
from workstation.config import load_config


def write(tmp_path: Path, telemetry: str) -> Path:
    path = tmp_path / "ws.toml"
    path.write_text(f'name = "ws-1"\n[telemetry]\n{telemetry}\n')
    return path


@pytest.mark.parametrize(("telemetry", "problem"), [
    ("enabled = true", "telemetry: url: needed when telemetry is enabled"),
    ('enabled = true\nurl = "http://broker"', "scheme 'http'"),
    ('url = "mqtt://broker"\nca_file = "ca.pem"', "use an mqtts:// url"),
    ('url = "mqtts://broker"\ncert_file = "c.pem"', "cert_file and key_file go together"),
    ('url = "mqtt://broker"\nobservation_period_s = 0.1', "telemetry.observation_period_s"),
    ('url = "mqtt://broker"\ntopic_root = "icu/x"', "telemetry.topic_root"),
])
def test_wrong_values_name_the_field(tmp_path: Path, telemetry: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, telemetry))
    assert problem in str(err.value) and "ws.toml" in str(err.value)


def test_files_are_relative_to_the_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'enabled = true\nurl = "mqtts://broker"\n'
                                         'ca_file = "certs/ca.pem"\npassword_file = "/etc/pw"'))
    assert config.telemetry.ca_file == tmp_path / "certs" / "ca.pem"
    assert config.telemetry.password_file == Path("/etc/pw")


def test_check_config_reads_the_files_it_names(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 'enabled = true\nurl = "mqtts://broker"\nca_file = "no-ca.pem"')
    assert cli.main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "no-ca.pem" in err and "CA file" in err
