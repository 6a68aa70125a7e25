"""One channel's controller: the workstation's side of one pump module.

Pure: inputs are received frames, module events, nurse actions and the time; every method returns
``Effects`` (frames to send, alarms to raise or clear, events to log). The module is the truth
about what the motor does; the controller checks it (read-back, acknowledgements, heartbeat,
delivery) and says so loudly when it disagrees.
"""

from __future__ import annotations

from channels.commands import CommandTracker, Outcome
from channels.effects import Effects
from channels.module_view import ModuleView
from channels.pending import PendingProgram
from channels.plan import Plan, PlanKind, plan_from_pages
from channels.supervision import DeliverySupervisor, DeliveryVerdict
from workstation.config import ChannelConfig, CommandConfig, SupervisionConfig
from workstation.eventlog import EventKind
from workstation.frames import (
    AlarmEvent,
    Command,
    CommandAck,
    Delivery,
    Frame,
    Power,
    PrimaryPage,
    Program,
    Progress,
    Readback,
    SettingsPage,
    Status,
    SyringeInfo,
)
from workstation.registry import ModuleChange, ModuleEvent
from workstation.vocabulary import (
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    ModuleKind,
    ProgramPage,
    ProgramStore,
    PumpState,
)

RUNNING = (PumpState.INFUSING, PumpState.KVO)
QUIET_REJECTIONS = (CommandCode.REQUEST_READBACK, CommandCode.NOP)  # no program is not an alarm
PENDING_REMINDER_S = 120.0  # a verified program left unstarted this long (GIP reminder)


class ChannelError(Exception):
    """A nurse action that cannot be done now; the message says why and what to do."""


