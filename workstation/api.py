"""The workstation's public Python API: program and control channels, read and answer alarms.

    async with Workstation(config) as ws:
        check = ws.check("A", InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50,
                                            weight_kg=80))
        await ws.program("A", order, confirm=check.needs_confirmation)  # read-back verified
        await ws.start("A")                                             # acknowledged

The tests, the headless runner and the terminal UI all go through this class. Every call that
talks to a module waits for its acknowledgement (or read-back) and raises ``ChannelError`` with
the reason when the module refuses, does not answer, or the drug library blocks it. The class
is built in parts, one module per concern: ``workstation.order_checks`` (limits and the patient
weight), ``workstation.channel_commands`` (commands), ``workstation.station_access``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

from channels import bolus_history
from channels.bolus_history import BolusHistory
from channels.controller import ChannelError
from channels.druglib import DrugLibrary, load_drug_library
from channels.duplicate_pairs import ConfirmedPairs
from channels.events import Event, EventKind
from channels.patient_weight import PatientWeight
from channels.plan import Plan
from dbc.codec import FrameCodec
from dbc.errors import ConfigError
from dbc.vocabulary import AlarmCondition
from workstation.alarms import Alarm, Indicator
from workstation.bus_view import BusDiagnostics, bus_diagnostics
from workstation.channel_commands import ChannelCommands
from workstation.config import WorkstationConfig
from workstation.eventlog import EventLog
from workstation.order_checks import ConfirmationRequired, ProgrammingBlocked
from workstation.restart_memory import alarms_at_stop, serials_by_channel
from workstation.snapshot import ChannelSnapshot, snapshot
from workstation.supervisor import Listener, Supervisor
from workstation.telemetry.connection import BrokerAccess
from workstation.telemetry.publisher import TelemetryPublisher

__all__ = ["BusDiagnostics", "ConfirmationRequired", "ProgrammingBlocked", "Workstation",
           "restored_plans"]


def restored_plans(event_log: EventLog) -> dict[str, dict[int, Plan]]:
    """Plans the workstation sent before it (re)started, by channel and program id, so running
    infusions can be adopted with their drug and dose."""
    out: dict[str, dict[int, Plan]] = {}
    for row in event_log.query(kinds=[EventKind.PROGRAM]):
        plan, pid = row.data.get("plan"), row.data.get("program_id")
        if row.channel and isinstance(plan, dict) and isinstance(pid, int):
            try:
                out.setdefault(row.channel, {})[pid] = Plan.model_validate(plan)
            except ValueError:
                continue  # written by another version: adopt without drug information
    return out


class Workstation(ChannelCommands):
    def __init__(self, config: WorkstationConfig, *, library: DrugLibrary | None = None,
                 event_log_path: Path | None = None, codec: FrameCodec | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.library = library or load_drug_library(config.drug_library)
        try:
            self.care_area = self.library.care_area(config.care_area)
        except KeyError as exc:
            raise ConfigError(str(config.drug_library), [f"care_area: {exc.args[0]}"]) from None
        self.event_log = EventLog(event_log_path or config.event_log,
                                  synchronous=config.event_log_sync)
        self._codec = codec
        self._clock = clock
        self._supervisor = None
        self.telemetry: TelemetryPublisher | None = None
        self._access: BrokerAccess | None = None
        t = config.telemetry
        if t.enabled and t.url is not None:
            # Files (password, CA, certificate) are read now: a wrong one stops the start with
            # its name, instead of a link that never comes up.
            self._access = BrokerAccess.build(t.url, username=t.username,
                                              password_file=t.password_file, ca_file=t.ca_file,
                                              cert_file=t.cert_file, key_file=t.key_file)
        # One patient per workstation: one weight (H10) and one bolus history (H4).
        self._weight = PatientWeight(config.patient_weight_kg, "configuration", time.time()) \
            if config.patient_weight_kg is not None else PatientWeight()
        self.bolus_history = BolusHistory()
        # "Same drug on another channel", confirmed once per pair and program (issue 12.4).
        self.confirmed_pairs = ConfirmedPairs()
        self._waiting = self.config.commands.ack_timeout_s * (self.config.commands.retries + 1) \
            + 1.0

    async def __aenter__(self) -> Workstation:
        self.event_log.open()
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)  # no task or open file left behind
            raise
        return self

    async def _start(self) -> None:
        self._supervisor = Supervisor(self.config, self.event_log, codec=self._codec,
                                      clock=self._clock, restored=restored_plans(self.event_log))
        # B6: what was shown at the last stop, read before this run logs anything.
        history = self.event_log.query(kinds=[EventKind.ALARM, EventKind.SYSTEM,
                                              EventKind.MODULE])
        self._supervisor.restore([], serials_by_channel(history))  # before any heartbeat
        wall = datetime.now(UTC)  # a restart keeps the bolus lockout (H4)
        self.bolus_history = bolus_history.from_log(
            self.event_log.query(kinds=[EventKind.PROGRAM], since=wall - timedelta(hours=1)),
            self._clock(), wall)
        if self._access is not None:
            self.telemetry = TelemetryPublisher(self._supervisor, self.config, self._access,
                                                drug_library=self.library.label,
                                                care_area=self.care_area.name)
            await self.telemetry.start()
        self._supervisor.record(Event(EventKind.SYSTEM, f"drug library {self.library.label}, "
                                                        f"care area {self.care_area.name}, "
                                                        f"patient weight "
                                                        f"{self._weight.describe()}"))
        await self._supervisor.start()
        self._supervisor.restore(alarms_at_stop(history), {})

    async def __aexit__(self, *exc: object) -> None:
        if self._supervisor is not None:
            await self._supervisor.stop()
        if self.telemetry is not None:
            await self.telemetry.stop()  # after the supervisor: its last events go out too
        self.event_log.close()

    # -- reading -----------------------------------------------------------------------------
    def channel(self, letter: str) -> ChannelSnapshot:
        return snapshot(self._controller(letter), self.active_alarms())

    def channels(self, letters: Collection[str] | None = None) -> list[ChannelSnapshot]:
        """Snapshots of every channel, or only of ``letters``."""
        alarms = self.active_alarms()
        return [snapshot(c, alarms) for letter, c in self.supervisor.controllers.items()
                if letters is None or letter in letters]

    def active_alarms(self) -> list[Alarm]:
        return self.supervisor.alarms.active()

    def indicator(self) -> Indicator:
        return self.supervisor.alarms.indicator(self._clock())

    def subscribe(self, listener: Listener) -> None:
        self.supervisor.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self.supervisor.listeners:
            self.supervisor.listeners.remove(listener)

    def running_plan(self, letter: str) -> Plan | None:
        """The plan ``letter`` is infusing now (INFUSING or KVO), or None."""
        controller = self._controller(letter)
        return controller.plan if controller.infusing else None

    def bus_diagnostics(self) -> BusDiagnostics:
        """The buses' counters and the modules seen on them, copied now."""
        return bus_diagnostics(self.supervisor)

    def record_user_action(self, message: str, *, user: str | None = None) -> None:
        """A user's action that is not a command (lock, unlock, a confirmed large change, a
        simulated fault): logged and published."""
        self.supervisor.record_user_action(message, user=user)

    # -- alarms ------------------------------------------------------------------------------
    def acknowledge(self, alarm_id: int, *, user: str | None = None) -> None:
        """Acknowledge an alarm; a module condition is acknowledged on the module too (latched
        conditions such as a depleted battery are released; air is only ever cleared at the
        pump itself, never from here)."""
        sup = self.supervisor
        alarm = sup.alarms.get(alarm_id)
        if alarm is None:
            raise ChannelError(f"no active alarm {alarm_id}")
        changes = sup.alarms.acknowledge(alarm_id, self._clock(), user=user)
        sup.publish(changes, [])
        controller = sup.controllers.get(alarm.key.source)
        if controller is not None and controller.online and \
                alarm.key.condition in AlarmCondition.__members__:
            bits = AlarmCondition[alarm.key.condition]
            sup.apply(controller.acknowledge_module(bits, self._clock(), user=user))

    def audio_pause(self, *, user: str | None = None) -> None:
        sup = self.supervisor
        changes = sup.alarms.audio_pause(self._clock())
        sup.publish(changes, [sup.record(Event(EventKind.USER, "audio paused", user=user))])
