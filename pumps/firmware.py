"""The pump module's firmware core: programs, commands, delivery and alarm conditions.

Pure and clock-free: ``handle(frame, now)`` takes a received frame and returns the frames to
send (acknowledgement, read-back); ``tick(now, module_dt_s)`` advances the mechanism by module
time and returns alarm events. ``now`` is the bus (wall) clock, used only for the workstation
heartbeat watchdog; everything clinical runs on module time, which a runner may speed up.

Commands are decided by the state table (``pumps.state_table``) and the guards around it
(``pumps.commands``). A stopping condition that halts the motor is latched, so a module in ALARM
always says why (H2); air is cleared only at the pump (``clear_air``, H12); the battery is judged
at the programmed load (H15); the boot count goes up at every power-up (H14).
"""

from __future__ import annotations

import math

from dbc.frames import (
    TIME_REMAINING_UNKNOWN,
    AlarmEvent,
    Command,
    Delivery,
    Frame,
    ModuleHeartbeat,
    Power,
    Program,
    Progress,
    Readback,
    Status,
    WsHeartbeat,
)
from dbc.vocabulary import (
    STOPPING_CONDITIONS,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    ModuleKind,
    ModuleState,
    ProgramPage,
    ProgramStore,
    PumpState,
    RejectReason,
)
from pumps.commands import AIR, RUNNING, CommandExecutor, Identity, Rejected, Reply
from pumps.conflict import ConflictWatch
from pumps.delivery import Delivered, ProgramSlot
from pumps.mechanism import Mechanism
from pumps.power import Battery
from pumps.syringe import SyringeMechanism

__all__ = ["Identity", "PumpFirmware", "Rejected"]

MODULE_TIME_WRAP_S = (1 << 28) * 0.01
MAX_CHUNK_S = 2.0  # module-time step between condition checks
HOLD_REMINDER_S = 120.0  # paused this long -> HOLD_EXPIRED reminder
NEAR_END_S = 300.0  # primary VTBI ends within this -> NEAR_END pre-alarm
OCCLUSION_RECHECK_S = 15.0  # "checking line" window for auto-restart
BOOT_COUNT_MOD = 16  # the Heartbeat's BootCount is 4 bits; Status carries the low 2


