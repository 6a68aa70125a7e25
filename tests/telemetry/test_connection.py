"""Broker URLs and access: every wrong value is named, before any connection is tried."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from dbc.errors import ConfigError
from workstation.telemetry.broker_url import parse_broker_url
from workstation.telemetry.connection import BrokerAccess


@pytest.mark.parametrize(("text", "expected"), [
    ("mqtt://broker", ("mqtt", "broker", 1883, False)),
    ("mqtts://broker.example.org", ("mqtts", "broker.example.org", 8883, True)),
    ("mqtt://127.0.0.1:18830/", ("mqtt", "127.0.0.1", 18830, False)),
])
def test_urls(text: str, expected: tuple[object, ...]) -> None:
    url = parse_broker_url(text)
    assert (url.scheme, url.host, url.port, url.tls) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("http://broker:1883", "scheme 'http'"), ("broker:1883", "scheme"),
    ("mqtt://:1883", "no host"), ("mqtt://broker:99999", "out of range"),
    ("mqtt://broker:1883/icu", "no path"),
])
def test_bad_urls_say_what_is_expected(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as err:
        parse_broker_url(text)
    assert "expected mqtt://HOST[:PORT]" in str(err.value)


def test_the_password_never_shows() -> None:
    url = parse_broker_url("mqtts://ws-1:s3cret@broker:8883")
    assert (url.username, url.password) == ("ws-1", "s3cret")
    assert "s3cret" not in str(url) and str(url) == "mqtts://ws-1@broker:8883"


def test_password_file_first_line_and_user_override(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2\nignored\n")
    access = BrokerAccess.build("mqtt://u:old@broker", username="ws-9", password_file=secret)
    assert (access.username, access.password, access.tls_context) == ("ws-9", "hunter2", None)


def test_wrong_files_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(ConfigError, match="first line is empty") as err:
        BrokerAccess.build("mqtt://broker", password_file=empty)
    assert str(empty) in str(err.value)
    with pytest.raises(ConfigError, match="password file") as err:
        BrokerAccess.build("mqtt://broker", password_file=tmp_path / "missing")
    assert "missing" in str(err.value)
    with pytest.raises(ConfigError, match="CA file") as err:
        BrokerAccess.build("mqtts://broker", ca_file=tmp_path / "no-ca.pem",
                           cert_file=tmp_path / "cert.pem")
    assert "no-ca.pem" in str(err.value)
    with pytest.raises(ConfigError, match="use an mqtts:// URL"):
        BrokerAccess.build("mqtt://broker", ca_file=tmp_path / "ca.pem")


def test_client_certificate_is_loaded_or_named(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file, cert_file = tmp_path / "ca.pem", tmp_path / "ws.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ca.issue_cert("ws-1").private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    access = BrokerAccess.build("mqtts://broker", ca_file=ca_file, cert_file=cert_file)
    assert access.tls_context is not None
    with pytest.raises(ConfigError, match="client certificate") as err:
        BrokerAccess.build("mqtts://broker", ca_file=ca_file, cert_file=ca_file)
    assert "ca.pem" in str(err.value)
