"""Everything a module last reported, and what changed in it, for one channel."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.effects import Effects
from channels.events import EventKind
from dbc.frames import Delivery, Power, Progress, Status, SyringeInfo
from dbc.registry import ModuleInfo
from dbc.vocabulary import AlarmCondition, PumpState

__all__ = ["ModuleView"]

PRESSURE_TREND_LENGTH = 16


@dataclass
class ModuleView:
    info: ModuleInfo | None = None
    status: Status | None = None
    delivery: Delivery | None = None
    progress: Progress | None = None
    power: Power | None = None
    syringe: SyringeInfo | None = None
    alarms: AlarmCondition = field(default_factory=lambda: AlarmCondition(0))
    pressure_trend: list[int] = field(default_factory=list)  # last readings, mmHg
    acked_state: PumpState | None = None  # from an accepted command, until the next Status

    def on_status(self, status: Status, fx: Effects, *, infusing: bool) -> Status | None:
        """Take a Status frame: log state changes, raise/clear alarm bits. Returns the
        previous status."""
        previous, self.status = self.status, status
        self.acked_state = None  # the Status is newer than any acknowledgement
        self.pressure_trend.append(status.pressure_mmhg)
        del self.pressure_trend[:-PRESSURE_TREND_LENGTH]
        if previous is None or (previous.state, previous.mode) != (status.state, status.mode):
            before = f"{previous.state.name}/{previous.mode.name}" if previous else "unknown"
            fx.log(EventKind.STATE, f"{before} -> {status.state.name}/{status.mode.name}",
                   state=status.state.name, mode=status.mode.name, rate_ml_h=status.rate_ml_h,
                   previous_state=previous.state.name if previous else None,
                   previous_mode=previous.mode.name if previous else None)
        self.reported_alarms(status.alarms, fx, infusing=infusing)
        return previous

    def reported_alarms(self, bits: AlarmCondition, fx: Effects, *, infusing: bool) -> None:
        """The module's full set of active conditions: raise the new, clear the gone."""
        old, self.alarms = self.alarms, bits
        if bits == old:
            return  # the usual case, 4x a second per module: nothing to do
        for bit in AlarmCondition:
            name = str(bit.name)
            if bits & bit and not old & bit:
                fx.alarm(bit, infusing=infusing)
                fx.log(EventKind.ALARM, f"module reports {name}", condition=name)
            elif old & bit and not bits & bit:
                fx.clear(bit)
