"""One channel's controller: the workstation's side of one pump module.

Pure: inputs are received frames, module events, nurse actions and the time; every method returns
``Effects`` (frames to send, alarms to raise or clear, events to log). The module is the truth
about what the motor does; the controller checks it (read-back, acknowledgements, heartbeat,
delivery, status reconciliation) and says so loudly when it disagrees. The programming workflow
is the table in ``channels.programming``; the no-silent-stop rules are in ``channels.stops``;
reconciling the view with the module's status is ``channels.status_checks`` and
``channels.reconcile``; acknowledgements and read-back are ``channels.program_flow``.
"""

from __future__ import annotations

from typing import Any

from channels.channel_state import RUNNING, ChannelError
from channels.conditions import ChannelCondition, stops_infusion
from channels.effects import Effects
from channels.events import EventKind
from channels.pending import PendingProgram
from channels.plan import Plan, PlanKind
from channels.plausibility import ReportPlausibility
from channels.program_flow import ProgramFlow
from channels.programming import Step, Trigger
from channels.status_checks import StatusChecks
from dbc.frames import (
    AlarmEvent,
    Command,
    CommandAck,
    Delivery,
    Frame,
    Power,
    Program,
    Progress,
    Readback,
    Status,
    SyringeInfo,
)
from dbc.registry import ModuleChange, ModuleEvent
from dbc.vocabulary import (
    STOPPING_CONDITIONS,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    ModuleKind,
    ProgramStore,
    PumpState,
)

PENDING_REMINDER_S = 120.0  # a verified program left unstarted this long (GIP reminder)
# Conditions of the channel under which a bolus must not add drug (H8), besides any condition
# that stops the infusion.
BOLUS_BLOCKERS = frozenset({ChannelCondition.OVER_INFUSION, ChannelCondition.UNCOMMANDED_RATE})

__all__ = ["RUNNING", "ChannelController", "ChannelError"]