class ChannelController:
    def __init__(self, config: ChannelConfig, commands: CommandConfig,
                 supervision: SupervisionConfig, *, restored: dict[int, Plan] | None = None,
                 first_program_id: int = 1) -> None:
        self.config = config
        self.letter = config.letter
        self.node = config.slot
        self.commands = commands
        self.tracker = CommandTracker(commands.ack_timeout_s, commands.retries)
        self.supervisor = DeliverySupervisor(supervision.window_s, supervision.over_ratio,
                                             supervision.under_ratio, supervision.min_expected_ml)
        self.module = ModuleView()
        self.online = False
        self.plan: Plan | None = None  # what the module runs, as the workstation knows it
        self.secondary: Plan | None = None
        self.bolus: Plan | None = None
        self.pending: PendingProgram | None = None
        self._restored = dict(restored or {})  # program id -> plan, from the event log
        self._adopting: dict[ProgramPage, object] = {}
        self._next_program_id = (first_program_id - 1) % 255 + 1

    def _fx(self) -> Effects:
        return Effects(self.letter)

    @property
    def state(self) -> PumpState | None:
        """The pump's state: from the last accepted command's ack if newer than the last
        Status (4 Hz), so an alarm right after a start is judged as during an infusion."""
        if self.module.acked_state is not None:
            return self.module.acked_state
        return self.module.status.state if self.module.status else None

    @property
    def infusing(self) -> bool:
        return self.state in RUNNING

    # -- module presence -------------------------------------------------------------------
    def on_module_event(self, event: ModuleEvent, now: float) -> Effects:
        fx = self._fx()
        fx.log(EventKind.MODULE, event.describe(), change=event.change.value,
               serial=event.info.serial, firmware=event.info.firmware)
        self.module.info = event.info
        expected = ModuleKind[self.config.kind.upper()]
        change = event.change
        if change is ModuleChange.LOST:
            self.online = False
            fx.alarm("COMM_LOST", f"no heartbeat from slot {self.node}", infusing=True)
            for frame in self.tracker.cancel_all():
                fx.log(EventKind.COMMAND, f"{frame.MESSAGE} seq {frame.seq} abandoned: "
                                          "module lost")
            return fx
        self.online = True
        fx.clear("COMM_LOST")
        if event.info.kind is not expected or change is ModuleChange.KIND_CHANGED:
            self.plan = self.pending = None
            fx.alarm("MODULE_KIND_CHANGED", f"slot {self.node}: {event.info.kind.name.lower()} "
                                            f"module, configured {self.config.kind}")
        elif change is ModuleChange.SAFE_STATE:
            fx.alarm("MODULE_SAFE_STATE", f"slot {self.node}, serial {event.info.serial}")
        elif change is ModuleChange.REBOOTED:
            self.supervisor.reset()
            if self.infusing:
                fx.alarm("MODULE_RESTARTED", "the module rebooted while infusing")
        # Whatever happened, re-read what the module runs (adoption after a restart too).
        fx.extend(self._send(Command(node=self.node, seq=self.tracker.next_seq(),
                                     command=CommandCode.REQUEST_READBACK,
                                     arg=int(ProgramStore.ACTIVE)), now))
        return fx

    # -- frames ----------------------------------------------------------------------------
    def on_frame(self, frame: Frame, now: float) -> Effects:
        fx = self._fx()
        m = self.module
        if isinstance(frame, Status):
            self._on_status(frame, fx)
        elif isinstance(frame, Delivery):
            m.delivery = frame
            self._supervise(frame, fx)
        elif isinstance(frame, AlarmEvent):
            # Fast path: raise at once; Status reconciles the full set 4x a second.
            m.reported_alarms(frame.alarms, fx, infusing=self.infusing)
        elif isinstance(frame, CommandAck):
            self._on_ack(frame, now, fx)
        elif isinstance(frame, Readback):
            self._on_readback(frame, now, fx)
        elif isinstance(frame, Progress):
            m.progress = frame
        elif isinstance(frame, Power):
            m.power = frame
        elif isinstance(frame, SyringeInfo):
            m.syringe = frame
        return fx

    def _on_status(self, status: Status, fx: Effects) -> None:
        previous = self.module.on_status(status, fx, infusing=self.infusing)
        if previous is not None and previous.mode is not status.mode:
            if previous.mode is DeliveryMode.SECONDARY:
                self.secondary = None
            if previous.mode is DeliveryMode.BOLUS:
                self.bolus = None

    def expected_rate(self) -> float:
        """The rate the workstation expects the motor to run at in the module's state."""
        status = self.module.status
        if status is None or self.plan is None:
            return 0.0
        if status.state is PumpState.KVO:
            return min(self.plan.kvo_ml_h, self.plan.rate_ml_h)
        if status.state is not PumpState.INFUSING:
            return 0.0
        by_mode = {DeliveryMode.PRIMARY: self.plan, DeliveryMode.SECONDARY: self.secondary,
                   DeliveryMode.BOLUS: self.bolus}
        plan = by_mode.get(status.mode)
        return plan.rate_ml_h if plan is not None else status.rate_ml_h

    def _supervise(self, delivery: Delivery, fx: Effects) -> None:
        verdict = self.supervisor.sample(delivery.module_time_s, delivery.volume_infused_ml,
                                         self.expected_rate())
        ratio = self.supervisor.ratio
        if verdict is DeliveryVerdict.OVER:
            fx.alarm("OVER_INFUSION", f"{ratio:.0%} of the programmed volume over 15 min")
        elif verdict is DeliveryVerdict.UNDER:
            fx.alarm("UNDER_INFUSION", f"{ratio:.0%} of the programmed volume over 15 min")
        elif verdict is DeliveryVerdict.OK:
            fx.clear("OVER_INFUSION")
            fx.clear("UNDER_INFUSION")

    def _on_ack(self, ack: CommandAck, now: float, fx: Effects) -> None:
        done = self.tracker.on_ack(ack, now)
        if done is None:
            return
        fx.completions.append(done)
        frame = done.frame
        what = f"{ack.subject.name} seq {ack.seq}"
        fx.log(EventKind.ACK, f"{what} {done.outcome.value}"
               + (f" ({ack.reason.name})" if done.outcome is Outcome.REJECTED else ""),
               seq=ack.seq, subject=ack.subject.name, reason=ack.reason.name,
               tries=done.tries, latency_ms=round(done.latency_s * 1000, 1))
        if done.outcome is Outcome.REJECTED:
            if ack.subject not in QUIET_REJECTIONS:
                fx.alarm("COMMAND_REJECTED", f"{what}: {ack.reason.name}")
            if isinstance(frame, Program) and self.pending is not None:
                self.pending.mismatch = f"page rejected: {ack.reason.name}"
            return
        fx.clear("COMMAND_REJECTED")
        self.module.acked_state = ack.state
        if isinstance(frame, Program) and self.pending is not None \
                and frame.program_id == self.pending.program_id:
            self.pending.acked.add(frame.page.PAGE)
            self._maybe_verified(now, fx)
        elif isinstance(frame, Command):
            self._accepted(frame, fx)

    def _accepted(self, command: Command, fx: Effects) -> None:
        pending = self.pending
        if pending is None or command.program_id != pending.program_id:
            return
        plan = pending.plan
        if command.command is CommandCode.START:
            titration = self.plan is not None and self.infusing
            self.plan, self.pending = plan, None
            self._restored = {pending.program_id: plan}
            fx.log(EventKind.PROGRAM, f"{'titrated to' if titration else 'started'} "
                                      f"{plan.describe()}", program_id=pending.program_id,
                   plan=plan.model_dump(mode="json"), titration=titration, step="active")
            fx.clear("PROGRAM_PENDING")
        elif command.command in (CommandCode.SECONDARY_START, CommandCode.BOLUS_START):
            if plan.kind is PlanKind.SECONDARY:
                self.secondary = plan
            else:
                self.bolus = plan
            self.pending = None
            fx.log(EventKind.PROGRAM, f"{plan.kind.value} started: {plan.describe()}",
                   program_id=pending.program_id, plan=plan.model_dump(mode="json"),
                   step="active")

    def _on_readback(self, frame: Readback, now: float, fx: Effects) -> None:
        if frame.store is ProgramStore.ACTIVE:
            self._adopt(frame, fx)
        elif self.pending is not None and self.pending.on_readback(frame):
            if self.pending.mismatch is not None:
                fx.alarm("PROGRAM_MISMATCH", self.pending.mismatch)
                fx.log(EventKind.PROGRAM, f"read-back mismatch: {self.pending.mismatch}",
                       step="mismatch")
                self.pending = None
            else:
                self._maybe_verified(now, fx)

    def _maybe_verified(self, now: float, fx: Effects) -> None:
        pending = self.pending
        if pending is None or not pending.verified:
            return
        pending.verified_at = now
        fx.log(EventKind.PROGRAM, f"read-back verified: {pending.plan.describe()}",
               program_id=pending.program_id, step="verified")
        if pending.then is not None:
            fx.extend(self._send(Command(node=self.node, seq=self.tracker.next_seq(),
                                         command=pending.then,
                                         program_id=pending.program_id), now))

    def _adopt(self, frame: Readback, fx: Effects) -> None:
        self._adopting[frame.page.PAGE] = frame.page
        primary = self._adopting.get(ProgramPage.PRIMARY)
        settings = self._adopting.get(ProgramPage.SETTINGS)
        if not isinstance(primary, PrimaryPage) or not isinstance(settings, SettingsPage):
            return
        self._adopting.clear()
        known = self._restored.get(frame.program_id)
        if known is not None and known.primary_pages() == (primary, settings):
            plan = known
        else:
            plan = plan_from_pages(primary, settings)
        if self.plan == plan:
            return
        self.plan = plan
        fx.log(EventKind.PROGRAM, f"adopted running program {frame.program_id}: "
                                  f"{plan.describe()}", program_id=frame.program_id,
               plan=plan.model_dump(mode="json"), drug_known=known is not None, step="adopted")

    # -- time ------------------------------------------------------------------------------
    def tick(self, now: float) -> Effects:
        fx = self._fx()
        resend, failed = self.tracker.tick(now)
        fx.frames += resend
        for done in failed:
            fx.completions.append(done)
            subject = done.frame.MESSAGE if isinstance(done.frame, Program) \
                else done.frame.command.name
            fx.log(EventKind.COMMAND, f"{subject} seq {done.frame.seq} unacknowledged after "
                                      f"{done.tries} tries", seq=done.frame.seq)
            fx.alarm("COMMAND_UNACKNOWLEDGED", f"{subject} not confirmed by the pump")
        pending = self.pending
        if pending is not None and pending.verified_at is not None and pending.then is None \
                and not pending.reminded and now - pending.verified_at > PENDING_REMINDER_S:
            pending.reminded = True
            fx.alarm("PROGRAM_PENDING", f"{pending.plan.describe()} verified "
                                        f"{now - pending.verified_at:.0f} s ago, not started")
        if pending is not None and not pending.verified and now > pending.deadline:
            fx.alarm("COMMAND_UNACKNOWLEDGED", "program read-back incomplete")
            fx.log(EventKind.PROGRAM, "read-back incomplete: program not started",
                   program_id=pending.program_id, step="incomplete")
            self.pending = None
        return fx

    # -- nurse actions ---------------------------------------------------------------------
    def _send(self, frame: Command | Program, now: float) -> Effects:
        fx = self._fx()
        fx.frames.append(self.tracker.send(frame, now))
        return fx

    def _require_online(self) -> None:
        if not self.online:
            raise ChannelError(f"channel {self.letter}: no pump module answering in slot "
                               f"{self.node}; check the module and its connection")

    def load(self, plan: Plan, now: float, *, user: str | None = None) -> Effects:
        """Send a checked plan's pages; a primary plan then waits for ``start``."""
        self._require_online()
        if plan.kind is PlanKind.SECONDARY:
            if self.config.kind == "syringe":
                raise ChannelError(f"channel {self.letter}: a syringe module has no secondary")
            if self.plan is None or not self.infusing:
                raise ChannelError(f"channel {self.letter}: start the primary infusion before "
                                   "a secondary")
        if plan.kind is PlanKind.BOLUS and not (self.state is PumpState.INFUSING and
                                               self.module.status is not None and
                                               self.module.status.mode is DeliveryMode.PRIMARY):
            raise ChannelError(f"channel {self.letter}: a bolus needs the primary infusion "
                               "running and no alarm")
        program_id = self._next_program_id
        self._next_program_id = program_id % 255 + 1
        self.pending = PendingProgram.for_plan(plan, program_id,
                                               now + self.commands.readback_timeout_s)
        fx = self._fx()
        fx.clear("PROGRAM_PENDING")
        fx.log(EventKind.PROGRAM, f"{plan.kind.value} sent: {plan.describe()}", user=user,
               program_id=program_id, plan=plan.model_dump(mode="json"), step="sent")
        for message in plan.confirmed_overrides:
            fx.log(EventKind.OVERRIDE, message, user=user, program_id=program_id)
        for page in self.pending.pages.values():
            fx.extend(self._send(Program(node=self.node, seq=self.tracker.next_seq(),
                                         program_id=program_id, page=page), now))
        return fx

    def start(self, now: float, *, user: str | None = None) -> Effects:
        """Start the verified pending primary program, or resume the running one."""
        self._require_online()
        pending = self.pending
        if pending is not None and pending.plan.kind is PlanKind.PRIMARY:
            if not pending.verified:
                raise ChannelError(f"channel {self.letter}: the program is not verified by "
                                   "read-back yet; wait, or program again")
            program_id = pending.program_id
        elif self.plan is not None and self.state in (PumpState.PAUSED, PumpState.PROGRAMMED,
                                                        PumpState.ALARM):
            program_id = 0
        else:
            raise ChannelError(f"channel {self.letter}: nothing to start; program it first")
        fx = self._command(CommandCode.START, now, user=user, program_id=program_id)
        return fx

    def _command(self, code: CommandCode, now: float, *, user: str | None = None,
                 program_id: int = 0, arg: int = 0) -> Effects:
        self._require_online()
        command = Command(node=self.node, seq=self.tracker.next_seq(), command=code,
                          program_id=program_id, arg=arg)
        fx = self._send(command, now)
        fx.log(EventKind.COMMAND, f"{code.name} seq {command.seq}", user=user,
               seq=command.seq, program_id=program_id, arg=arg)
        return fx

    def pause(self, now: float, *, user: str | None = None) -> Effects:
        return self._command(CommandCode.PAUSE, now, user=user)

    def stop(self, now: float, *, user: str | None = None) -> Effects:
        return self._command(CommandCode.STOP, now, user=user)

    def clear_program(self, now: float, *, user: str | None = None) -> Effects:
        if self.infusing:
            raise ChannelError(f"channel {self.letter}: stop the infusion before clearing it")
        self.pending = None
        fx = self._command(CommandCode.CLEAR, now, user=user)
        fx.clear("PROGRAM_PENDING")
        self.plan = self.secondary = self.bolus = None
        return fx

    def stop_bolus(self, now: float, *, user: str | None = None) -> Effects:
        return self._command(CommandCode.BOLUS_STOP, now, user=user)

    def stop_secondary(self, now: float, *, user: str | None = None) -> Effects:
        return self._command(CommandCode.SECONDARY_STOP, now, user=user)

    def acknowledge_module(self, bits: AlarmCondition, now: float, *,
                           user: str | None = None) -> Effects:
        """Tell the module the nurse dealt with these conditions (re-arms air detection...)."""
        return self._command(CommandCode.ALARM_ACK, now, user=user, arg=int(bits))
