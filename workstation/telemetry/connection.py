"""How to reach a broker: an aiomqtt Client from a URL and the telemetry config (TLS, user)."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from dbc.errors import ConfigError
from workstation.telemetry.broker_url import BrokerUrl, parse_broker_url

# Small MQTT packets behind Nagle's algorithm wait for the peer's delayed ACK (~40 ms): alarm
# latency p99 went from 67-81 ms to 5-10 ms with TCP_NODELAY on both ends (bench/
# telemetry_latency.py). The broker side is `set_tcp_nodelay true` (configs/mosquitto/).
NO_NAGLE = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


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
            if not lines or not lines[0]:
                raise ConfigError(str(password_file), ["password file: the first line is empty; "
                                                       "put the MQTT password there"])
            password = lines[0]
        if not parsed.tls and (ca_file or cert_file or key_file):
            raise ConfigError(str(parsed), ["a CA or client certificate is for TLS: use an "
                                            "mqtts:// URL, or leave the files out"])
        context = None
        if parsed.tls:
            try:
                context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(str(ca_file or "system CAs"),
                                  [f"CA file: {exc.strerror or exc}"]) from None
            if cert_file is not None:
                try:
                    context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
                except (OSError, ssl.SSLError) as exc:
                    raise ConfigError(f"{cert_file} / {key_file}",
                                      [f"client certificate: {exc.strerror or exc}"]) from None
        return cls(parsed, username or parsed.username, password, context)

    def client(self, *, identifier: str, will: aiomqtt.Will | None = None,
               keepalive: int = 10, timeout: float = 5.0,
               clean_session: bool = True) -> aiomqtt.Client:
        """``clean_session=False`` with a fixed identifier: the broker queues QoS 1 messages
        for this client while it is away (a central station that must miss nothing)."""
        return aiomqtt.Client(self.url.host, self.url.port, identifier=identifier,
                              username=self.username, password=self.password,
                              tls_context=self.tls_context, will=will, keepalive=keepalive,
                              timeout=timeout, clean_session=clean_session,
                              socket_options=NO_NAGLE)
