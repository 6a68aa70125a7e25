"""Real brokers for the telemetry tests (tests/mqttlab.py): one fresh mosquitto per test.

``mosquitto``         plain MQTT, anonymous                           mqtt://127.0.0.1:PORT
``mosquitto_tls``     TLS (lab CA: ``.ca_file``), anonymous           mqtts://localhost:PORT
``mosquitto_acl``     plain MQTT, users LAB_USERS + configs/mosquitto/acl
``mosquitto_secure``  configs/mosquitto/mosquitto.conf itself (example_config()): TLS + users +
                      the example ACL, as a hospital runs it

They (and any Mosquitto(...)) skip when mosquitto is not installed: scripts/test.sh installs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqttlab import EXAMPLE_CONF, LAB_USERS, Mosquitto, TlsMaterial
from workstation.telemetry.outbox import Outbox


def example_config(broker: Mosquitto) -> str:
    """configs/mosquitto/mosquitto.conf with the lab broker's port, files and logging."""
    assert broker.tls is not None and broker.password_file is not None
    ours = {"listener": f"{broker.port} 127.0.0.1", "cafile": broker.tls.ca_file,
            "certfile": broker.tls.cert_file, "keyfile": broker.tls.key_file,
            "password_file": broker.password_file, "acl_file": broker.acl_file}
    dropped = {"persistence", "persistence_location", "log_dest", "log_type", "user",
               "connection_messages", "log_timestamp_format"}  # the lab's common_config()
    out = [f"# {EXAMPLE_CONF} rewritten by tests/telemetry/conftest.py"]
    seen: set[str] = set()
    for line in EXAMPLE_CONF.read_text().splitlines():
        key = (line.split() or [""])[0]
        if key in ours:  # the lab's value, or none (acl_file=None)
            out += [f"{key} {ours[key]}"] if ours[key] is not None else []
            seen.add(key)
        elif key not in dropped:
            out.append(line)
    if missing := {k for k, v in ours.items() if v is not None} - seen:
        raise ValueError(f"{EXAMPLE_CONF}: no {', '.join(sorted(missing))} line")
    return "\n".join([*out, *broker.common_config(), ""])


@pytest.fixture
def lab_tls(tmp_path: Path) -> TlsMaterial:
    """A throw-away CA and a server certificate for localhost and 127.0.0.1."""
    return TlsMaterial(tmp_path / "tls")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def mosquitto_tls(tmp_path: Path, lab_tls: TlsMaterial) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "mosquitto-tls", tls=lab_tls) as broker:
        yield broker


@pytest.fixture
def mosquitto_acl(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "mosquitto-acl", users=LAB_USERS) as broker:
        yield broker


@pytest.fixture
def mosquitto_secure(tmp_path: Path, lab_tls: TlsMaterial) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto-secure", tls=lab_tls, users=LAB_USERS)
    broker.config_file.write_text(example_config(broker))
    with broker:
        yield broker


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    """An open outbox in tmp_path (the test_outbox_* modules)."""
    with Outbox(tmp_path / "outbox.db", max_messages=1000) as outbox:
        yield outbox
