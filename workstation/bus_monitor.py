"""The supervisor's side of ``bus_health``: counts what each link receives, polls the
controller state, and turns the verdicts into the station's conditions and events.

Conditions (WS, ``alarm_catalog``): ``CAN_ERROR_PASSIVE``, ``CAN_BUS_OFF`` (at once) and
``BUS_BABBLING`` (per window). Every window also leaves one BUS event with the figures and the
receive error counters by kind (B8: the counters themselves, not only "corrupted frames").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol

import can

from channels.events import Event, EventKind
from dbc.codec import FrameCodec
from dbc.link import CanLink
from workstation.bus_health import BusHealth, Summary, cycle_times

log = logging.getLogger(__name__)

BLOCK_MASK = 0x780  # the function code of an identifier (CANopen style: code + node id)


class StationPort(Protocol):
    """What the monitor needs of the station (``workstation.station.Station``)."""

    @property
    def frame_errors(self) -> Mapping[str, int]: ...

    def workstation_condition(self, condition: str, present: bool, detail: str = "") -> None: ...

    def record(self, event: Event) -> Event: ...


def workstation_filters(codec: FrameCodec) -> can.typechecking.CanFilters:
    """Receive filters of the workstation: every function block of the DBC (0x080-0x0FF,
    0x100-0x17F ... 0x700-0x77F), standard identifiers only. Socketcan applies them in the
    kernel: junk below 0x080 (the B7 flood on 0x000-0x010) never wakes the process. Unknown
    identifiers inside a block are still seen and counted."""
    blocks = sorted({m.frame_id & BLOCK_MASK for m in codec.db.messages})
    return [{"can_id": b, "can_mask": BLOCK_MASK, "extended": False} for b in blocks]


class BusMonitor:
    """One ``BusHealth`` per bus of the station; ``tick`` from the supervisor's clock loop."""

    def __init__(self, station: StationPort, codec: FrameCodec, buses: list[str],
                 clock: Callable[[], float]) -> None:
        self.station = station
        self.clock = clock
        cycles = cycle_times(codec.db)
        self.health = {bus: BusHealth(cycles) for bus in buses}
        self.links: dict[str, CanLink] = {}

    @classmethod
    def attach(cls, station: StationPort, codec: FrameCodec, links: Mapping[str, CanLink],
               clock: Callable[[], float]) -> BusMonitor:
        """A monitor on every link (before they open): counters, error frames, filters."""
        monitor = cls(station, codec, list(links), clock)
        filters = workstation_filters(codec)
        for bus, link in links.items():
            link.watch(on_raw=monitor.raw_handler(bus),
                       on_error_frame=monitor.error_frame_handler(bus), can_filters=filters)
            monitor.links[bus] = link
        return monitor

    def raw_handler(self, bus: str) -> Callable[[can.Message], bool]:
        health = self.health[bus]

        def count(msg: can.Message) -> bool:
            health.frame(msg.arbitration_id, self.clock())
            return False  # counted only: decoding goes on
        return count

    def error_frame_handler(self, bus: str) -> Callable[[can.Message], None]:
        health = self.health[bus]

        def error(msg: can.Message) -> None:
            health.error_frame(msg.arbitration_id, bytes(msg.data), self.clock())
        return error

    def tick(self) -> None:
        now = self.clock()
        for bus, health in self.health.items():
            link = self.links.get(bus)
            if link is not None and link.bus is not None:
                try:  # socketcan and some hardware report it; virtual/remote say ACTIVE
                    health.controller_state(link.bus.state.name)
                except (NotImplementedError, AttributeError, OSError) as exc:
                    log.debug("bus %s: no controller state: %s", bus, exc)
            changes, summary = health.evaluate(now)
            for change in changes:
                self.station.workstation_condition(change.condition, change.present,
                                                   f"{bus}: {change.detail}")
                self.station.record(Event(
                    EventKind.BUS, f"bus {bus}: {change.condition} "
                                   f"{'raised' if change.present else 'cleared'}: {change.detail}",
                    data={"bus": bus, "condition": change.condition}))
            if summary is not None:
                self._summarise(bus, summary)

    def _summarise(self, bus: str, summary: Summary) -> None:
        errors = dict(self.station.frame_errors)
        text = f"bus {bus}: {summary.line()}"
        if errors:
            text += "; receive errors " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items()))
        self.station.record(Event(EventKind.BUS, text, data={
            "bus": bus, **summary.as_dict(), "frame_errors": errors}))

    def figures(self) -> dict[str, dict[str, object]]:
        """The last window's figures per bus (headless status, diagnostics, telemetry)."""
        out: dict[str, dict[str, object]] = {}
        for bus, health in self.health.items():
            last = health.last
            out[bus] = last.as_dict() if last is not None else \
                {"controller_state": health.state, "error_frames": health.error_frames_total}
            out[bus]["error_frames_total"] = health.error_frames_total
        return out

    def line(self, bus: str) -> str:
        health = self.health[bus]
        return health.last.line() if health.last is not None else \
            f"controller {health.state}, {health.error_frames_total} error frames"
