"""The workstation's public Python API: program and control channels, read and answer alarms.

    async with Workstation(config) as ws:
        check = ws.check("A", InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50,
                                            weight_kg=80))
        await ws.program("A", order, confirm=check.needs_confirmation)  # read-back verified
        await ws.start("A")                                             # acknowledged

The tests, the headless runner and the terminal UI all go through this class. Every call that
talks to a module waits for its acknowledgement (or read-back) and raises ``ChannelError`` with
the reason when the module refuses, does not answer, or the drug library blocks it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from channels import bolus_history
from channels.bolus_history import BolusHistory
from channels.commands import Completion, Request
from channels.controller import ChannelController, ChannelError
from channels.druglib import CareArea, DrugLibrary, load_drug_library
from channels.duplicate_pairs import ConfirmedPairs
from channels.effects import Effects
from channels.events import Event, EventKind
from channels.line_advisory import line_checks
from channels.patient_weight import PatientWeight
from channels.plan import Plan, PlanKind
from channels.planning import (
    BolusOrder,
    InfusionOrder,
    PlanCheck,
    check_bolus_order,
    check_order,
    check_titration,
)
from dbc.codec import FrameCodec
from dbc.errors import ConfigError
from dbc.frames import Command, CommandAck, Program
from dbc.vocabulary import AlarmCondition, DeliveryMode, PumpState
from workstation import weight_change
from workstation.alarms import Alarm, Indicator
from workstation.blocked_attempts import blocked_event
from workstation.command_errors import conclude
from workstation.config import WorkstationConfig
from workstation.eventlog import EventLog
from workstation.restart_memory import alarms_at_stop, serials_by_channel
from workstation.snapshot import ChannelSnapshot, snapshot
from workstation.supervisor import Listener, Supervisor
from workstation.telemetry.connection import BrokerAccess
from workstation.telemetry.publisher import TelemetryPublisher
from workstation.weight_change import Reweighing


class ProgrammingBlocked(ChannelError):
    def __init__(self, letter: str, problems: list[str]) -> None:
        super().__init__(f"channel {letter}: not allowed: " + "; ".join(problems))
        self.problems = problems


class ConfirmationRequired(ChannelError):
    def __init__(self, letter: str, problems: list[str]) -> None:
        super().__init__(f"channel {letter}: needs confirmation: " + "; ".join(problems))
        self.problems = problems


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


class Workstation:
    def __init__(self, config: WorkstationConfig, *, library: DrugLibrary | None = None,
                 event_log_path: Path | None = None, codec: FrameCodec | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.library = library or load_drug_library(config.drug_library)
        try:
            self.care_area: CareArea = self.library.care_area(config.care_area)
        except KeyError as exc:
            raise ConfigError(str(config.drug_library), [f"care_area: {exc.args[0]}"]) from None
        self.event_log = EventLog(event_log_path or config.event_log,
                                  synchronous=config.event_log_sync)
        self._codec = codec
        self._clock = clock
        self._supervisor: Supervisor | None = None
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

    @property
    def supervisor(self) -> Supervisor:
        if self._supervisor is None:
            raise RuntimeError("use the Workstation inside 'async with'")
        return self._supervisor

    # -- reading -----------------------------------------------------------------------------
    @property
    def letters(self) -> list[str]:
        return list(self.supervisor.controllers)

    def _controller(self, letter: str) -> ChannelController:
        try:
            return self.supervisor.controllers[letter]
        except KeyError:
            raise ChannelError(f"no channel {letter!r}; channels: {self.letters}") from None

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

    # -- planning ----------------------------------------------------------------------------
    def _running_drugs(self, except_letter: str) -> dict[str, str]:
        # A paused or alarm-stopped channel still has its drug hanging (H10).
        hanging = (PumpState.INFUSING, PumpState.KVO, PumpState.PAUSED, PumpState.ALARM)
        return {letter: c.plan.drug_id for letter, c in self.supervisor.controllers.items()
                if letter != except_letter and c.plan is not None and c.state in hanging}

    @property
    def patient_weight(self) -> PatientWeight:
        """The weight with who set it and when."""
        return self._weight

    @property
    def patient_weight_kg(self) -> float | None:
        """The one patient weight every weight-based order uses (H10)."""
        return self._weight.kg

    def set_patient_weight(self, weight_kg: float, *, user: str | None = None) -> None:
        """Set (or correct) the patient's weight, logged with who; running weight-based
        infusions keep the weight they were programmed with until programmed again."""
        old = self._weight
        self._weight = old.changed(weight_kg, user=user, at=time.time())
        sup = self.supervisor
        sup.publish([], [sup.record(Event(EventKind.USER, f"patient weight set to "
                                          f"{self._weight.describe()}, was {old.describe()}",
                                          user=user))])

    def preview_weight_change(self, weight_kg: float) -> list[Reweighing]:
        """What a new weight does to the running weight-based infusions, same mL/h."""
        return weight_change.preview({letter: c.plan for letter, c in
                                      self.supervisor.controllers.items()}, weight_kg,
                                     self.care_area)

    def change_patient_weight(self, weight_kg: float, *, user: str | None = None
                              ) -> list[Reweighing]:
        """Set the patient weight; running weight-based infusions keep their mL/h (the pumps
        are not touched) and their plans state the dose at the new weight. Each is logged
        with the user and the plan, so a restart adopts the dose as shown."""
        changes = self.preview_weight_change(weight_kg)
        self.set_patient_weight(weight_kg, user=user)
        sup = self.supervisor
        for change in changes:
            controller = self._controller(change.letter)
            controller.plan = change.after
            if controller.plan_id is not None:
                controller.reconciler.remember(controller.plan_id, change.after)
            sup.publish([], [sup.record(Event(
                EventKind.PROGRAM, f"{change.describe()} (new patient weight, mL/h kept)",
                channel=change.letter, user=user,
                data={"step": "reweighed", "program_id": controller.plan_id,
                      "plan": change.after.model_dump(mode="json")}))], (change.letter,))
        return changes

    def check(self, letter: str, order: InfusionOrder, *,
              kind: PlanKind = PlanKind.PRIMARY) -> PlanCheck:
        """Dose calculation and every limit, without sending anything (live form feedback)."""
        self._controller(letter)
        channel = self.config.channel(letter)
        check = check_order(order, self.care_area, kind=kind,
                            running=self._running_drugs(letter), module_kind=channel.kind,
                            patient_weight_kg=self.patient_weight_kg)
        if check.plan is None:
            return check
        # The library's line advisory against the channel's label: confirmed on review.
        return replace(check, checks=(*check.checks,
                                      *line_checks(check.plan, channel.label, letter)))

    def check_titration(self, letter: str, *, dose: float | None = None,
                        rate_ml_h: float | None = None, vtbi_ml: float | None = None
                        ) -> PlanCheck:
        """A new dose or rate for the running plan, in its own concentration (H3)."""
        running = self._controller(letter).plan
        if running is None or running.drug_id == "unknown":
            raise ChannelError(f"channel {letter}: no known infusion to titrate; program it")
        check = check_titration(running, self.care_area, dose=dose, rate_ml_h=rate_ml_h,
                                vtbi_ml=running.vtbi_ml if vtbi_ml is None else vtbi_ml)
        return self._unconfirmed_duplicates(letter, check)

    def _unconfirmed_duplicates(self, letter: str, check: PlanCheck) -> PlanCheck:
        """A titration asks about the same drug on another channel only for a pair never
        confirmed (both programmed before either ran, say): never again for a confirmed one."""
        plan = check.plan
        if plan is None or plan.dose_unit == "mL/h":
            return check
        same = [x for x, drug in self._running_drugs(letter).items() if drug == plan.drug_id]
        new = self.confirmed_pairs.unconfirmed(letter, same, plan.drug_id)
        if not new:
            return check
        plan = plan.model_copy(update={"warnings": tuple(f"Same drug on channel {x}"
                                                          for x in new)})
        return PlanCheck(plan, check.checks, new)

    def check_bolus(self, letter: str, order: BolusOrder) -> PlanCheck:
        """A bolus of the running drug: library limits, lockout and hourly limits (H4), rate
        caps (H8), from the running concentration (H3)."""
        running = self._controller(letter).plan
        if running is None or running.drug_id == "unknown":
            raise ChannelError(f"channel {letter}: no known running infusion for a bolus")
        try:
            drug = self.care_area.drug(running.drug_id)
        except KeyError:
            raise ProgrammingBlocked(letter, [f"{running.drug_name} is not in the "
                                              f"{self.care_area.name} drug library: no bolus; "
                                              "program the infusion again"]) from None
        return check_bolus_order(order, running, drug, self.care_area,
                                 history=self.bolus_history, now=self._clock())

    def record_blocked(self, letter: str, check: PlanCheck, *, user: str | None,
                       drug: str = "") -> None:
        """A hard limit stopped an attempt (the API's or the form's Enter): logged with the
        user, drug, value and limit, for the pharmacy's review of the library."""
        self.supervisor.record(blocked_event(letter, check, user=user, drug=drug))

    def _accept(self, letter: str, check: PlanCheck, confirm: bool, user: str | None,
                drug: str = "", *, new_program: bool = False) -> Plan:
        problems = check.problems()
        if check.blocked:
            self.record_blocked(letter, check, user=user, drug=drug)
            raise ProgrammingBlocked(letter, problems)
        if check.needs_confirmation and not confirm:
            raise ConfirmationRequired(letter, problems)
        plan = check.confirmed()
        if new_program:
            self.confirmed_pairs.forget(letter)
        if check.duplicates:
            self.confirmed_pairs.confirm(letter, check.duplicates, plan.drug_id)
        if problems:
            self.supervisor.record(Event(EventKind.CONFIRMATION, f"{letter}: confirmed: "
                                         + "; ".join(problems), channel=letter, user=user))
        return plan

    # -- acting ------------------------------------------------------------------------------
    async def _until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        changed = self.supervisor.changed
        while not predicate():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise ChannelError(f"{what}: no answer within {timeout:.1f} s")
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), min(left, 0.1))
            except TimeoutError:
                continue

    async def _run(self, letter: str, fx: Effects) -> CommandAck | None:
        """Send the effects; wait for the acknowledgement of the command among them. Every
        failure is a ``CommandFailed`` (a ``ChannelError``): refused, unacknowledged, not sent,
        abandoned with its module, or no answer in time; never a bare ``TimeoutError``."""
        sup, sent = self.supervisor, list[tuple[Request, asyncio.Future[Completion]]]()
        for frame in fx.frames:
            if isinstance(frame, Command | Program):  # a page can fail to be sent, too
                sent.append((frame, asyncio.get_running_loop().create_future()))
                sup.completions[(letter, frame.seq)] = sent[-1][1]
        try:
            sup.apply(fx)
            return await conclude(letter, sent, self._waiting)
        finally:  # no stale future left behind, whatever ended the wait
            for frame, future in sent:
                if future.done() and not future.cancelled():
                    future.exception()  # a second failed page is not "never retrieved"
                future.cancel()
                if sup.completions.get((letter, frame.seq)) is future:
                    del sup.completions[(letter, frame.seq)]

    async def program(self, letter: str, order: InfusionOrder, *, confirm: bool = False,
                      user: str | None = None) -> Plan:
        """Check, send and verify a primary program by read-back; ``start`` runs it."""
        plan = self._accept(letter, self.check(letter, order), confirm, user, order.drug_id,
                            new_program=True)
        if plan.weight_kg is not None and self.patient_weight_kg is None:
            self.set_patient_weight(plan.weight_kg, user=user)  # the first weight is the one
        return await self._send_program(letter, plan, user)

    async def _send_program(self, letter: str, plan: Plan, user: str | None) -> Plan:
        controller = self._controller(letter)
        await self._run(letter, controller.load(plan, self._clock(), user=user))
        await self._until(lambda: controller.pending is None or controller.pending.verified,
                          self.config.commands.readback_timeout_s + self._waiting,
                          f"channel {letter}: program read-back")
        if controller.pending is None or controller.pending.plan != plan:
            raise ChannelError(f"channel {letter}: the pump did not confirm the program "
                               "(see the alarm); program again")
        return plan

    async def start(self, letter: str, *, user: str | None = None) -> CommandAck | None:
        controller = self._controller(letter)
        return await self._run(letter, controller.start(self._clock(), user=user))

    async def pause(self, letter: str, *, user: str | None = None) -> CommandAck | None:
        return await self._run(letter, self._controller(letter).pause(self._clock(), user=user))

    async def stop(self, letter: str, *, user: str | None = None) -> CommandAck | None:
        return await self._run(letter, self._controller(letter).stop(self._clock(), user=user))

    async def clear(self, letter: str, *, user: str | None = None) -> CommandAck | None:
        controller = self._controller(letter)
        return await self._run(letter, controller.clear_program(self._clock(), user=user))

    async def titrate(self, letter: str, *, dose: float | None = None,
                      rate_ml_h: float | None = None, confirm: bool = False,
                      user: str | None = None) -> Plan:
        """Change the running infusion's dose or rate: program, verify, apply without a pause.

        The new program carries the volume still to infuse (as the module reports it), never
        the original VTBI: the module counts a new program's volume from zero."""
        controller = self._controller(letter)
        running = controller.plan
        if running is None or running.drug_id == "unknown":
            raise ChannelError(f"channel {letter}: no known infusion to titrate; program it")
        status, progress = controller.module.status, controller.module.progress
        if controller.state is not PumpState.INFUSING or status is None or \
                status.mode is not DeliveryMode.PRIMARY:
            raise ChannelError(f"channel {letter}: titration needs the primary infusion running "
                               "(not paused, in KVO, or during a secondary or bolus)")
        if progress is None or progress.volume_remaining_ml < 0.1:
            raise ChannelError(f"channel {letter}: the volume left to infuse is not known yet "
                               "or nearly done; program a new infusion instead")
        # The running plan's own concentration, never a library position (H3).
        check = self.check_titration(letter, dose=dose, rate_ml_h=rate_ml_h,
                                     vtbi_ml=progress.volume_remaining_ml)
        plan = await self._send_program(letter, self._accept(letter, check, confirm, user),
                                        user)
        await self.start(letter, user=user)
        return plan

    async def _load_and_wait(self, letter: str, plan: Plan, started: Callable[[], bool],
                             user: str | None) -> Plan:
        controller = self._controller(letter)
        await self._run(letter, controller.load(plan, self._clock(), user=user))
        await self._until(lambda: started() or controller.pending is None,
                          self.config.commands.readback_timeout_s + 2 * self._waiting,
                          f"channel {letter}: {plan.kind.value}")
        if not started():
            raise ChannelError(f"channel {letter}: the pump did not start the {plan.kind.value} "
                               "(see the alarm)")
        return plan

    async def bolus(self, letter: str, order: BolusOrder, *, confirm: bool = False,
                    user: str | None = None) -> Plan:
        controller = self._controller(letter)
        plan = self._accept(letter, self.check_bolus(letter, order), confirm, user)
        given = await self._load_and_wait(letter, plan, lambda: controller.bolus == plan, user)
        if given.dose is not None:  # counted once started, whole (the safe side)
            self.bolus_history.record(given.drug_id, given.dose, self._clock())
        return given

    async def secondary(self, letter: str, order: InfusionOrder, *, confirm: bool = False,
                        user: str | None = None) -> Plan:
        controller = self._controller(letter)
        check = self.check(letter, order, kind=PlanKind.SECONDARY)
        plan = self._accept(letter, check, confirm, user, order.drug_id)
        return await self._load_and_wait(letter, plan, lambda: controller.secondary == plan,
                                         user)

    async def stop_bolus(self, letter: str, *, user: str | None = None) -> None:
        await self._run(letter, self._controller(letter).stop_bolus(self._clock(), user=user))

    async def stop_secondary(self, letter: str, *, user: str | None = None) -> None:
        controller = self._controller(letter)
        await self._run(letter, controller.stop_secondary(self._clock(), user=user))

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
