"""The programming workflow in action: acknowledgements, read-back, verification, adoption.

Every step change goes through the table in ``channels.programming`` (``_fire``); an input the
table refuses is logged, never silently dropped.
"""

from __future__ import annotations

from channels.channel_state import ChannelState
from channels.commands import Completion, Outcome
from channels.conditions import ChannelCondition
from channels.effects import Effects
from channels.events import EventKind
from channels.plan import PlanKind
from channels.programming import Step, Trigger
from channels.reconcile import Adoption
from dbc.frames import Command, CommandAck, Program, Readback
from dbc.vocabulary import CommandCode, ProgramStore

__all__ = ["ProgramFlow"]

QUIET_REJECTIONS = (CommandCode.REQUEST_READBACK, CommandCode.NOP)  # no program is not an alarm
STARTS = (CommandCode.START, CommandCode.SECONDARY_START, CommandCode.BOLUS_START)


class ProgramFlow(ChannelState):
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
            self._rejected(done, fx)
            return
        fx.clear(ChannelCondition.COMMAND_REJECTED)
        self.module.acked_state = ack.state
        if isinstance(frame, Program) and self.pending is not None \
                and frame.program_id == self.pending.program_id:
            self.pending.acked.add(frame.page.PAGE)
            self._fire(Trigger.PAGE_ACKED, fx)
            self._maybe_verified(now, fx)
        elif isinstance(frame, Command):
            self._accepted(frame, fx)

    def _rejected(self, done: Completion, fx: Effects) -> None:
        frame, ack = done.frame, done.ack
        assert ack is not None
        if ack.subject in QUIET_REJECTIONS:
            if ack.subject is CommandCode.REQUEST_READBACK:
                self.reconciler.requested_at = None  # nothing active to read back
            return
        fx.alarm(ChannelCondition.COMMAND_REJECTED,
                 f"{ack.subject.name} seq {ack.seq}: {ack.reason.name}")
        pending = self.pending
        if pending is None or frame.program_id != pending.program_id:
            return
        if isinstance(frame, Program):
            pending.mismatch = f"page rejected: {ack.reason.name}"
            self._fire(Trigger.PAGE_REJECTED, fx)
            self.pending = None
        elif frame.command in STARTS:
            side = pending.plan.kind is not PlanKind.PRIMARY
            self._fire(Trigger.AUTO_START_REJECTED if side else Trigger.START_REJECTED, fx)
            if side:
                self.pending = None

    def _accepted(self, command: Command, fx: Effects) -> None:
        if command.command in (CommandCode.START, CommandCode.STOP, CommandCode.CLEAR):
            fx.clear(ChannelCondition.UNCOMMANDED_STOP)  # the nurse has taken the channel in hand
        pending = self.pending
        if pending is None or command.program_id != pending.program_id or \
                command.command not in STARTS:
            return
        plan = pending.plan
        self._fire(Trigger.START_ACKED, fx)
        self.pending = None
        if command.command is CommandCode.START:
            titration = self.plan is not None and self.infusing
            self.plan, self.plan_id = plan, pending.program_id
            fx.log(EventKind.PROGRAM, f"{'titrated to' if titration else 'started'} "
                                      f"{plan.describe()}", program_id=pending.program_id,
                   plan=plan.model_dump(mode="json"), titration=titration, step="active")
            fx.clear(ChannelCondition.PROGRAM_PENDING)
            # Reprogrammed and started: the restart is dealt with.
            fx.clear(ChannelCondition.MODULE_RESTARTED)
        else:
            if plan.kind is PlanKind.SECONDARY:
                self.secondary = plan
            else:
                self.bolus = plan
            fx.log(EventKind.PROGRAM, f"{plan.kind.value} started: {plan.describe()}",
                   program_id=pending.program_id, plan=plan.model_dump(mode="json"),
                   step="active")

    def _on_readback(self, frame: Readback, now: float, fx: Effects) -> None:
        if frame.store is ProgramStore.ACTIVE:
            adoption = self.reconciler.on_active_readback(frame, self.plan, self.plan_id)
            if adoption is not None:
                self._adopt(adoption, fx)
        elif self.pending is not None and self.pending.owns(frame):
            pending = self.pending
            match = pending.matches(frame)
            if not self._fire(Trigger.READBACK_MATCH if match else Trigger.READBACK_MISMATCH,
                              fx):
                return  # e.g. a late read-back once the start is on its way: logged only
            pending.on_readback(frame)
            if pending.mismatch is not None:
                fx.alarm(ChannelCondition.PROGRAM_MISMATCH, pending.mismatch)
                fx.log(EventKind.PROGRAM, f"read-back mismatch: {pending.mismatch}",
                       step="mismatch")
                self.pending = None
            else:
                self._maybe_verified(now, fx)

    def _maybe_verified(self, now: float, fx: Effects) -> None:
        pending = self.pending
        if pending is None or not pending.verified or self.step is not Step.SENT:
            return
        self._fire(Trigger.ALL_VERIFIED, fx)
        pending.verified_at = now
        fx.log(EventKind.PROGRAM, f"read-back verified: {pending.plan.describe()}",
               program_id=pending.program_id, step="verified")
        if pending.then is not None:
            self._fire(Trigger.START_SENT, fx)
            fx.extend(self._send(Command(node=self.node, seq=self.tracker.next_seq(),
                                         command=pending.then,
                                         program_id=pending.program_id), now))
            self.stops.commanded(pending.then, now)

    def _adopt(self, adoption: Adoption, fx: Effects) -> None:
        if adoption.mismatch is not None:
            fx.alarm(ChannelCondition.PROGRAM_MISMATCH, adoption.mismatch)
            fx.log(EventKind.PROGRAM, f"unexplained program: {adoption.mismatch}",
                   program_id=adoption.program_id, step="mismatch")
        if self.plan == adoption.plan and self.plan_id == adoption.program_id:
            return
        plan = adoption.plan
        self.plan, self.plan_id = plan, adoption.program_id
        if self._unconfirmed is not None and \
                self._unconfirmed.program_id == adoption.program_id:
            self._unconfirmed = None
            # The view is reconciled; the alarm stays shown.
            fx.clear(ChannelCondition.COMMAND_UNACKNOWLEDGED)
        self._fire(Trigger.ADOPTED, fx)
        fx.log(EventKind.PROGRAM, f"adopted running program {adoption.program_id}: "
                                  f"{plan.describe()}", program_id=adoption.program_id,
               plan=plan.model_dump(mode="json"), drug_known=adoption.drug_known,
               step="adopted")

    def _unacknowledged(self, done: Completion, fx: Effects) -> None:
        fx.completions.append(done)
        frame = done.frame
        subject = frame.MESSAGE if isinstance(frame, Program) else frame.command.name
        fx.log(EventKind.COMMAND, f"{subject} seq {frame.seq} unacknowledged after "
                                  f"{done.tries} tries", seq=frame.seq)
        fx.alarm(ChannelCondition.COMMAND_UNACKNOWLEDGED, f"{subject} not confirmed by the pump")
        if self.reconciler.requested_at is not None and isinstance(frame, Command) and \
                frame.command is CommandCode.REQUEST_READBACK:
            self.reconciler.requested_at = None  # ask again at the next status period
        pending = self.pending
        if pending is not None and isinstance(frame, Command) and frame.command in STARTS \
                and frame.program_id == pending.program_id \
                and self._fire(Trigger.START_UNACKED, fx):
            # The pump may run it: the status reconciliation adopts it if so (H16).
            self._unconfirmed, self.pending = pending, None