class PumpFirmware(CommandExecutor):
    """One module's firmware. Commands are executed by ``CommandExecutor`` from the state
    table (``pumps.state_table``); this half runs time, supervision and the periodic frames."""

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
        self._latched = AlarmCondition(0)  # stopping conditions that halted the motor (H2)
        self.boot_count = 0  # non-volatile: +1 (mod 16) at every power-up (H14)
        self._paused_at: float | None = None
        self._occlusion_stop_at: float | None = None
        self._last_ws: float | None = None
        self._ws_timeout_s = 3.0
        self.silenced_until_s = 0.0
        self._last_request: tuple[Command | Program, tuple[Frame, ...]] | None = None
        self.conflict = ConflictWatch()  # another sender on our own identifiers (B4)

    # -- inputs ------------------------------------------------------------------------------
    def handle(self, frame: Frame, now: float) -> Reply:
        if isinstance(frame, WsHeartbeat):
            self._last_ws, self._ws_timeout_s = now, frame.timeout_s
            return []
        if frame.node != self.identity.node or not isinstance(frame, Command | Program):
            return []  # other modules' traffic, or frames a module does not act on
        if self._last_ws is None:
            # A workstation is talking to us although no heartbeat came yet (it may die before
            # the next): watch it from now, so a program it started never runs alone unsaid.
            self._last_ws = now
        if self.conflict.active(now):
            # Another node sends as us: whoever this command was meant for, do not act on it.
            # Not remembered as answered, so the workstation's retry is judged afresh.
            return [self._conflict_refusal(frame)]
        # A retry after a lost Ack repeats the Seq: answer again, do not execute twice.
        if self._last_request is not None and self._last_request[0] == frame:
            return list(self._last_request[1])
        replies = self._command(frame) if isinstance(frame, Command) else self._program(frame)
        self._last_request = (frame, tuple(replies))
        return replies

    @property
    def last_ws(self) -> float | None:
        """When the last workstation heartbeat came (bus clock), None if none since boot."""
        return self._last_ws

    def foreign_frame(self, arbitration_id: int, now: float) -> bool:
        """A frame on one of this module's own identifiers came from the bus: another sender.
        True if that starts a conflict. The running program is never touched by it."""
        return self.conflict.foreign(arbitration_id, now)

    def _conflict_refusal(self, frame: Command | Program) -> Frame:
        subject = frame.command if isinstance(frame, Command) else \
            CommandCode(CommandCode.PROGRAM_PRIMARY + frame.page.PAGE)
        return self._ack(frame.seq, subject, RejectReason.NODE_CONFLICT)

    def _program(self, frame: Program) -> Reply:
        subject = CommandCode(CommandCode.PROGRAM_PRIMARY + frame.page.PAGE)
        if self.identity.kind is ModuleKind.SYRINGE and frame.page.PAGE is ProgramPage.SECONDARY:
            return [self._ack(frame.seq, subject, RejectReason.NOT_SUPPORTED)]
        self.program.store_pending(frame.program_id, frame.page)
        readback = Readback(node=self.identity.node, store=ProgramStore.PENDING,
                            program_id=frame.program_id, page=frame.page)
        return [self._ack(frame.seq, subject), readback]

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
        # Latched until the workstation acknowledges it (ALARM_ACK with this bit, B6): a
        # restarted workstation reads it in Status and the nurse learns the pump ran alone.
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
            if self.battery.on_mains:  # the battery was changed or mains is back (H15)
                self._latched &= ~AlarmCondition.BATTERY_DEPLETED
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
            self._set_state(*self._primary_or_end())  # H1: a done primary is not resumed
        elif self.mode is DeliveryMode.PRIMARY:
            left = program.left_ml(self.mode, done)
            rate = program.rate(DeliveryMode.PRIMARY)
            if left is not None and rate > 0 and 0 < left / rate * 3600 <= NEAR_END_S:
                self._flags |= AlarmCondition.NEAR_END
            if left == 0.0:
                # Applied whenever the primary runs with its VTBI done, not only the first
                # time it is reached (H1: a return to a done primary ran on at its rate).
                target = self._primary_or_end()
                if target != (self.state, self.mode):
                    self._set_state(*target)

    def _supervise(self) -> None:
        """Stop on high conditions (and latch them); occlusion auto-restart; hold reminder."""
        stopping = self.physical_conditions() & STOPPING_CONDITIONS
        if stopping and self.state in RUNNING:
            # Latched before anything relieves it (H2: the syringe's back-off dropped the
            # pressure before the bits were reported, and the module stopped silently).
            self._latched |= stopping
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
                self._occlusion_stop_at = None  # released within the window: resume
                self._latched &= ~AlarmCondition.OCCLUSION_DOWNSTREAM
                self._set_state(*self._resume)
        if self._paused_at is not None and \
                self.module_time_s - self._paused_at >= HOLD_REMINDER_S:
            self._flags |= AlarmCondition.HOLD_EXPIRED

    def _programmed_load(self) -> bool:
        """Whether the battery is judged with the motor running: whenever a program is
        running or waits to run (H15: judged idle, a start was accepted with 4 min left)."""
        return bool(self.program.pending) or \
            self.state not in (PumpState.IDLE, PumpState.COMPLETE)

    def physical_conditions(self) -> AlarmCondition:
        """What the sensors and the battery say now, without latches or firmware flags."""
        return self.mechanism.conditions() | \
            self.battery.conditions_at(motor_running=self._programmed_load())

    def conditions(self) -> AlarmCondition:
        latched = self._latched
        if self.battery.on_mains:
            latched &= ~AlarmCondition.BATTERY_DEPLETED
        return self.physical_conditions() | self._flags | latched

    def _alarm_events(self) -> Reply:
        now = self.conditions()
        changed, self.reported = now ^ self.reported, now
        return [AlarmEvent(node=self.identity.node, condition=bit, raised=bool(now & bit),
                           alarms=now) for bit in AlarmCondition if changed & bit]

    def reboot(self) -> None:
        """Power cycle: the motor stops, programs are kept (non-volatile), time restarts.

        The boot count (non-volatile) goes up, so the workstation sees the reboot in the first
        Status or Heartbeat it gets. An air latch survives: air is cleared at the pump."""
        self.boot_count = (self.boot_count + 1) % BOOT_COUNT_MOD
        self.module_state = ModuleState.BOOT
        self._set_state(PumpState.PROGRAMMED if self.program.active else PumpState.IDLE,
                        DeliveryMode.NONE)
        self._resume = (PumpState.INFUSING, DeliveryMode.PRIMARY)
        self.program.bolus = self.program.secondary = None
        self._latched &= AIR
        self.module_time_s = 0.0
        self._last_ws = None
        self._occlusion_stop_at = None

    # -- local controls (at the pump, never over the bus) --------------------------------------
    def clear_air(self) -> None:
        """The nurse opened the door, removed the air and closed it: re-arm the air detectors.

        The only way to clear an air stop (H12); a START from the workstation is then accepted.
        """
        self.mechanism.reset_air()
        self._latched &= ~AIR

    # -- periodic frames ---------------------------------------------------------------------
    def heartbeat(self) -> ModuleHeartbeat:
        frame = ModuleHeartbeat(
            node=self.identity.node, state=self.module_state, kind=self.identity.kind,
            fw_major=self.identity.firmware[0], fw_minor=self.identity.firmware[1],
            fw_patch=self.identity.firmware[2], serial=self.identity.serial,
            boot_count=self.boot_count)
        if self.module_state is ModuleState.BOOT:
            self.module_state = ModuleState.OPERATIONAL  # one BOOT heartbeat announces a reboot
        return frame

    def status(self) -> Status:
        return Status(node=self.identity.node, state=self.state, mode=self.mode,
                      rate_ml_h=round(min(self.motor_rate(), 1200.0), 1),
                      pressure_mmhg=int(min(max(self.mechanism.pressure_mmhg, 0), 1023)),
                      alarms=self.reported, boot_count=self.boot_count & 3)

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
                     battery_minutes=int(min(b.minutes_left_at(self._programmed_load()), 1023)),
                     temperature_c=31)