class ChannelController(ProgramFlow, StatusChecks):
    """One channel: construct with its configuration (``ChannelState.__init__``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plausibility = ReportPlausibility()  # issue 10: doubt what a module reports

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
            fx.alarm(ChannelCondition.COMM_LOST, f"no heartbeat from slot {self.node}",
                     infusing=True)
            self._abandon(now, fx)
            return self._track(fx)
        self.online = True
        fx.clear(ChannelCondition.COMM_LOST)
        fx.clear(ChannelCondition.NO_MODULE)
        if change is ModuleChange.DUPLICATE:  # issue 10: what this slot reports is not one pump
            fx.alarm(ChannelCondition.DUPLICATE_MODULE, f"two modules answer in slot {self.node}")
            return self._track(fx)
        if change is ModuleChange.IDENTITY_CHANGED or (
                change is ModuleChange.KIND_CHANGED and event.info.kind is expected):
            previous = event.previous.serial if event.previous is not None else "?"
            fx.alarm(ChannelCondition.MODULE_IDENTITY_CHANGED,
                     f"slot {self.node}: serial {event.info.serial}, was {previous}")
        if event.info.kind is not expected or change is ModuleChange.KIND_CHANGED:
            self._abandon(now, fx)
            self.plan = self.plan_id = self.secondary = self.bolus = None
            if event.info.kind is not expected:  # the same kind: MODULE_IDENTITY_CHANGED
                fx.alarm(ChannelCondition.MODULE_KIND_CHANGED, f"slot {self.node}: "
                                                f"{event.info.kind.name.lower()} module, "
                                                f"configured {self.config.kind}")
        elif change is ModuleChange.SAFE_STATE:
            fx.alarm(ChannelCondition.MODULE_SAFE_STATE,
                     f"slot {self.node}, serial {event.info.serial}")
        elif change is ModuleChange.REBOOTED:
            self.supervisor.reset()
            self.plausibility.restart()  # its counters restarted
            # Whatever frame came first after the boot: what the workstation believed ran.
            if self.plan is not None and (self.infusing or self.stops.believed_running):
                fx.alarm(ChannelCondition.MODULE_RESTARTED, "the module rebooted while infusing")
            self.stops.module_rebooted(now)
        # Whatever happened, re-read what the module runs (adoption after a restart too).
        self.reconciler.requested_at = now
        fx.extend(self._send(Command(node=self.node, seq=self.tracker.next_seq(),
                                     command=CommandCode.REQUEST_READBACK,
                                     arg=int(ProgramStore.ACTIVE)), now))
        return self._track(fx)

    def _abandon(self, now: float, fx: Effects) -> None:
        """The module is gone: requests in flight end now (H7), a program being sent is void."""
        for done in self.tracker.cancel_all(now):
            fx.completions.append(done)
            fx.log(EventKind.COMMAND, f"{done.frame.MESSAGE} seq {done.frame.seq} abandoned: "
                                      "module lost", seq=done.frame.seq)
        if self._fire(Trigger.MODULE_LOST, fx) and self.pending is not None:
            if self.step is Step.UNCONFIRMED:
                self._unconfirmed = self.pending
            fx.log(EventKind.PROGRAM, f"{self.pending.plan.kind.value} "
                                      f"{self.pending.plan.describe()} void: module lost",
                   program_id=self.pending.program_id, step=self.step.value)
            self.pending = None

    # -- frames ----------------------------------------------------------------------------
    def on_frame(self, frame: Frame, now: float) -> Effects:
        fx = self._fx()
        m = self.module
        if isinstance(frame, (Status, Delivery)) and self._implausible(frame, now, fx):
            return self._track(fx)  # issue 10: neither in the view nor in supervision
        if isinstance(frame, Status):
            self._on_status(frame, now, fx)
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
            self._reconcile(frame, now, fx)
        elif isinstance(frame, Power):
            m.power = frame
        elif isinstance(frame, SyringeInfo):
            m.syringe = frame
        return self._track(fx)

    # -- time ------------------------------------------------------------------------------
    def tick(self, now: float) -> Effects:
        fx = self._fx()
        if self._started_at is None:
            self._started_at = now
        resend, failed = self.tracker.tick(now)
        fx.frames += resend
        for done in failed:
            self._unacknowledged(done, fx)
        pending = self.pending
        if pending is not None and pending.verified_at is not None and pending.then is None \
                and not pending.reminded and now - pending.verified_at > PENDING_REMINDER_S:
            pending.reminded = True
            fx.alarm(ChannelCondition.PROGRAM_PENDING, f"{pending.plan.describe()} verified "
                                        f"{now - pending.verified_at:.0f} s ago, not started")
        if pending is not None and self.step is Step.SENT and now > pending.deadline:
            self._fire(Trigger.DEADLINE, fx)
            fx.alarm(ChannelCondition.COMMAND_UNACKNOWLEDGED, "program read-back incomplete")
            fx.log(EventKind.PROGRAM, "read-back incomplete: program not started",
                   program_id=pending.program_id, step="incomplete")
            self.pending = None
        heard_for = now - self._started_at
        if self.module.info is None and heard_for > self.module_timeout_s and \
                "NO_MODULE" not in self.conditions:
            # H18: a configured channel never heard since the workstation started.
            where = f"slot {self.node} on {self.config.bus}"
            fx.alarm(ChannelCondition.NO_MODULE, f"{where}: not heard for {heard_for:.0f} s")
            fx.log(EventKind.MODULE, f"{where}: no module answering {heard_for:.0f} s after "
                                     "the workstation started listening", slot=self.node)
        return self._track(fx)

    # -- nurse actions ---------------------------------------------------------------------
    def delivery_blockers(self) -> list[str]:
        """Conditions of this channel under which no bolus may add drug (H8)."""
        mine = {c for c in self.conditions
                if c in BOLUS_BLOCKERS or stops_infusion(c)}
        mine |= {str(bit.name) for bit in AlarmCondition
                 if bit & self.module.alarms & STOPPING_CONDITIONS}
        return sorted(mine)

    def load(self, plan: Plan, now: float, *, user: str | None = None) -> Effects:
        """Send a checked plan's pages; a primary plan then waits for ``start``."""
        self._require_online()
        self._require(Trigger.LOAD)
        if plan.kind is PlanKind.SECONDARY:
            if self.config.kind == "syringe":
                raise ChannelError(f"channel {self.letter}: a syringe module has no secondary")
            if self.plan is None or not self.infusing:
                raise ChannelError(f"channel {self.letter}: start the primary infusion before "
                                   "a secondary")
        if plan.kind is PlanKind.BOLUS:
            if not (self.state is PumpState.INFUSING and self.module.status is not None and
                    self.module.status.mode is DeliveryMode.PRIMARY):
                raise ChannelError(f"channel {self.letter}: a bolus needs the primary infusion "
                                   "running and no alarm")
            blockers = self.delivery_blockers()
            if blockers:
                raise ChannelError(f"channel {self.letter}: no bolus while "
                                   f"{', '.join(blockers)} is active; deal with that first")
        program_id = self._next_program_id
        self._next_program_id = program_id % 255 + 1
        self.pending = PendingProgram.for_plan(plan, program_id,
                                               now + self.commands.readback_timeout_s)
        self.reconciler.remember(program_id, plan)
        self.workflow.fire(Trigger.LOAD)
        fx = self._fx()
        fx.clear(ChannelCondition.PROGRAM_PENDING)
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
            self._require(Trigger.START_SENT)
            fx = self._command(CommandCode.START, now, user=user, program_id=pending.program_id)
            self.workflow.fire(Trigger.START_SENT)
            return fx
        if self.plan is not None and self.state in (PumpState.PAUSED, PumpState.PROGRAMMED,
                                                    PumpState.ALARM):
            return self._command(CommandCode.START, now, user=user)  # resume what runs
        self._require(Trigger.START_SENT)
        raise ChannelError(f"channel {self.letter}: nothing to start; program it first")

    def _command(self, code: CommandCode, now: float, *, user: str | None = None,
                 program_id: int = 0, arg: int = 0) -> Effects:
        self._require_online()
        command = Command(node=self.node, seq=self.tracker.next_seq(), command=code,
                          program_id=program_id, arg=arg)
        fx = self._send(command, now)
        self.stops.commanded(code, now)
        self.plausibility.commanded()
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
        self._require_online()
        self._require(Trigger.CLEARED)
        fx = self._command(CommandCode.CLEAR, now, user=user)
        self.workflow.fire(Trigger.CLEARED)
        self.pending = self._unconfirmed = None
        fx.clear(ChannelCondition.PROGRAM_PENDING)
        fx.clear(ChannelCondition.MODULE_RESTARTED)
        self.plan = self.plan_id = self.secondary = self.bolus = None
        return self._track(fx)

    def stop_bolus(self, now: float, *, user: str | None = None) -> Effects:
        return self._command(CommandCode.BOLUS_STOP, now, user=user)

    def stop_secondary(self, now: float, *, user: str | None = None) -> Effects:
        return self._command(CommandCode.SECONDARY_STOP, now, user=user)

    def acknowledge_module(self, bits: AlarmCondition, now: float, *,
                           user: str | None = None) -> Effects:
        """Tell the module the nurse dealt with these conditions (releases latched conditions;
        air is cleared only at the pump)."""
        return self._command(CommandCode.ALARM_ACK, now, user=user, arg=int(bits))
