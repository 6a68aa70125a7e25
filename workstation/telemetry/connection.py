"""How to reach a broker: an aiomqtt Client from a URL and the telemetry config (TLS, user)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from workstation.errors import ConfigError
from workstation.telemetry.broker_url import BrokerUrl, parse_broker_url


@dataclass(frozen=True)
class BrokerAccess:
    """Everything needed to connect, checked once (files read) before the first try."""

    url: BrokerUrl
    username: str | None = None
    password: str | None = None
    tls_context: ssl.SSLContext | None = None

    @classmethod
    def build(cls, url: str | BrokerUrl, *, username: str | None = None,
              password_file: Path | None = None, ca_file: Path | None = None,
              cert_file: Path | None = None, key_file: Path | None = None) -> BrokerAccess:
        """Raises ConfigError naming the file or the URL when something cannot be used."""
        try:
            parsed = url if isinstance(url, BrokerUrl) else parse_broker_url(url)
        except ValueError as exc:
            raise ConfigError("telemetry.url", [str(exc)]) from None
        password = parsed.password
        if password_file is not None:
            try:
                lines = password_file.read_text().splitlines()
            except OSError as exc:
                raise ConfigError(str(password_file), [f"password file: {exc.strerror}"]) \
                    from None
            password = lines[0] if lines else ""
        context = None
        if parsed.tls:
            try:
                context = ssl.create_default_context(
                    cafile=str(ca_file) if ca_file else None)
                if cert_file is not None:
                    context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(str(cert_file or ca_file or "TLS"), [f"TLS: {exc}"]) from None
        return cls(parsed, username or parsed.username, password, context)

    def client(self, *, identifier: str, will: aiomqtt.Will | None = None,
               keepalive: int = 10, timeout: float = 5.0) -> aiomqtt.Client:
        return aiomqtt.Client(self.url.host, self.url.port, identifier=identifier,
                              username=self.username, password=self.password,
                              tls_context=self.tls_context, will=will, keepalive=keepalive,
                              timeout=timeout, clean_session=True)
