"""What every part of ``Workstation`` shares: its config, its clock and the running supervisor.

``Workstation`` (``workstation.api``) is built in layers, one module per concern:
``StationAccess`` (here) <- ``OrderChecks`` (``workstation.order_checks``: limits, the patient
weight) <- ``ChannelCommands`` (``workstation.channel_commands``: program, start, titrate...)
<- ``Workstation`` (start and stop, reading, alarms). The attributes are set by
``Workstation.__init__``; the parts only use them.
"""

from __future__ import annotations

from collections.abc import Callable

from channels.controller import ChannelController, ChannelError
from workstation.config import WorkstationConfig
from workstation.supervisor import Supervisor

__all__ = ["StationAccess"]


class StationAccess:
    config: WorkstationConfig
    _clock: Callable[[], float]
    _supervisor: Supervisor | None

    @property
    def supervisor(self) -> Supervisor:
        if self._supervisor is None:
            raise RuntimeError("use the Workstation inside 'async with'")
        return self._supervisor

    @property
    def letters(self) -> list[str]:
        return list(self.supervisor.controllers)

    def clock(self) -> float:
        """Now, on the workstation's monotonic clock: alarm times are on it."""
        return self._clock()

    def _controller(self, letter: str) -> ChannelController:
        try:
            return self.supervisor.controllers[letter]
        except KeyError:
            raise ChannelError(f"no channel {letter!r}; channels: {self.letters}") from None
