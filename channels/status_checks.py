"""Each Status and Progress checked against the channel's plans.

The view is reconciled with what the module runs (H16: adopt what runs; H17: a secondary lasts
until the module ends it) and every stop or rate change is judged (``channels.stops``: no silent
stop). Delivery supervision compares the module's volume with the rate expected here.
"""

from __future__ import annotations

from channels.channel_state import ChannelState
from channels.conditions import ChannelCondition
from channels.effects import Effects
from channels.events import EventKind
from channels.plan import PlanKind
from channels.plausibility import ReportPlausibility
from channels.programming import Step, Trigger
from channels.reconcile import secondary_ended, side_running
from channels.supervision import DeliveryVerdict
from dbc.frames import Command, Delivery, Progress, Status
from dbc.vocabulary import CommandCode, DeliveryMode, ProgramStore, PumpState

__all__ = ["StatusChecks"]


class StatusChecks(ChannelState):
    plausibility: ReportPlausibility  # set by ChannelController.__init__

    def _implausible(self, frame: Status | Delivery, now: float, fx: Effects) -> bool:
        """Issue 10 (B3): a report contradicting the program and the module's own history is
        an alarm and an event, and is not taken (``channels.plausibility``)."""
        if isinstance(frame, Status):
            infusing = frame.state is PumpState.INFUSING and self.module.status is not None \
                and self.module.status.state is PumpState.INFUSING \
                and self.module.status.mode is frame.mode
            why = self.plausibility.status_rate(
                frame.rate_ml_h, self._judged_rate(now) if infusing else None)
        else:
            plans = (self.plan, self.secondary, self.bolus)
            fastest = max([self.expected_rate()] + [p.rate_ml_h for p in plans if p is not None])
            why = self.plausibility.delivery(frame.module_time_s, frame.volume_infused_ml,
                                             fastest)
        if why is None:
            return False
        fx.alarm(ChannelCondition.IMPLAUSIBLE_DELIVERY, why)
        fx.log(EventKind.ALARM, f"IMPLAUSIBLE_DELIVERY: {why}; frame not taken",
               condition="IMPLAUSIBLE_DELIVERY", frame=frame.MESSAGE)
        return True

    def _on_status(self, status: Status, now: float, fx: Effects) -> None:
        previous = self.module.on_status(status, fx, infusing=self.infusing)
        # A secondary ends when the module says so, not when a pause sets the mode NONE (H17).
        if self.secondary is not None and secondary_ended(status):
            self.secondary = None
        if self.bolus is not None and status.mode is not DeliveryMode.BOLUS:
            self.bolus = None  # a bolus is never resumed after a pause or an alarm
        side = side_running(status)
        if side is not None and (self.secondary if side is PlanKind.SECONDARY
                                 else self.bolus) is None:
            self._adopt_side(side, status, previous, fx)
        for finding in self.stops.judge(previous, status, now,
                                        expected_rate=self._judged_rate(now)):
            fx.alarm(finding.condition, finding.detail)
            fx.log(EventKind.ALARM, f"{finding.condition}: {finding.detail}",
                   condition=finding.condition)
        if self.stops.rate_agrees():
            fx.clear(ChannelCondition.UNCOMMANDED_RATE)

    def _adopt_side(self, kind: PlanKind, status: Status, previous: Status | None,
                    fx: Effects) -> None:
        pending = self.pending
        if pending is not None and self.step is Step.STARTING and pending.plan.kind is kind:
            return  # its acknowledgement is on the way
        unconfirmed = self._unconfirmed
        plan, known = self.reconciler.side_plan(status, kind, unconfirmed.plan
                                                if unconfirmed is not None else None)
        if kind is PlanKind.SECONDARY:
            self.secondary = plan
        else:
            self.bolus = plan
        if unconfirmed is not None and plan == unconfirmed.plan:
            self._unconfirmed = None
            self._fire(Trigger.ADOPTED, fx)
            fx.clear(ChannelCondition.COMMAND_UNACKNOWLEDGED)
        fx.log(EventKind.PROGRAM, f"adopted running {kind.value}: {plan.describe()}",
               plan=plan.model_dump(mode="json"), drug_known=known, step="adopted")
        if not known and previous is not None:
            fx.alarm(ChannelCondition.PROGRAM_MISMATCH, f"the pump runs a {kind.value} at "
                                         f"{status.rate_ml_h:g} mL/h nobody started here")

    def _judged_rate(self, now: float) -> float | None:
        """The program's rate for what the module runs, None while that is not settled."""
        status, progress = self.module.status, self.module.progress
        if status is None or self.plan is None or self.reconciler.awaiting(now):
            return None
        if progress is not None and progress.program_id != self.plan_id:
            return None
        if status.state is PumpState.KVO:
            return min(self.plan.kvo_ml_h, self.plan.rate_ml_h)
        by_mode = {DeliveryMode.PRIMARY: self.plan, DeliveryMode.SECONDARY: self.secondary,
                   DeliveryMode.BOLUS: self.bolus}
        plan = by_mode.get(status.mode)
        if status.state is not PumpState.INFUSING or plan is None or plan.drug_id == "unknown":
            return None
        return plan.rate_ml_h

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
        # Low rates are judged over a longer window (up to 1 h): say which.
        minutes = round((self.supervisor.judged_window_s or 900.0) / 60)
        if verdict is DeliveryVerdict.OVER:
            fx.alarm(ChannelCondition.OVER_INFUSION,
                     f"{ratio:.0%} of the programmed volume over {minutes} min")
        elif verdict is DeliveryVerdict.UNDER:
            fx.alarm(ChannelCondition.UNDER_INFUSION,
                     f"{ratio:.0%} of the programmed volume over {minutes} min")
        elif verdict is DeliveryVerdict.OK:
            fx.clear(ChannelCondition.OVER_INFUSION)
            fx.clear(ChannelCondition.UNDER_INFUSION)

    def _reconcile(self, progress: Progress, now: float, fx: Effects) -> None:
        """Each status period: does the module run what the channel shows? (H16)"""
        if self.step is Step.STARTING:
            return  # the start's acknowledgement settles it
        if self.reconciler.wants_readback(progress.program_id, self.module.status,
                                          self.plan_id, now):
            fx.log(EventKind.PROGRAM, f"the pump runs program {progress.program_id}, the "
                                      f"channel shows {self.plan_id or 'none'}: reading it back",
                   program_id=progress.program_id, step="reconcile")
            fx.extend(self._send(Command(node=self.node, seq=self.tracker.next_seq(),
                                         command=CommandCode.REQUEST_READBACK,
                                         arg=int(ProgramStore.ACTIVE)), now))
