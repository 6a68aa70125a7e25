"""The CAN controller's state and the bus load, as the workstation sees them (issue 10, B7/B8).

Pure: frames, error frames and controller states go in with the clock; ``evaluate`` returns,
once per window, what changed (conditions to raise or clear) and a summary with the figures for
the event log, the headless status, the diagnostics view and telemetry.

- **Error frames** (python-can ``msg.is_error_frame``; SocketCAN's ``linux/can/error.h``
  layout): error-warning, error-passive, bus-off and restart, with the controller's TX/RX error
  counters when the frame carries them.
- **Controller state** (``bus.state``, python-can ``BusState``) where the interface reports it.
- **Bus load**: frames per second per identifier against the DBC's cycle time. An identifier far
  above its rate is a *babbling* node (a forged or stuck sender, a flood); identifiers the DBC
  does not have are counted as unknown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cantools

WINDOW_S = 10.0  # one evaluation, and one summary in the event log, per window
BABBLE_FACTOR = 4.0  # an identifier at this many times its cycle rate is babbling
EVENT_FRAME_RATE = 20.0  # frames/s above which an event-driven identifier is babbling
MIN_BABBLE_FRAMES = 40  # never call fewer frames than this in a window a babble

# linux/can/error.h: class bits in the identifier, details in the data bytes.
ERR_CRTL = 0x004  # controller problems: data[1]
ERR_BUSOFF = 0x040
ERR_RESTARTED = 0x100
ERR_CNT = 0x200  # TX/RX error counters in data[6], data[7]
CRTL_WARNING = 0x04 | 0x08  # RX / TX warning (error counter >= 96)
CRTL_PASSIVE = 0x10 | 0x20  # RX / TX passive (error counter >= 128)
CRTL_ACTIVE = 0x40  # back to error-active

ACTIVE, WARNING, PASSIVE, BUS_OFF = "ERROR_ACTIVE", "ERROR_WARNING", "ERROR_PASSIVE", "BUS_OFF"
CONDITION_OF_STATE = {PASSIVE: "CAN_ERROR_PASSIVE", BUS_OFF: "CAN_BUS_OFF"}
BABBLING = "BUS_BABBLING"


def cycle_times(db: cantools.database.can.Database) -> dict[int, float | None]:
    """Every identifier of the DBC: its cycle time in seconds, or None (sent on event)."""
    return {m.frame_id: (m.cycle_time / 1000.0 if m.cycle_time else None) for m in db.messages}


def state_of_error_frame(arbitration_id: int, data: bytes) -> str | None:
    """The controller state an error frame reports, or None (a bus error with no change)."""
    if arbitration_id & ERR_BUSOFF:
        return BUS_OFF
    if arbitration_id & ERR_RESTARTED:
        return ACTIVE
    if arbitration_id & ERR_CRTL and len(data) > 1:
        status = data[1]
        if status & CRTL_PASSIVE:
            return PASSIVE
        if status & CRTL_WARNING:
            return WARNING
        if status & CRTL_ACTIVE:
            return ACTIVE
    return None


@dataclass(frozen=True)
class Change:
    """A condition to raise (``present``) or clear, with the figure that decided it."""

    condition: str
    present: bool
    detail: str


@dataclass(frozen=True)
class Summary:
    """One window's figures (JSON-able through ``as_dict``)."""

    window_s: float
    frames_per_s: float
    error_frames: int
    state: str
    tx_errors: int | None
    rx_errors: int | None
    babbling: dict[int, float]  # identifier -> frames/s
    unknown: dict[int, int]  # identifier -> frames in the window

    def as_dict(self) -> dict[str, object]:
        return {"window_s": self.window_s, "frames_per_s": round(self.frames_per_s, 1),
                "error_frames": self.error_frames, "controller_state": self.state,
                "tx_errors": self.tx_errors, "rx_errors": self.rx_errors,
                "babbling": {f"0x{i:03X}": round(r, 1) for i, r in self.babbling.items()},
                "unknown_ids": {f"0x{i:03X}": n for i, n in self.unknown.items()}}

    def line(self) -> str:
        """One line for the headless status and the event log."""
        parts = [f"{self.frames_per_s:.0f} frames/s", f"controller {self.state}",
                 f"{self.error_frames} error frames"]
        if self.tx_errors is not None:
            parts.append(f"TEC {self.tx_errors} REC {self.rx_errors}")
        if self.babbling:
            parts.append("babbling " + ", ".join(f"0x{i:03X} {r:.0f}/s"
                                                 for i, r in sorted(self.babbling.items())))
        if self.unknown:
            parts.append(f"{sum(self.unknown.values())} frames on {len(self.unknown)} "
                         "unknown ids")
        return ", ".join(parts)


