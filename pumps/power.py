"""Module battery: a pure charge model (percent, drain, time left) driven by module time."""

from __future__ import annotations

from dbc.vocabulary import AlarmCondition

__all__ = ["DEPLETED_MIN", "Battery"]

IDLE_HOURS = 16.0  # full battery, electronics only
RUNNING_HOURS = 8.0  # full battery with the motor running (B. Braun / Alaris class figures)
CHARGE_HOURS = 5.0  # empty to full on mains
LOW_MIN = 15.0  # GIP: low-battery alarm below 15 min left
DEPLETED_MIN = 5.0  # GIP: depleted below 5 min left
SET_LOW_RUNNING_MIN = 7.0  # set_low(): under LOW_MIN idle, over DEPLETED_MIN running


class Battery:
    """Charge in percent; drains off mains (faster with the motor running), charges on mains.

    ``minutes_left`` is the time the charge lasts off mains at the current drain, i.e. with the
    motor state of the last ``advance``. Low and depleted alarms are only raised off mains: on
    mains the module cannot run down.
    """

    def __init__(
        self,
        percent: float = 100.0,
        on_mains: bool = True,
        *,
        idle_hours: float = IDLE_HOURS,
        running_hours: float = RUNNING_HOURS,
        charge_hours: float = CHARGE_HOURS,
    ) -> None:
        self.on_mains = on_mains
        self._percent = min(max(percent, 0.0), 100.0)
        self._idle_drain = 100.0 / (idle_hours * 3600.0)  # %/s
        self._running_drain = 100.0 / (running_hours * 3600.0)
        self._charge = 100.0 / (charge_hours * 3600.0)
        self._motor_running = False

    @property
    def percent(self) -> float:
        return self._percent

    @property
    def drain_percent_per_s(self) -> float:
        """Drain off mains at the current load."""
        return self._running_drain if self._motor_running else self._idle_drain

    @property
    def minutes_left(self) -> float:
        return self._percent / self.drain_percent_per_s / 60.0

    def minutes_left_at(self, motor_running: bool) -> float:
        """Time the charge lasts off mains at a given load, e.g. the program about to start
        (GIP: judged at the load that will run, not at the present idle one)."""
        drain = self._running_drain if motor_running else self._idle_drain
        return self._percent / drain / 60.0

    def advance(self, dt_s: float, motor_running: bool) -> None:
        if dt_s < 0.0:
            raise ValueError("dt_s must be >= 0")
        self._motor_running = motor_running
        if self.on_mains:  # mains powers the module and charges the battery
            self._percent = min(100.0, self._percent + self._charge * dt_s)
        else:
            self._percent = max(0.0, self._percent - self.drain_percent_per_s * dt_s)

    def conditions(self) -> AlarmCondition:
        """Conditions at the present load (the motor state of the last ``advance``)."""
        return self.conditions_at(self._motor_running)

    def conditions_at(self, motor_running: bool) -> AlarmCondition:
        """Low and depleted judged at a given load; nothing on mains."""
        if self.on_mains:
            return AlarmCondition(0)
        c = AlarmCondition.ON_BATTERY
        left = self.minutes_left_at(motor_running)
        if left < LOW_MIN:
            c |= AlarmCondition.BATTERY_LOW  # still set when depleted: both are true
        if left < DEPLETED_MIN:
            c |= AlarmCondition.BATTERY_DEPLETED
        return c

    # -- fault injection -------------------------------------------------------------------
    def set_minutes_left(self, minutes: float, *, motor_running: bool = True) -> None:
        """Off mains with ``minutes`` left at the given load (a worn or half-charged pack)."""
        self.on_mains = False
        drain = self._running_drain if motor_running else self._idle_drain
        self._percent = min(max(minutes * 60.0 * drain, 0.0), 100.0)

    def set_low(self) -> None:
        """Off mains, low but not depleted at either load (H15 judges a program at the running
        load): 7 minutes with the motor running, 14 idle."""
        self.set_minutes_left(SET_LOW_RUNNING_MIN, motor_running=True)
