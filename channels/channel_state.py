"""What one channel's controller knows and the small tools every part of it uses.

``ChannelController`` is assembled from parts by concern: ``ProgramFlow`` (acknowledgements,
read-back, verification, adoption: the programming workflow table in action), ``StatusChecks``
(each Status and Progress reconciled with the plans, and the no-silent-stop rules) and the
controller itself (module presence, time, nurse actions). They share this state.
"""

from __future__ import annotations

from channels.commands import CommandTracker
from channels.config import ChannelConfig, CommandConfig, SupervisionConfig
from channels.effects import Effects
from channels.events import EventKind
from channels.module_view import ModuleView
from channels.pending import PendingProgram
from channels.plan import Plan
from channels.programming import NURSE_TRIGGERS, Step, Trigger, Workflow
from channels.reconcile import Reconciler
from channels.stops import StopJudge
from channels.supervision import DeliverySupervisor
from dbc.frames import Command, Program
from dbc.vocabulary import PumpState

__all__ = ["RUNNING", "ChannelError", "ChannelState"]

RUNNING = (PumpState.INFUSING, PumpState.KVO)


class ChannelError(Exception):
    """A nurse action that cannot be done now; the message says why and what to do."""


class ChannelState:
    def __init__(self, config: ChannelConfig, commands: CommandConfig,
                 supervision: SupervisionConfig, *, restored: dict[int, Plan] | None = None,
                 first_program_id: int = 1, module_timeout_s: float = 3.0) -> None:
        self.config = config
        self.letter = config.letter
        self.node = config.slot
        self.commands = commands
        self.module_timeout_s = module_timeout_s
        self.tracker = CommandTracker(commands.ack_timeout_s, commands.retries)
        self.supervisor = DeliverySupervisor(supervision.window_s, supervision.over_ratio,
                                             supervision.under_ratio, supervision.min_expected_ml)
        self.module = ModuleView()
        self.online = False
        self.workflow = Workflow()
        self.plan: Plan | None = None  # what the module runs, as the workstation knows it
        self.plan_id: int | None = None  # its program id on the module
        self.secondary: Plan | None = None
        self.bolus: Plan | None = None
        self.pending: PendingProgram | None = None  # SENT, VERIFIED or STARTING
        self._unconfirmed: PendingProgram | None = None  # a start never acknowledged
        self.reconciler = Reconciler()
        for program_id, plan in (restored or {}).items():
            self.reconciler.remember(program_id, plan)
        self.stops = StopJudge()
        self.conditions: set[str] = set()  # the channel's active conditions, as raised
        self._started_at: float | None = None  # first tick: when the channel began to listen
        self._next_program_id = (first_program_id - 1) % 255 + 1

    def _fx(self) -> Effects:
        return Effects(self.letter)

    @property
    def step(self) -> Step:
        return self.workflow.step

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

    def _track(self, fx: Effects) -> Effects:
        # In the order the supervisor applies them: clears first, then raises.
        self.conditions.difference_update(fx.clears)
        self.conditions.update(r.condition for r in fx.raises)
        return fx

    def _fire(self, trigger: Trigger, fx: Effects) -> bool:
        """Move the workflow on a module input; an input the table refuses is logged."""
        before = self.workflow.step
        refusal = self.workflow.fire(trigger)
        if refusal is not None:
            fx.log(EventKind.PROGRAM, f"{trigger.value} ignored in step {before.name}: "
                                      f"{refusal.reason}", step=before.value,
                   trigger=trigger.value)
        return refusal is None

    def _require(self, trigger: Trigger) -> None:
        assert trigger in NURSE_TRIGGERS
        refusal = self.workflow.allows(trigger)
        if refusal is not None:
            raise ChannelError(f"channel {self.letter}: {refusal.reason}")

    def _send(self, frame: Command | Program, now: float) -> Effects:
        fx = self._fx()
        fx.frames.append(self.tracker.send(frame, now))
        return fx

    def _require_online(self) -> None:
        if not self.online:
            raise ChannelError(f"channel {self.letter}: no pump module answering in slot "
                               f"{self.node}; check the module and its connection")