@dataclass
class BusHealth:
    """One bus's controller state and load. Feed it, then ``evaluate(now)`` every tick."""

    cycles: dict[int, float | None]
    window_s: float = WINDOW_S
    started_s: float | None = None
    state: str = ACTIVE
    tx_errors: int | None = None
    rx_errors: int | None = None
    error_frames_total: int = 0
    counts: Counter[int] = field(default_factory=Counter)
    errors_in_window: int = 0
    babbling: dict[int, float] = field(default_factory=dict)
    last: Summary | None = None
    _reported_state: str = ACTIVE
    _polled: bool = False  # the current state came from ``controller_state``

    def frame(self, arbitration_id: int, now: float) -> None:
        if self.started_s is None:
            self.started_s = now
        self.counts[arbitration_id] += 1

    def error_frame(self, arbitration_id: int, data: bytes, now: float) -> None:
        if self.started_s is None:
            self.started_s = now
        self.error_frames_total += 1
        self.errors_in_window += 1
        if arbitration_id & ERR_CNT and len(data) >= 8:
            self.tx_errors, self.rx_errors = data[6], data[7]
        state = state_of_error_frame(arbitration_id, data)
        if state is not None:
            self.state, self._polled = state, False

    def controller_state(self, state: str) -> None:
        """The interface's own view (python-can ``BusState`` name: ACTIVE, PASSIVE, ERROR).

        Most interfaces (virtual, remote, socketcan) always say ACTIVE: that never clears a
        state an error frame reported, only one this poll reported itself."""
        polled = {"PASSIVE": PASSIVE, "ERROR": BUS_OFF}.get(state)
        if polled is not None:
            self.state, self._polled = polled, True
        elif self._polled:
            self.state, self._polled = ACTIVE, False

    def state_changes(self) -> list[Change]:
        """At once (not per window): the controller went passive, bus-off, or back."""
        if self.state == self._reported_state:
            return []
        before, self._reported_state = self._reported_state, self.state
        out = []
        for state, condition in CONDITION_OF_STATE.items():
            if (before == state) != (self.state == state):
                out.append(Change(condition, self.state == state,
                                  f"controller {self.state}, {self.error_frames_total} "
                                  "error frames"))
        return out

    def evaluate(self, now: float) -> tuple[list[Change], Summary | None]:
        """Controller changes at once; the load verdict and the summary once per window."""
        changes = self.state_changes()
        if self.started_s is None or now - self.started_s < self.window_s:
            return changes, None
        elapsed = now - self.started_s
        babbling: dict[int, float] = {}
        unknown: dict[int, int] = {}
        for ident, n in self.counts.items():
            rate = n / elapsed
            if ident not in self.cycles:
                unknown[ident] = n
            cycle = self.cycles.get(ident)
            limit = BABBLE_FACTOR / cycle if cycle else EVENT_FRAME_RATE
            if n >= MIN_BABBLE_FRAMES and rate > limit:
                babbling[ident] = rate
        if bool(babbling) != bool(self.babbling) or set(babbling) - set(self.babbling):
            detail = ", ".join(f"0x{i:03X} at {r:.0f} frames/s" for i, r in
                               sorted(babbling.items())) or "bus load back to normal"
            changes.append(Change(BABBLING, bool(babbling), detail))
        self.babbling = babbling
        summary = Summary(round(elapsed, 1), sum(self.counts.values()) / elapsed,
                          self.errors_in_window, self.state, self.tx_errors, self.rx_errors,
                          babbling, unknown)
        self.last = summary
        self.counts.clear()
        self.errors_in_window = 0
        self.started_s = now
        return changes, summary
