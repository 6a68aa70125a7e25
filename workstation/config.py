"""Workstation configuration: pydantic models, TOML loading with precise errors, demo defaults.

A workstation may drive several CAN buses (chained stations: 31 slots per bus); each channel
names its bus and slot. Every field is documented in ``configs/workstation.toml``.
"""

from __future__ import annotations

import string
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from channels.config import ChannelConfig, CommandConfig, SupervisionConfig
from channels.druglib import DEFAULT_LIBRARY_PATH
from dbc.errors import ConfigError
from dbc.link import BusSettings

# The checkout's root (the tests and the developer tools use it); nothing at run time does.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LIBRARY = DEFAULT_LIBRARY_PATH  # the shipped library (package data of ``configs``)

class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BusConfig(_Model):
    name: str = Field(default="can0", min_length=1)
    interface: str = "socketcan"
    channel: str = "vcan0"
    bitrate: int | None = Field(default=None, gt=0)

    def settings(self) -> BusSettings:
        return BusSettings(self.interface, self.channel, self.bitrate)


class HeartbeatConfig(_Model):
    period_s: float = Field(default=1.0, ge=0.1, le=5.0)
    # Modules beat once a second (DBC): below two periods a module would flap lost/returned.
    module_timeout_s: float = Field(default=3.0, ge=2.0, le=30.0)
    ws_timeout_s: float = Field(default=3.0, ge=0.5, le=6.3)

    @model_validator(mode="after")
    def _timeout_covers_two_periods(self) -> HeartbeatConfig:
        if self.ws_timeout_s < 2 * self.period_s:
            raise ValueError(f"ws_timeout_s {self.ws_timeout_s:g} s must be at least twice "
                             f"period_s {self.period_s:g} s, or every module alarms between "
                             "two heartbeats")
        return self


class AlarmConfig(_Model):
    audio_pause_s: float = Field(default=120.0, ge=10.0, le=120.0)  # IEC 60601-1-8 / GIP <= 2 min
    escalation_s: float = Field(default=300.0, ge=30.0, le=3600.0)


