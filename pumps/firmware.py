"""The pump module's firmware core: programs, commands, delivery and alarm conditions.

Pure and clock-free: ``handle(frame, now)`` takes a received frame and returns the frames to
send (acknowledgement, read-back); ``tick(now, module_dt_s)`` advances the mechanism by module
time and returns alarm events. ``now`` is the bus (wall) clock, used only for the workstation
heartbeat watchdog; everything clinical runs on module time, which a runner may speed up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

from pumps.delivery import Delivered, ProgramSlot
from pumps.mechanism import Mechanism
from pumps.power import Battery
from pumps.syringe import SyringeMechanism
from workstation.frames import (
    TIME_REMAINING_UNKNOWN,
    AlarmEvent,
    BolusPage,
    Command,
    CommandAck,
    Delivery,
    Frame,
    ModuleHeartbeat,
    Power,
    Program,
    Progress,
    Readback,
    SecondaryPage,
    Status,
    WsHeartbeat,
)
from workstation.vocabulary import (
    STOPPING_CONDITIONS,
    AckResult,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    ModuleState,
    ProgramPage,
    ProgramStore,
    PumpState,
    RejectReason,
)

MODULE_TIME_WRAP_S = (1 << 28) * 0.01
MAX_CHUNK_S = 2.0  # module-time step between condition checks
HOLD_REMINDER_S = 120.0  # paused this long -> HOLD_EXPIRED reminder
NEAR_END_S = 300.0  # primary VTBI ends within this -> NEAR_END pre-alarm
OCCLUSION_RECHECK_S = 15.0  # "checking line" window for auto-restart
RUNNING = (PumpState.INFUSING, PumpState.KVO)
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


class PumpFirmware:
    def __init__(self, identity: Identity, mechanism: Mechanism, battery: Battery) -> None:
        self.identity = identity
        self.mechanism = mechanism
        self.battery = battery
        self.program = ProgramSlot()
        self.delivered = Delivered()
        self.module_state = ModuleState.BOOT
        self.state = PumpState.IDLE
        self.mode = DeliveryMode.NONE
        self._resume = (PumpState.INFUSING, DeliveryMode.PRIMARY)  # after pause or alarm
        self.module_time_s = 0.0
        self.reported = AlarmCondition(0)
        self._flags = AlarmCondition(0)  # firmware-made conditions (complete, callback, ...)
        self._paused_at: float | None = None
        self._occlusion_stop_at: float | None = None
        self._last_ws: float | None = None
        self._ws_timeout_s = 3.0
        self.silenced_until_s = 0.0
        self._last_request: tuple[Command | Program, tuple[Frame, ...]] | None = None

    # -- inputs ------------------------------------------------------------------------------
    def handle(self, frame: Frame, now: float) -> Reply:
        if isinstance(frame, WsHeartbeat):
            self._last_ws, self._ws_timeout_s = now, frame.timeout_s
            return []
        if frame.node != self.identity.node or not isinstance(frame, Command | Program):
            return []  # other modules' traffic, or frames a module does not act on
        # A retry after a lost Ack repeats the Seq: answer again, do not execute twice.
        if self._last_request is not None and self._last_request[0] == frame:
            return list(self._last_request[1])
        replies = self._command(frame) if isinstance(frame, Command) else self._program(frame)
        self._last_request = (frame, tuple(replies))
        return replies

    def _ack(self, seq: int, subject: CommandCode, reason: RejectReason | None = None) -> Frame:
        return CommandAck(
            node=self.identity.node, seq=seq, subject=subject,
            result=AckResult.ACCEPTED if reason is None else AckResult.REJECTED,
            reason=reason or RejectReason.NONE, program_id=self.program.pending_id,
            state=self.state)

    def _program(self, frame: Program) -> Reply:
        subject = CommandCode(CommandCode.PROGRAM_PRIMARY + frame.page.PAGE)
        if self.identity.kind is ModuleKind.SYRINGE and frame.page.PAGE is ProgramPage.SECONDARY:
            return [self._ack(frame.seq, subject, RejectReason.NOT_SUPPORTED)]
        self.program.store_pending(frame.program_id, frame.page)
        readback = Readback(node=self.identity.node, store=ProgramStore.PENDING,
                            program_id=frame.program_id, page=frame.page)
        return [self._ack(frame.seq, subject), readback]

    def _command(self, frame: Command) -> Reply:
        extra: Reply = []
        try:
            if frame.command is CommandCode.REQUEST_READBACK:
                extra = self._readback(ProgramStore(frame.arg & 1))
            else:
                self._execute(frame)
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

    def _execute(self, frame: Command) -> None:
        code = frame.command
        stopping = self.conditions() & STOPPING_CONDITIONS
        if code in (CommandCode.START, CommandCode.BOLUS_START, CommandCode.SECONDARY_START):
            if self.module_state is ModuleState.SAFE_STATE:
                raise Rejected(RejectReason.BAD_STATE)
            if stopping & AlarmCondition.DOOR_OPEN:
                raise Rejected(RejectReason.DOOR_OPEN)
            if stopping:
                raise Rejected(RejectReason.ALARM_ACTIVE)
        if code is CommandCode.START:
            self._start(frame.program_id)
        elif code is CommandCode.PAUSE:
            if self.state not in RUNNING:
                raise Rejected(RejectReason.BAD_STATE)
            self._halt(PumpState.PAUSED)
        elif code is CommandCode.STOP:
            stopped = PumpState.PROGRAMMED if self.program.active else PumpState.IDLE
            self._set_state(stopped, DeliveryMode.NONE)
        elif code is CommandCode.CLEAR:
            if self.state in RUNNING:
                raise Rejected(RejectReason.BAD_STATE)
            self.program.clear()
            self._flags &= ~(AlarmCondition.INFUSION_COMPLETE | AlarmCondition.NEAR_END)
            self._set_state(PumpState.IDLE, DeliveryMode.NONE)
        elif code is CommandCode.BOLUS_START:
            if self.state is not PumpState.INFUSING or self.mode is not DeliveryMode.PRIMARY:
                raise Rejected(RejectReason.BAD_STATE)
            self.program.bolus = self._page(frame.program_id, BolusPage)
            self.delivered.bolus_ml = 0.0
            self.mode = DeliveryMode.BOLUS
        elif code is CommandCode.BOLUS_STOP:
            if self.mode is not DeliveryMode.BOLUS:
                raise Rejected(RejectReason.BAD_STATE)
            self.mode = DeliveryMode.PRIMARY
        elif code is CommandCode.SECONDARY_START:
            if self.identity.kind is ModuleKind.SYRINGE:
                raise Rejected(RejectReason.NOT_SUPPORTED)
            if not self.program.active:
                raise Rejected(RejectReason.NO_PROGRAM)
            self.program.secondary = self._page(frame.program_id, SecondaryPage)
            self.delivered.secondary_ml = 0.0
            self._set_state(PumpState.INFUSING, DeliveryMode.SECONDARY)
        elif code is CommandCode.SECONDARY_STOP:
            if self.mode is not DeliveryMode.SECONDARY:
                raise Rejected(RejectReason.BAD_STATE)
            self.mode = DeliveryMode.PRIMARY
        elif code is CommandCode.ALARM_ACK:
            self._acknowledge(AlarmCondition(frame.arg & ((1 << 20) - 1)))
        elif code is CommandCode.SILENCE:
            self.silenced_until_s = self.module_time_s + frame.arg
        elif code is CommandCode.RESET_VOLUME:
            self.delivered.reset_total(self.mechanism.delivered_ml)
        elif code is not CommandCode.NOP:
            raise Rejected(RejectReason.UNKNOWN_COMMAND)

    def _page(self, program_id: int, kind: type[P]) -> P:
        found = self.program.find(program_id, kind.PAGE)
        if not isinstance(found, kind):
            raise Rejected(RejectReason.PROGRAM_ID_MISMATCH if program_id
                           else RejectReason.NO_PROGRAM)
        return found

    def _start(self, program_id: int) -> None:
        program = self.program
        if program_id and program_id == program.pending_id:
            reason = program.validate_pending()
            if reason is not None:
                raise Rejected(reason)
            program.commit()
            settings = program.settings
            assert settings is not None  # validate_pending checked it
            self.mechanism.occlusion_limit_mmhg = settings.occlusion_limit_mmhg
            self.mechanism.air_bubble_limit_ul = settings.air_limit_ul
            self.delivered.primary_ml = 0.0
            self._flags &= ~(AlarmCondition.INFUSION_COMPLETE | AlarmCondition.NEAR_END)
            # Titration while a secondary or bolus runs keeps that mode going.
            keep = self.state is PumpState.INFUSING and self.mode is not DeliveryMode.PRIMARY
            self._resume = (PumpState.INFUSING, DeliveryMode.PRIMARY)
            self._set_state(PumpState.INFUSING, self.mode if keep else DeliveryMode.PRIMARY)
            return
        if program_id not in (0, program.active_id):
            raise Rejected(RejectReason.PROGRAM_ID_MISMATCH)
        if not program.active:
            raise Rejected(RejectReason.NO_PROGRAM)
        if self.state not in (PumpState.PAUSED, PumpState.PROGRAMMED, PumpState.ALARM):
            raise Rejected(RejectReason.BAD_STATE)
        if self._flags & AlarmCondition.INFUSION_COMPLETE:
            raise Rejected(RejectReason.BAD_STATE)  # VTBI done: a new program is needed
        self._set_state(*self._resume)

    def _acknowledge(self, bits: AlarmCondition) -> None:
        if bits & (AlarmCondition.AIR_IN_LINE | AlarmCondition.AIR_ACCUMULATED):
            self.mechanism.reset_air()
        if bits & AlarmCondition.HOLD_EXPIRED and self._paused_at is not None:
            self._paused_at = self.module_time_s
        self._flags &= ~(bits & (AlarmCondition.CALLBACK | AlarmCondition.HOLD_EXPIRED))

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

    # -- time --------------------------------------------------------------------------------
    def motor_rate(self) -> float:
        if self.state is PumpState.KVO:
            return self.program.kvo_rate()
        if self.state is not PumpState.INFUSING:
            return 0.0
        return self.program.rate(self.mode)

    def tick(self, now: float, module_dt_s: float) -> Reply:
        if self._last_ws is not None and now - self._last_ws > self._ws_timeout_s:
            self._flags |= AlarmCondition.WS_HEARTBEAT_LOST
        else:
            self._flags &= ~AlarmCondition.WS_HEARTBEAT_LOST
        remaining = module_dt_s
        while remaining > 1e-9:
            chunk = min(remaining, MAX_CHUNK_S)
            rate = self.motor_rate()
            left = self.program.left_ml(self.mode, self.delivered) if rate > 0 else None
            if left:  # None (no target) or 0.0 (reached, e.g. CONTINUE): no limit
                chunk = min(chunk, max(left / rate * 3600.0, 1e-3))
            before = self.mechanism.delivered_ml
            self.mechanism.advance(chunk, rate)
            self.battery.advance(chunk, rate > 0)
            self.delivered.add(self.mode, self.state, self.mechanism.delivered_ml - before)
            self.module_time_s += chunk
            remaining -= chunk
            self._targets()
            self._supervise()
        if module_dt_s <= 0:
            self._supervise()  # an immediate evaluation (a fault was injected)
        return self._alarm_events()

    def _targets(self) -> None:
        """Mode changes when a VTBI is reached, and the near-end pre-alarm."""
        program, done = self.program, self.delivered
        if self.state is not PumpState.INFUSING:
            return
        if self.mode is DeliveryMode.BOLUS and program.left_ml(self.mode, done) == 0.0:
            self.mode = DeliveryMode.PRIMARY  # basal rate continues unchanged
        elif self.mode is DeliveryMode.SECONDARY and program.left_ml(self.mode, done) == 0.0:
            if program.secondary is not None and program.secondary.callback:
                self._flags |= AlarmCondition.CALLBACK
            self._set_state(PumpState.INFUSING, DeliveryMode.PRIMARY)
        elif self.mode is DeliveryMode.PRIMARY:
            left = program.left_ml(self.mode, done)
            rate = program.rate(DeliveryMode.PRIMARY)
            if left is not None and rate > 0 and 0 < left / rate * 3600 <= NEAR_END_S:
                self._flags |= AlarmCondition.NEAR_END
            if left == 0.0 and not self._flags & AlarmCondition.INFUSION_COMPLETE:
                self._flags = (self._flags | AlarmCondition.INFUSION_COMPLETE) & \
                    ~AlarmCondition.NEAR_END
                action = program.end_action()
                if action is EndAction.KVO and program.kvo_rate() > 0:
                    self._set_state(PumpState.KVO, DeliveryMode.PRIMARY)
                elif action is not EndAction.CONTINUE:
                    self._set_state(PumpState.COMPLETE, DeliveryMode.NONE)

    def _supervise(self) -> None:
        """Stop on high conditions; occlusion auto-restart; hold reminder."""
        conditions = self.conditions()
        stopping = conditions & STOPPING_CONDITIONS
        if stopping and self.state in RUNNING:
            self._halt(PumpState.ALARM)
            occluded = stopping == AlarmCondition.OCCLUSION_DOWNSTREAM
            if occluded and isinstance(self.mechanism, SyringeMechanism):
                # A syringe driver backs the plunger off to limit the post-occlusion bolus;
                # with the pressure relieved that way there is no auto-restart.
                self.mechanism.back_off()
                occluded = False
            self._occlusion_stop_at = self.module_time_s if occluded else None
        if self._occlusion_stop_at is not None and self.state is PumpState.ALARM:
            waited = self.module_time_s - self._occlusion_stop_at
            limit = self.mechanism.occlusion_limit_mmhg
            if waited > OCCLUSION_RECHECK_S:
                self._occlusion_stop_at = None  # line still blocked: the nurse must act
            elif not stopping and self.mechanism.pressure_mmhg < 0.5 * limit:
                self._occlusion_stop_at = None
                self._set_state(*self._resume)
        if self._paused_at is not None and \
                self.module_time_s - self._paused_at >= HOLD_REMINDER_S:
            self._flags |= AlarmCondition.HOLD_EXPIRED

    def conditions(self) -> AlarmCondition:
        return self.mechanism.conditions() | self.battery.conditions() | self._flags

    def _alarm_events(self) -> Reply:
        now = self.conditions()
        changed, self.reported = now ^ self.reported, now
        return [AlarmEvent(node=self.identity.node, condition=bit, raised=bool(now & bit),
                           alarms=now) for bit in AlarmCondition if changed & bit]

    def reboot(self) -> None:
        """Power cycle: the motor stops, programs are kept (non-volatile), time restarts."""
        self.module_state = ModuleState.BOOT
        self._set_state(PumpState.PROGRAMMED if self.program.active else PumpState.IDLE,
                        DeliveryMode.NONE)
        self.module_time_s = 0.0
        self._last_ws = None
        self._occlusion_stop_at = None

    # -- periodic frames ---------------------------------------------------------------------
    def heartbeat(self) -> ModuleHeartbeat:
        frame = ModuleHeartbeat(
            node=self.identity.node, state=self.module_state, kind=self.identity.kind,
            fw_major=self.identity.firmware[0], fw_minor=self.identity.firmware[1],
            fw_patch=self.identity.firmware[2], serial=self.identity.serial)
        if self.module_state is ModuleState.BOOT:
            self.module_state = ModuleState.OPERATIONAL  # one BOOT heartbeat announces a reboot
        return frame

    def status(self) -> Status:
        return Status(node=self.identity.node, state=self.state, mode=self.mode,
                      rate_ml_h=round(min(self.motor_rate(), 1200.0), 1),
                      pressure_mmhg=int(min(max(self.mechanism.pressure_mmhg, 0), 1023)),
                      alarms=self.reported)

    def delivery(self) -> Delivery:
        total = self.delivered.total(self.mechanism.delivered_ml)
        return Delivery(node=self.identity.node, volume_infused_ml=round(min(total, 16777.2), 3),
                        module_time_s=round(self.module_time_s % MODULE_TIME_WRAP_S, 2))

    def progress(self) -> Progress:
        rate = self.motor_rate()
        left = self.program.left_ml(self.mode if self.mode is not DeliveryMode.NONE
                                    else self._resume[1], self.delivered)
        minutes = TIME_REMAINING_UNKNOWN
        if left is not None and rate > 0 and self.state is PumpState.INFUSING:
            minutes = min(round(left / rate * 60), TIME_REMAINING_UNKNOWN - 1)
        return Progress(node=self.identity.node, program_id=self.program.active_id,
                        # Rounded down: a titration built on it never adds volume.
                        volume_remaining_ml=math.floor(min(left or 0.0, 9999.9) * 10) / 10,
                        time_remaining_min=minutes)

    def power(self) -> Power:
        b = self.battery
        return Power(node=self.identity.node, on_mains=b.on_mains,
                     battery_percent=round(b.percent),
                     battery_minutes=int(min(b.minutes_left, 1023)), temperature_c=31)
