"""Command execution of the module firmware: the state table plus the guards around it.

Every command first passes the guards that depend on more than the state, in this order (the
first that fails answers Ack REJECTED with its reason and changes nothing):

1. capability: SECONDARY_START on a syringe module -> NOT_SUPPORTED;
2. for commands that run the motor (START, BOLUS_START, SECONDARY_START):
   module in its safe state -> BAD_STATE; door open -> DOOR_OPEN; air detected or not yet
   cleared at the pump (H12) -> AIR_NOT_CLEARED; any other stopping condition present ->
   ALARM_ACTIVE;
3. START naming the pending program is a commit (a new program, or a titration while running),
   accepted from every state; other START program ids -> PROGRAM_ID_MISMATCH;
4. the state table (``pumps.state_table.decide``): the (state, command) outcome;
5. what the command needs: an active program (NO_PROGRAM), the named bolus / secondary page
   (PROGRAM_ID_MISMATCH / NO_PROGRAM), a resume into the primary whose VTBI is done (BAD_STATE);
6. START: the battery at the programmed load (H15) -> BATTERY.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from dbc.frames import BolusPage, Command, CommandAck, Frame, Readback, SecondaryPage
from dbc.vocabulary import (
    STOPPING_CONDITIONS,
    AckResult,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    ModuleState,
    ProgramStore,
    PumpState,
    RejectReason,
)
from pumps.delivery import Delivered, ProgramSlot
from pumps.mechanism import Mechanism
from pumps.power import DEPLETED_MIN, Battery
from pumps.state_table import COMMANDS, Goto, Refusal, Transition, decide

__all__ = ["AIR", "RUNNING", "CommandExecutor", "Identity", "Rejected", "Reply"]

RUNNING = (PumpState.INFUSING, PumpState.KVO)
MOTOR_STARTING = (CommandCode.START, CommandCode.BOLUS_START, CommandCode.SECONDARY_START)
AIR = AlarmCondition.AIR_IN_LINE | AlarmCondition.AIR_ACCUMULATED
Reply = list[Frame]
P = TypeVar("P", BolusPage, SecondaryPage)


@dataclass(frozen=True)
class Identity:
    node: int
    kind: ModuleKind
    serial: int
    firmware: tuple[int, int, int] = (1, 0, 0)


class Rejected(Exception):
    def __init__(self, reason: RejectReason) -> None:
        super().__init__(reason.name)
        self.reason = reason


class CommandExecutor:
    """The command half of ``PumpFirmware`` (which owns the attributes declared here)."""

    identity: Identity
    mechanism: Mechanism
    battery: Battery
    program: ProgramSlot
    delivered: Delivered
    module_state: ModuleState
    state: PumpState
    mode: DeliveryMode
    module_time_s: float
    silenced_until_s: float
    _flags: AlarmCondition  # firmware-made conditions (complete, callback, ...)
    _latched: AlarmCondition  # stopping conditions that halted the motor (H2)
    _resume: tuple[PumpState, DeliveryMode]  # what a resume restarts
    _paused_at: float | None

    def physical_conditions(self) -> AlarmCondition:
        raise NotImplementedError

    # -- frames --------------------------------------------------------------------------------
    def _ack(self, seq: int, subject: CommandCode, reason: RejectReason | None = None) -> Frame:
        return CommandAck(
            node=self.identity.node, seq=seq, subject=subject,
            result=AckResult.ACCEPTED if reason is None else AckResult.REJECTED,
            reason=reason or RejectReason.NONE, program_id=self.program.pending_id,
            state=self.state)

    def _command(self, frame: Command) -> Reply:
        try:
            extra = self._execute(frame)
        except Rejected as exc:
            return [self._ack(frame.seq, frame.command, exc.reason)]
        return [self._ack(frame.seq, frame.command), *extra]

    def _readback(self, store: ProgramStore) -> Reply:
        pages = self.program.pages(store)
        if not pages:
            raise Rejected(RejectReason.NO_PROGRAM)
        pid = self.program.active_id if store is ProgramStore.ACTIVE else self.program.pending_id
        return [Readback(node=self.identity.node, store=store, program_id=pid, page=p)
                for p in pages]

    # -- guards --------------------------------------------------------------------------------
    def _check_can_run(self) -> None:
        present = self.physical_conditions() | self._latched
        if self.module_state is ModuleState.SAFE_STATE:
            raise Rejected(RejectReason.BAD_STATE)
        if present & AlarmCondition.DOOR_OPEN:
            raise Rejected(RejectReason.DOOR_OPEN)
        if present & AIR:
            raise Rejected(RejectReason.AIR_NOT_CLEARED)
        # The battery is judged by guard 6, at the load of what would run.
        if self.physical_conditions() & STOPPING_CONDITIONS & ~AlarmCondition.BATTERY_DEPLETED:
            raise Rejected(RejectReason.ALARM_ACTIVE)

    def _check_battery(self) -> None:
        b = self.battery
        if not b.on_mains and b.minutes_left_at(motor_running=True) < DEPLETED_MIN:
            raise Rejected(RejectReason.BATTERY)

    # -- execution -----------------------------------------------------------------------------
    def _execute(self, frame: Command) -> Reply:
        code = frame.command
        if code not in COMMANDS:
            raise Rejected(RejectReason.UNKNOWN_COMMAND)
        if code is CommandCode.SECONDARY_START and self.identity.kind is ModuleKind.SYRINGE:
            raise Rejected(RejectReason.NOT_SUPPORTED)
        if code in MOTOR_STARTING:
            self._check_can_run()
        if code is CommandCode.START:
            if frame.program_id and frame.program_id == self.program.pending_id:
                self._commit()
                return []
            if frame.program_id not in (0, self.program.active_id):
                raise Rejected(RejectReason.PROGRAM_ID_MISMATCH)
        out = decide(self.state, self.mode, code)
        if isinstance(out, Refusal):
            raise Rejected(out.reason)
        return self._perform(frame, out)

    def _perform(self, frame: Command, out: Transition) -> Reply:
        code = frame.command
        if code is CommandCode.START:
            self._resume_program(out)
        elif code is CommandCode.PAUSE:
            self._halt(PumpState.PAUSED)
        elif code is CommandCode.STOP:
            self._resume = (PumpState.INFUSING, DeliveryMode.PRIMARY)
            self.program.bolus = self.program.secondary = None
            self._go(out)
        elif code is CommandCode.CLEAR:
            self.program.clear()
            self._flags &= ~(AlarmCondition.INFUSION_COMPLETE | AlarmCondition.NEAR_END)
            self._go(out)
        elif code is CommandCode.BOLUS_START:
            self.program.bolus = self._page(frame.program_id, BolusPage)
            self.delivered.bolus_ml = 0.0
            self._go(out)
        elif code is CommandCode.SECONDARY_START:
            self.program.secondary = self._page(frame.program_id, SecondaryPage)
            self.delivered.secondary_ml = 0.0
            self._go(out)
        elif code is CommandCode.BOLUS_STOP:
            self._go(out)
        elif code is CommandCode.SECONDARY_STOP:
            self._set_state(*self._primary_or_end())  # H1: never the rate of a done primary
        elif code is CommandCode.ALARM_ACK:
            self._acknowledge(AlarmCondition(frame.arg & ((1 << 20) - 1)))
        elif code is CommandCode.SILENCE:
            self.silenced_until_s = self.module_time_s + frame.arg
        elif code is CommandCode.RESET_VOLUME:
            self.delivered.reset_total(self.mechanism.delivered_ml)
        elif code is CommandCode.REQUEST_READBACK:
            return self._readback(ProgramStore(frame.arg & 1))
        return []

    def _go(self, out: Transition) -> None:
        if isinstance(out.to, PumpState):
            self._set_state(out.to, self.mode if out.mode is None else out.mode)

    def _page(self, program_id: int, kind: type[P]) -> P:
        found = self.program.find(program_id, kind.PAGE)
        if not isinstance(found, kind):
            raise Rejected(RejectReason.PROGRAM_ID_MISMATCH if program_id
                           else RejectReason.NO_PROGRAM)
        return found

    def _commit(self) -> None:
        """START naming the pending program: a new program, or a titration while running."""
        program = self.program
        reason = program.validate_pending()
        if reason is not None:
            raise Rejected(reason)
        self._check_battery()
        program.commit()
        settings = program.settings
        assert settings is not None  # validate_pending checked it
        self.mechanism.occlusion_limit_mmhg = settings.occlusion_limit_mmhg
        self.mechanism.air_bubble_limit_ul = settings.air_limit_ul
        self.delivered.primary_ml = 0.0
        self._flags &= ~(AlarmCondition.INFUSION_COMPLETE | AlarmCondition.NEAR_END)
        self._latched &= AIR  # the nurse started again; air is cleared only at the pump
        # Titration while a secondary or bolus runs keeps that mode going.
        keep = self.state is PumpState.INFUSING and self.mode is not DeliveryMode.PRIMARY
        self._resume = (PumpState.INFUSING, DeliveryMode.PRIMARY)
        self._set_state(PumpState.INFUSING, self.mode if keep else DeliveryMode.PRIMARY)

    def _resume_program(self, out: Transition) -> None:
        """START naming the active program (or none): resume what the table says."""
        if not self.program.active:
            raise Rejected(RejectReason.NO_PROGRAM)
        if out.to is Goto.RESUME:
            target = self._resume
        else:
            assert isinstance(out.to, PumpState) and out.mode is not None
            target = (out.to, out.mode)
        if target == (PumpState.INFUSING, DeliveryMode.PRIMARY) and \
                self._primary_or_end() != target:
            raise Rejected(RejectReason.BAD_STATE)  # VTBI done: a new program is needed
        self._check_battery()
        self._latched &= AIR
        self._set_state(*target)

    def _primary_or_end(self) -> tuple[PumpState, DeliveryMode]:
        """Where the motor goes back to the primary: its rate, or its end action once its VTBI
        is done (H1: a secondary started after the VTBI returned to the full primary rate)."""
        program = self.program
        if program.left_ml(DeliveryMode.PRIMARY, self.delivered) != 0.0:
            return PumpState.INFUSING, DeliveryMode.PRIMARY
        action = program.end_action()
        if action is EndAction.CONTINUE:
            return PumpState.INFUSING, DeliveryMode.PRIMARY
        self._flags = (self._flags | AlarmCondition.INFUSION_COMPLETE) & ~AlarmCondition.NEAR_END
        if action is EndAction.KVO and program.kvo_rate() > 0:
            return PumpState.KVO, DeliveryMode.PRIMARY
        return PumpState.COMPLETE, DeliveryMode.NONE

    def _acknowledge(self, bits: AlarmCondition) -> None:
        """The nurse acknowledged ``bits`` at the workstation. That releases the latch of a
        stopping condition, except air: air is cleared only at the pump (H12)."""
        self._latched &= ~(bits & ~AIR)
        if bits & AlarmCondition.HOLD_EXPIRED and self._paused_at is not None:
            self._paused_at = self.module_time_s
        self._flags &= ~(bits & (AlarmCondition.CALLBACK | AlarmCondition.HOLD_EXPIRED
                                 | AlarmCondition.WS_HEARTBEAT_LOST))

    def _halt(self, state: PumpState) -> None:
        """Stop the motor into PAUSED or ALARM, remembering what a resume restarts.

        An interrupted bolus is not resumed: a bolus never starts without a new command.
        """
        if self.state in RUNNING:
            mode = DeliveryMode.PRIMARY if self.mode is DeliveryMode.BOLUS else self.mode
            self._resume = (self.state, mode)
        self._set_state(state, DeliveryMode.NONE)

    def _set_state(self, state: PumpState, mode: DeliveryMode) -> None:
        self.state, self.mode = state, mode
        self._paused_at = self.module_time_s if state is PumpState.PAUSED else None
        self._flags &= ~AlarmCondition.HOLD_EXPIRED