class UiConfig(_Model):
    # Named users with hashed PINs (workstation.users; icu-ws user add): no shared PIN.
    users_file: Path = Path("var/users.json")  # relative to the working directory, as event_log
    max_failures: int = Field(default=5, ge=3, le=10)  # wrong PINs in a row lock the name out
    lockout_s: float = Field(default=300.0, ge=30.0, le=3600.0)
    relock_s: float = Field(default=300.0, ge=30.0, le=3600.0)  # auto-lock; Alaris: 5 min
    bell: bool = True  # the terminal bell follows the audible alarm state
    repaint_hz: float = Field(default=2.0, ge=1.0, le=4.0)  # alarms are drawn at once anyway

    @model_validator(mode="before")
    @classmethod
    def _no_shared_pin(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pin" in data:
            raise ValueError("pin: the shared PIN is gone (each user has their own, stored "
                             "hashed): delete this line and add users with `icu-ws user add "
                             "NAME --role nurse` (they go to users_file)")
        return data


class TelemetryConfig(_Model):
    enabled: bool = False
    url: str | None = None  # mqtt://host:port or mqtts://host:port (TLS)
    username: str | None = None  # overrides a user in the URL
    password_file: Path | None = None  # first line is the password; never in the config
    ca_file: Path | None = None  # mqtts: CA that signed the broker (default: system CAs)
    cert_file: Path | None = None  # mqtts: client certificate, when the broker asks for one
    key_file: Path | None = None
    topic_root: str = Field(default="icu", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    observation_period_s: float = Field(default=10.0, ge=1.0, le=3600.0)
    outbox: Path = Path("var/telemetry-outbox.db")
    outbox_max_messages: int = Field(default=50_000, ge=100, le=10_000_000)
    backlog_alarm_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    link_lost_alarm_s: float = Field(default=10.0, ge=1.0, le=600.0)
    keepalive_s: int = Field(default=10, ge=2, le=600)

    @model_validator(mode="after")
    def _usable(self) -> TelemetryConfig:
        from workstation.telemetry.broker_url import parse_broker_url

        if self.url is not None:
            url = parse_broker_url(self.url)  # ValueError names the problem
            if not url.tls and (self.ca_file or self.cert_file):
                raise ValueError("ca_file/cert_file are for TLS: use an mqtts:// url")
        elif self.enabled:
            raise ValueError("url: needed when telemetry is enabled, e.g. "
                             "\"mqtt://monitoring.example.org:1883\"")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class WorkstationConfig(_Model):
    name: str = Field(default="ws-1", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    unit: str = Field(default="icu", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    bed: str = Field(default="bed-1", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    patient_weight_kg: float | None = Field(default=None, gt=0.3, le=400)
    care_area: str = "adult-icu"
    drug_library: Path = DEFAULT_LIBRARY
    event_log: Path = Path("var/events.db")
    # NORMAL: each event is committed before the workstation goes on (survives kill -9 and
    # crashes) without an fsync per event; FULL also survives power loss but every event
    # waits for the disk, which stalls all channels on a slow disk.
    event_log_sync: Literal["NORMAL", "FULL"] = "NORMAL"
    buses: list[BusConfig] = Field(default_factory=lambda: [BusConfig()], min_length=1)
    heartbeat: HeartbeatConfig = HeartbeatConfig()
    channels: list[ChannelConfig] = Field(default_factory=list)
    alarms: AlarmConfig = AlarmConfig()
    commands: CommandConfig = CommandConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    ui: UiConfig = UiConfig()

    @model_validator(mode="after")
    def _consistent(self) -> WorkstationConfig:
        bus_names = [b.name for b in self.buses]
        if len(set(bus_names)) != len(bus_names):
            raise ValueError(f"buses: names must be unique, got {bus_names}")
        interfaces: dict[tuple[str, str], str] = {}
        for i, bus in enumerate(self.buses):
            other = interfaces.setdefault((bus.interface, bus.channel), bus.name)
            if other != bus.name:
                raise ValueError(f"buses[{i}]: {bus.name!r} is on {bus.interface} "
                                 f"{bus.channel!r} like {other!r}: one module would be two "
                                 "channels")
        letters: dict[str, int] = {}
        slots: dict[tuple[str, int], int] = {}
        for i, c in enumerate(self.channels):
            if c.letter in letters:
                raise ValueError(f"channels[{i}].letter: {c.letter!r} is already used by "
                                 f"channels[{letters[c.letter]}]")
            letters[c.letter] = i
            if c.bus not in bus_names:
                raise ValueError(f"channels[{i}].bus: {c.bus!r} is not one of the buses "
                                 f"{bus_names}")
            if (c.bus, c.slot) in slots:
                raise ValueError(f"channels[{i}].slot: slot {c.slot} on bus {c.bus!r} is "
                                 f"already used by channels[{slots[(c.bus, c.slot)]}]")
            slots[(c.bus, c.slot)] = i
        return self

    def bus_settings(self) -> dict[str, BusSettings]:
        """Each bus's python-can settings, by bus name."""
        return {bus.name: bus.settings() for bus in self.buses}

    def channel(self, letter: str) -> ChannelConfig:
        for c in self.channels:
            if c.letter == letter:
                return c
        raise KeyError(f"no channel {letter!r}; configured: {[c.letter for c in self.channels]}")


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validation_problems(exc: ValidationError) -> list[str]:
    """pydantic errors as 'field.path: message (got value)' lines."""
    problems = []
    for err in exc.errors():
        got = f" (got {err['input']!r})" if err["type"] != "missing" and \
            not isinstance(err.get("input"), dict | list) else ""
        message = err["msg"].removeprefix("Value error, ")
        loc = tuple(err["loc"])
        # Cross-field rules name their own field path at the start of the message.
        problems.append(f"{_loc(loc)}: {message}{got}" if loc else f"{message}{got}")
    return problems


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"TOML syntax: {exc}"]) from None


def load_config(path: Path | str) -> WorkstationConfig:
    """Load a workstation config; relative paths inside it are relative to the file."""
    path = Path(path)
    data = read_toml(path)
    try:
        config = WorkstationConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc)) from None
    base = path.resolve().parent
    updates: dict[str, Path] = {}
    if "drug_library" in data and not config.drug_library.is_absolute():
        updates["drug_library"] = base / config.drug_library
    telemetry = config.telemetry
    files = {name: base / value for name in ("password_file", "ca_file", "cert_file", "key_file")
             if (value := getattr(telemetry, name)) is not None and not value.is_absolute()}
    if files:
        updates["telemetry"] = telemetry.model_copy(update=files)  # type: ignore[assignment]
    return config.model_copy(update=updates)


def channel_letters(count: int) -> list[str]:
    """A..Z, then AA..AZ, BA..: as many letters as channels."""
    singles = list(string.ascii_uppercase)
    doubles = [a + b for a in singles for b in singles]
    return (singles + doubles)[:count]


SLOTS_PER_BUS = 31


def demo_config(channels: int = 8, *, interface: str = "virtual", channel_prefix: str = "icu",
                event_log: Path = Path("var/demo-events.db"), **overrides: Any
                ) -> WorkstationConfig:
    """Embedded defaults for the demo: ``channels`` modules, alternately volumetric and
    syringe, filling 31 slots per bus before opening the next bus."""
    if not 1 <= channels <= 26 * 27:
        raise ConfigError("--channels", [f"{channels}: must be 1..{26 * 27}"])
    buses = [BusConfig(name=f"{channel_prefix}{i}", interface=interface,
                       channel=f"{channel_prefix}{i}")
             for i in range((channels + SLOTS_PER_BUS - 1) // SLOTS_PER_BUS)]
    # Plausible lines for the demo's infusions (workstation.demo.DEMO_ORDERS, which alternate
    # volumetric and syringe and repeat every 12 channels): vasopressor and concentrated
    # potassium on central lumens, fluids and compatible drugs peripheral; no arterial line.
    labels = ["Peripheral L arm", "CVC lumen 1 (distal)", "Peripheral R arm",
              "CVC lumen 2 (medial)", "CVC lumen 3 (proximal)", "PICC lumen 1",
              "Peripheral L hand", "PICC lumen 2", "Peripheral R hand", "PICC lumen 1",
              "Peripheral R forearm", "PICC lumen 2"]
    chans = [ChannelConfig(letter=letter, slot=i % SLOTS_PER_BUS + 1,
                           bus=buses[i // SLOTS_PER_BUS].name,
                           label=labels[i % len(labels)],
                           kind="syringe" if i % 2 else "volumetric")
             for i, letter in enumerate(channel_letters(channels))]
    fields: dict[str, Any] = {"name": "demo", "bed": "demo-bed", "patient_weight_kg": 70.0,
                              "buses": buses, "channels": chans, "event_log": event_log}
    return WorkstationConfig(**(fields | overrides))
