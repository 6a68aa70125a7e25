"""The safety invariants, checked against the modules' truth after every quantum of module time.

The reference is what the nurse confirmed (every plan sent through ``ChannelController.load``)
and what the nurse did (start, pause, stop, acknowledge); the truth is the pump firmware and its
physics. A violation raises ``SafetyViolation`` with the channel, the module time and what was
wrong, so Hypothesis shrinks to the shortest sequence that breaks it.

Tolerances (stated, not tuned to pass):
- volume: delivered to the patient (``patient_ml``, what a balance weighs) <= authorised x
  (1 + 5 % + |calibration drift|) + 0.1 mL: the simulators' accuracy (pumps/volumetric.py,
  pumps/syringe.py: +-5 %) plus the line's compliance at the end of a program;
- rates: 0.05 mL/h (the DBC carries 0.1 mL/h steps);
- system delay: an unexpected stop, a silent module or a wrong view must be alarmed (or right)
  within ``SYSTEM_DELAY_S`` = module heartbeat timeout (3 s) + 2 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from channels.plan import Plan, PlanKind
from dbc.frames import BolusPage, PrimaryPage, SecondaryPage
from dbc.vocabulary import AlarmCondition, DeliveryMode, EndAction, PumpState
from workstation.alarms import Alarm, AudioState, Priority

from .harness import FAST_PERIOD_S, QUANTUM_S, Rig

RUNNING = (PumpState.INFUSING, PumpState.KVO)
VOLUME_REL_TOL = 0.05
VOLUME_ABS_TOL_ML = 0.1
RATE_TOL_ML_H = 0.05
SYSTEM_DELAY_S = 5.0
# Alarms the station raises when code failed (it catches the exception and goes on) or when a
# frame could not be encoded: each is a defect upstream, never a patient condition.
INTERNAL_FAULTS = frozenset({"CHANNEL_FAULT", "COMMAND_NOT_SENT", "TASK_FAILED",
                             "RECEIVE_FAILED"})
VIEW_GRACE_S = 3.0  # command retries: 0.5 s x 4 tries, then the status that follows


class SafetyViolation(AssertionError):
    pass


def patient_ml(mechanism: object) -> float:
    """What reached the patient (a balance); older mechanisms counted only that."""
    value = getattr(mechanism, "patient_ml", None)
    if value is None:
        value = getattr(mechanism, "delivered_ml")  # noqa: B009
    return float(value)


@dataclass
class ChannelTruth:
    plans: list[Plan] = field(default_factory=list)  # confirmed by the nurse, newest last
    base_ml: float = 0.0  # authorised: delivered at the last commit + its VTBI
    extra_ml: float = 0.0  # authorised since: secondaries, boluses, KVO and CONTINUE flow
    active_obj: object = None
    secondary_obj: object = None
    bolus_obj: object = None
    drift_percent: float = 0.0
    expect_running: bool = False  # the nurse started it and did not pause or stop it
    stopped_since: float | None = None
    last_ack_at: float = -math.inf  # the nurse acknowledged one of this channel's alarms
    view_bad_since: float | None = None


class Monitor:
    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.truth = {letter: ChannelTruth() for letter in rig.modules}
        self.checks = 0
        self._last_rx: dict[str, float] = dict.fromkeys(rig.modules, 0.0)
        rig.plan_observers.append(self._confirmed)
        rig.observers.append(self.on_quantum)
        rig.frame_observers.append(self._heard)

    # -- inputs ---------------------------------------------------------------------------
    def _confirmed(self, letter: str, program_id: int, plan: Plan) -> None:
        self.truth[letter].plans.append(plan)

    def _heard(self, letter: str) -> None:
        self._last_rx[letter] = self.rig.t

    def nurse_acknowledged(self, letter: str) -> None:
        self.truth[letter].last_ack_at = self.rig.t

    def nurse_running(self, letter: str, running: bool) -> None:
        self.truth[letter].expect_running = running

    def fail(self, letter: str, what: str) -> None:
        raise SafetyViolation(f"t={self.rig.t:.2f} s channel {letter}: {what}")

    # -- every quantum --------------------------------------------------------------------
    def on_quantum(self) -> None:
        fast = abs((self.rig.t / FAST_PERIOD_S) - round(self.rig.t / FAST_PERIOD_S)) < 1e-6
        for letter in self.truth:
            self._volume(letter)
            self._motor_rate(letter)
            if fast:
                self._stops(letter)
                self._heard_from(letter)
                self._view(letter)
        if fast:
            self._high_alarms()
        self.checks += 1

    def check_all(self) -> None:
        """Everything, now (after each rule)."""
        for letter in self.truth:
            self._volume(letter)
            self._motor_rate(letter)
            self._stops(letter)
            self._heard_from(letter)
        self._high_alarms()

    # -- helpers --------------------------------------------------------------------------
    def _alarms(self, letter: str, minimum: Priority = Priority.MEDIUM) -> list[Alarm]:
        station = self.rig.station
        if station is None:
            return []
        return [a for a in station.alarms.active()
                if a.key.source == letter and a.priority >= minimum]

    def _station_up_for(self) -> float:
        return -1.0 if self.rig.station is None else self.rig.t - self.rig.ws_started_at

    def _plans(self, letter: str, kind: PlanKind) -> list[Plan]:
        return [p for p in self.truth[letter].plans if p.kind is kind]

    @staticmethod
    def _same(a: float, b: float) -> bool:
        return abs(a - b) <= RATE_TOL_ML_H

    def _plan_for_primary(self, letter: str, page: PrimaryPage) -> Plan | None:
        for plan in reversed(self._plans(letter, PlanKind.PRIMARY)):
            if self._same(plan.rate_ml_h, page.rate_ml_h) and \
                    self._same(plan.vtbi_ml, page.vtbi_ml):
                return plan
        return None

    def _plan_for_page(self, letter: str, page: SecondaryPage | BolusPage) -> Plan | None:
        kind = PlanKind.SECONDARY if isinstance(page, SecondaryPage) else PlanKind.BOLUS
        volume = page.vtbi_ml if isinstance(page, SecondaryPage) else page.volume_ml
        for plan in reversed(self._plans(letter, kind)):
            if self._same(plan.rate_ml_h, page.rate_ml_h) and self._same(plan.vtbi_ml, volume):
                return plan
        return None

    # -- invariant 1: delivered volume within what was authorised ----------------------------
    def _volume(self, letter: str) -> None:
        truth, module = self.truth[letter], self.rig.modules[letter]
        fw, program = module.firmware, module.firmware.program
        delivered = patient_ml(module.mechanism)
        if program.active is not truth.active_obj:  # a program was committed or cleared
            truth.active_obj = program.active
            primary = program.primary
            truth.base_ml = delivered + (primary.vtbi_ml if primary is not None else 0.0)
            truth.extra_ml = 0.0
            if fw.mode is DeliveryMode.SECONDARY and program.secondary is not None:
                truth.extra_ml += max(0.0, program.secondary.vtbi_ml - fw.delivered.secondary_ml)
            if fw.mode is DeliveryMode.BOLUS and program.bolus is not None:
                truth.extra_ml += max(0.0, program.bolus.volume_ml - fw.delivered.bolus_ml)
        if program.secondary is not truth.secondary_obj:
            truth.secondary_obj = program.secondary
            if program.secondary is not None:
                truth.extra_ml += program.secondary.vtbi_ml
        if program.bolus is not truth.bolus_obj:
            truth.bolus_obj = program.bolus
            if program.bolus is not None:
                truth.extra_ml += program.bolus.volume_ml
        continuing = fw.state is PumpState.INFUSING and fw.mode is DeliveryMode.PRIMARY and \
            program.end_action() is EndAction.CONTINUE and \
            program.left_ml(DeliveryMode.PRIMARY, fw.delivered) == 0.0  # VTBI done, going on
        if fw.state is PumpState.KVO or continuing:
            truth.extra_ml += fw.motor_rate() * QUANTUM_S / 3600.0
        authorised = truth.base_ml + truth.extra_ml
        allowed = authorised * (1 + VOLUME_REL_TOL + abs(truth.drift_percent) / 100) \
            + VOLUME_ABS_TOL_ML
        if delivered > allowed:
            self.fail(letter, f"over-infusion: {delivered:.3f} mL delivered, {authorised:.3f} mL "
                              f"authorised (allowed {allowed:.3f} mL with the tolerance); pump "
                              f"{fw.state.name}/{fw.mode.name} at {fw.motor_rate():g} mL/h")

    # -- invariant 2: never faster than the nurse confirmed for what runs ---------------------
    def _motor_rate(self, letter: str) -> None:
        fw = self.rig.modules[letter].firmware
        rate = fw.motor_rate()
        if rate <= 0:
            return
        program = fw.program
        limit: float | None = None
        what = f"{fw.state.name}/{fw.mode.name}"
        if fw.state is PumpState.KVO or fw.mode is DeliveryMode.PRIMARY:
            page = program.primary
            plan = self._plan_for_primary(letter, page) if page is not None else None
            if plan is not None:
                limit = min(plan.kvo_ml_h, plan.rate_ml_h) if fw.state is PumpState.KVO \
                    else plan.rate_ml_h
        elif fw.mode is DeliveryMode.SECONDARY and program.secondary is not None:
            plan = self._plan_for_page(letter, program.secondary)
            limit = plan.rate_ml_h if plan is not None else None
        elif fw.mode is DeliveryMode.BOLUS and program.bolus is not None:
            plan = self._plan_for_page(letter, program.bolus)
            limit = plan.rate_ml_h if plan is not None else None
        if limit is None:
            self.fail(letter, f"motor runs {rate:g} mL/h in {what} on a program the nurse "
                              "never confirmed")
        elif rate > limit + RATE_TOL_ML_H:
            self.fail(letter, f"motor runs {rate:g} mL/h in {what}, above the {limit:g} mL/h "
                              "the nurse confirmed")

    # -- invariant 3: no silent stop ----------------------------------------------------------
    def _stops(self, letter: str) -> None:
        truth, fw = self.truth[letter], self.rig.modules[letter].firmware
        completed = bool(fw.conditions() & AlarmCondition.INFUSION_COMPLETE) and \
            fw.state is PumpState.COMPLETE
        unexpected = (truth.expect_running and fw.state not in RUNNING and not completed) \
            or fw.state is PumpState.ALARM
        if not unexpected:
            truth.stopped_since = None
            return
        now = self.rig.t
        if truth.stopped_since is None:
            truth.stopped_since = now
        audio_pause = self.rig.config.alarms.audio_pause_s
        if now - truth.stopped_since <= SYSTEM_DELAY_S or \
                self._station_up_for() <= SYSTEM_DELAY_S or \
                now - truth.last_ack_at <= audio_pause + SYSTEM_DELAY_S or self._alarms(letter):
            return
        self.fail(letter, f"silent stop: pump {fw.state.name} for "
                          f"{now - truth.stopped_since:.1f} s (the nurse "
                          f"{'started it' if truth.expect_running else 'did not stop it'}), no "
                          "MEDIUM or HIGH alarm on the channel")

    # -- invariant 3b: a module not heard is alarmed ------------------------------------------
    def _heard_from(self, letter: str) -> None:
        if self._station_up_for() <= SYSTEM_DELAY_S:
            return
        since = max(self._last_rx[letter], self.rig.ws_started_at)
        if self.rig.t - since > SYSTEM_DELAY_S and not self._alarms(letter):
            module = self.rig.modules[letter]
            self.fail(letter, f"module not heard for {self.rig.t - since:.1f} s "
                              f"(pump {module.firmware.state.name}), no alarm on the channel")

    # -- invariant 4: the workstation's view matches the module -------------------------------
    def _view(self, letter: str) -> None:
        truth, rig = self.truth[letter], self.rig
        problem = self._view_problem(letter)
        if problem is None:
            truth.view_bad_since = None
            return
        if truth.view_bad_since is None:
            truth.view_bad_since = rig.t
        if rig.t - truth.view_bad_since > VIEW_GRACE_S:
            self.fail(letter, f"the workstation shows {problem} for "
                              f"{rig.t - truth.view_bad_since:.1f} s")

    def _view_problem(self, letter: str) -> str | None:
        rig = self.rig
        if rig.ws is None or self._station_up_for() <= SYSTEM_DELAY_S or \
                rig.t - rig.last_status_rx.get(letter, -1.0) > 2 * FAST_PERIOD_S + 1e-6:
            return None  # not being heard: invariant 3b covers it
        module = rig.modules[letter]
        fw = module.firmware
        snap = rig.ws.channel(letter)
        if snap.state != fw.state.name:
            if snap.state in ("OFFLINE", "NO MODULE", "UNKNOWN") and self._alarms(letter):
                return None  # it says it does not know, and alarms: not a wrong picture
            return f"state {snap.state}, the pump is {fw.state.name}"
        if not self._same(snap.rate_ml_h, round(fw.motor_rate(), 1)):
            return f"rate {snap.rate_ml_h:g} mL/h, the pump runs {fw.motor_rate():g} mL/h"
        total = fw.delivered.total(module.mechanism.delivered_ml)
        shown = snap.volume_infused_ml
        slack = fw.motor_rate() * 2 * FAST_PERIOD_S / 3600 + 0.01
        if shown is None or abs(shown - total) > slack:
            return f"volume {shown} mL, the pump counted {total:.3f} mL"
        if fw.state not in RUNNING:
            return None
        primary = fw.program.primary
        page: PrimaryPage | SecondaryPage | None = primary
        plan: Plan | None = None
        if fw.mode is DeliveryMode.SECONDARY and fw.program.secondary is not None:
            page = fw.program.secondary
            plan = self._plan_for_page(letter, fw.program.secondary)
        elif primary is not None:
            plan = self._plan_for_primary(letter, primary)
        if page is None or plan is None:
            return None  # invariant 2 reports a program nobody confirmed
        unknown = snap.drug in ("", "Unknown (adopted)") or snap.programmed_rate_ml_h is None
        unaskable = module.deaf or rig.wire_disturbed(letter, within_s=VIEW_GRACE_S)
        if unknown and unaskable and self._alarms(letter):
            return None  # it cannot read the program back, shows it does not know, alarms
        if snap.drug != plan.drug_name:
            return f"drug {snap.drug!r}, the pump runs {plan.drug_name!r} ({fw.mode.name})"
        if snap.programmed_rate_ml_h is None or \
                not self._same(snap.programmed_rate_ml_h, page.rate_ml_h):
            return f"programmed rate {snap.programmed_rate_ml_h} mL/h, the pump's " \
                   f"{fw.mode.name} program is {page.rate_ml_h:g} mL/h"
        if snap.concentration != plan.concentration:
            return f"concentration {snap.concentration!r}, the pump runs {plan.concentration!r}"
        return None

    # -- invariant 5: a HIGH alarm whose condition persists is heard --------------------------
    def _high_alarms(self) -> None:
        station = self.rig.station
        if station is None:
            return
        now = self.rig.t
        for alarm in station.alarms.active():
            if alarm.key.condition in INTERNAL_FAULTS:  # invariant 6, now caught and alarmed
                self.fail(alarm.key.source, f"internal failure alarmed: {alarm.key.condition} "
                                            f"({alarm.text}): an exception or a frame the bus "
                                            "cannot carry, caught by the station")
        pause = self.rig.config.alarms.audio_pause_s
        for alarm in station.alarms.active():
            if alarm.priority is Priority.HIGH and alarm.active and alarm.acknowledged and \
                    alarm.acknowledged_at is not None and \
                    now - alarm.acknowledged_at > pause + SYSTEM_DELAY_S:
                self.fail(alarm.key.source, f"HIGH alarm {alarm.key.condition} acknowledged "
                                            f"{now - alarm.acknowledged_at:.0f} s ago, its "
                                            "condition persists, and it is silent")
        indicator = station.alarms.indicator(now)
        sounding = any(a.sounds for a in station.alarms.active())
        if sounding and indicator.audio is AudioState.OFF:
            self.fail("WS", "alarms sound but the audio indicator is off")
        if indicator.audio is AudioState.PAUSED and indicator.pause_left_s > pause + 1e-6:
            self.fail("WS", f"audio paused for {indicator.pause_left_s:.0f} s, more than the "
                            f"{pause:g} s audio pause")
