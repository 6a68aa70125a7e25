"""The buses and the modules seen on them, read-only: for the diagnostics view and the header.

Copies of the counters at one moment, so a screen never holds (or changes) a link, the
module registry or a controller.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbc.frames import Power
from dbc.link import CanLink
from dbc.registry import ModuleInfo
from workstation.supervisor import Supervisor

__all__ = ["BusDiagnostics", "LinkFigures", "bus_diagnostics"]


@dataclass(frozen=True)
class LinkFigures:
    """One bus's link: where it is, whether it is open, and its counters."""

    bus: str
    where: str  # "interface/channel"
    is_open: bool
    rx_accepted: int
    rx_errors: tuple[tuple[str, int], ...]  # rejected frames by kind ("crc", "counter"...)
    rx_resyncs: int
    tx_frames: int
    tx_errors: int
    handler_errors: int
    bus_failures: int

    @classmethod
    def of(cls, bus: str, link: CanLink) -> LinkFigures:
        s = link.stats
        return cls(bus=bus, where=f"{link.settings.interface}/{link.settings.channel}",
                   is_open=link.is_open, rx_accepted=s.rx.accepted,
                   rx_errors=tuple(s.rx.errors.items()), rx_resyncs=s.rx.resyncs,
                   tx_frames=s.tx.frames, tx_errors=s.tx.errors,
                   handler_errors=s.handler_errors, bus_failures=s.bus_failures)

    def rx_error(self, kind: str) -> int:
        return dict(self.rx_errors).get(kind, 0)


@dataclass(frozen=True)
class BusDiagnostics:
    now: float  # the workstation's monotonic clock, as ``ModuleInfo.last_seen``
    modules: tuple[ModuleInfo, ...]  # every module heard, by bus and slot
    power: tuple[tuple[str, Power | None], ...]  # each channel's last Power frame, by letter
    links: tuple[LinkFigures, ...]
    bad_frames: int  # frames received and rejected, every bus
    health: tuple[tuple[str, str], ...]  # (bus, controller state and load)

    @property
    def buses_open(self) -> bool:
        return all(link.is_open for link in self.links)

    def power_of(self, letter: str) -> Power | None:
        return dict(self.power).get(letter)


def bus_diagnostics(sup: Supervisor) -> BusDiagnostics:
    monitor = sup.bus_monitor
    return BusDiagnostics(
        now=sup.clock(), modules=tuple(info for _, info in sorted(sup.registry.modules.items())),
        power=tuple((letter, c.module.power) for letter, c in sup.controllers.items()),
        links=tuple(LinkFigures.of(bus, link) for bus, link in sup.links.items()),
        bad_frames=sum(sup.frame_errors.values()),
        health=tuple((bus, monitor.line(bus)) for bus in monitor.health))
