"""Broker addresses: ``mqtt://[user[:password]@]host[:port]`` and ``mqtts://`` (TLS)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerUrl:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def tls(self) -> bool:
        return self.scheme == "mqtts"

    def __str__(self) -> str:
        """The address without the password (for logs, the screen and the event log)."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_broker_url(text: str) -> BrokerUrl:
    """Parse a broker URL; ValueError says what is wrong and what is expected."""
    expected = "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"broker URL {text!r}: {exc}; {expected}") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"broker URL {text!r}: scheme {parts.scheme or '(none)'!r}; {expected}")
    if not parts.hostname:
        raise ValueError(f"broker URL {text!r}: no host; {expected}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL {text!r}: no path or query allowed; {expected}")
    return BrokerUrl(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme],
                     unquote(parts.username) if parts.username else None,
                     unquote(parts.password) if parts.password else None)
