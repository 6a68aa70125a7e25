"""The demo's out-of-the-box MQTT broker: amqtt running inside our own event loop.

Always bound to 127.0.0.1 (amqtt's default is 0.0.0.0: every interface), anonymous, without
``$SYS`` topics and with amqtt's chatty INFO logging turned down. It is for the demo and for
trying the telemetry on one machine; a hospital runs mosquitto (configs/mosquitto/). amqtt
deviates from MQTT on QoS (it has delivered a QoS 0 publish at QoS 1): never test QoS
behaviour against it.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from amqtt.broker import Broker

from dbc.errors import InfusionError

HOST = "127.0.0.1"
# amqtt's loggers (amqtt.broker, amqtt.mqtt.protocol..., amqtt.broker.plugins) and the state
# machine library it uses; both log every connection and state change at INFO.
_QUIET_LOGGERS = ("amqtt", "transitions")


class BrokerStartError(InfusionError):
    """The embedded broker could not listen (port taken, bad port...)."""


class _DropStartupTraceback(logging.Filter):
    """amqtt logs "Broker startup failed" with a traceback before raising; we raise it as a
    BrokerStartError that says the same, so the record is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Broker startup failed")


def _quiet_amqtt() -> None:
    """WARNING for amqtt's loggers, unless someone already chose a level for them."""
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


class EmbeddedBroker:
    """``async with EmbeddedBroker() as broker: ... broker.url`` (mqtt://127.0.0.1:PORT).

    ``port=None`` lets the kernel pick a free port (read back after binding, so there is no race
    with other programs); a given port that is taken raises BrokerStartError.
    """

    def __init__(self, port: int | None = None) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"embedded broker port {port}: expected 1-65535 or None (any)")
        self._requested = port
        self._port: int | None = None
        self._broker: Any = None  # amqtt.broker.Broker (amqtt has no type hints)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("embedded broker not started: use `async with EmbeddedBroker()`")
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every listening socket (for checks: only 127.0.0.1)."""
        if self._broker is None:
            return []
        return [sock.getsockname()[:2] for server in self._broker._servers.values()
                for sock in server.instance.sockets]

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp",
                                      "bind": f"{HOST}:{self._requested or 0}"}},
            # Only anonymous access: no $SYS plugin (it publishes broker statistics every
            # 20 s) and no event/packet logger plugins.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                        {"allow_anonymous": True}},
        }

    async def start(self) -> None:
        if self._broker is not None:
            raise RuntimeError(f"embedded broker already running on {self.url}")
        _quiet_amqtt()
        where = f"{HOST}:{self._requested or 'any free port'}"
        try:
            broker = Broker(self._config())
        except Exception as exc:  # amqtt's plugin and config errors have no common base
            raise BrokerStartError(f"embedded MQTT broker (amqtt) on {where}: "
                                   f"bad configuration: {exc}") from exc
        noise = _DropStartupTraceback()
        amqtt_logger = logging.getLogger("amqtt.broker")
        amqtt_logger.addFilter(noise)
        try:
            await broker.start()
        except Exception as exc:  # amqtt.errors.BrokerError wrapping the OSError
            cause = exc.__cause__ or exc
            raise BrokerStartError(f"embedded MQTT broker (amqtt) cannot listen on {where}: "
                                   f"{cause}") from exc
        finally:
            amqtt_logger.removeFilter(noise)
        self._broker = broker
        ports = {port for _host, port in self.addresses}
        if len(ports) != 1:
            await self.stop()
            raise BrokerStartError(f"embedded MQTT broker (amqtt) on {where}: expected one "
                                   f"listening socket, found {sorted(ports)}")
        self._port = ports.pop()

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        self._port = None
        if broker is not None:
            await broker.shutdown()

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
