"""The stateful safety machine: nurse actions, module and wire faults, workstation restarts,
library updates and time passing on the coupled system (``harness.Rig``), invariants after
every quantum.

Nurse actions go through the public ``Workstation`` API exactly as the UI calls it. A refused
action must end with a ``ChannelError`` (``ProgrammingBlocked``, ``ConfirmationRequired`` are
subclasses); any other exception escaping is a violation. ``self.steps`` keeps a readable
transcript for the report and for regression tests.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from channels.controller import ChannelError
from channels.plan import Plan
from channels.planning import InfusionOrder
from dbc.vocabulary import PumpState
from pumps.module import Fault
from workstation.api import Workstation

from . import orders
from .harness import Rig
from .library_update import withdrawn_first_concentrations
from .monitor import Monitor, SafetyViolation

LETTERS = ("A", "B")  # A volumetric (slot 1), B syringe (slot 2)
RUNNING = (PumpState.INFUSING, PumpState.KVO)
letters = st.sampled_from(LETTERS)
# At the pump: faults, and what a nurse does there (close the door, hang a new bag, clear air).
PUMP_FAULTS = ("occlusion", "occlusion-cleared", "upstream-occlusion", "upstream-cleared",
               "air 20", "air 250", "clear-air", "door", "door-closed", "empty", "new-container",
               "syringe-disengaged", "syringe-engaged", "reboot", "drift -20", "drift 8",
               "drift 20", "battery-low", "mains", "battery-minutes 6", "deaf")
fractions = st.floats(min_value=0.0, max_value=1.0).map(lambda f: round(f, 2))


def _container(plan: Plan) -> str:
    strength = plan.strength.label if plan.strength is not None else "no strength"
    return f"{plan.drug_id} {plan.concentration!r} (computed on {strength})"


class SafetyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="icu-safety-"))
        self.rig = Rig(self.directory)
        self.monitor = Monitor(self.rig)
        self.steps: list[str] = []
        self.refusals = 0
        self.updates = 0  # library updates installed
        self.rig.advance(2.0)  # every module heard, adoption read-backs done

    def teardown(self) -> None:
        self.rig.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- plumbing -------------------------------------------------------------------------
    @property
    def ws(self) -> Workstation:
        assert self.rig.ws is not None
        return self.rig.ws

    def _area(self) -> Any:
        return self.ws.care_area

    def _kind(self, letter: str) -> str:
        return self.rig.config.channel(letter).kind

    def nurse(self, what: str, action: Callable[[Workstation], Coroutine[Any, Any, Any]]
              ) -> bool:
        """One API call to its end; True if it succeeded, False if refused with a reason."""
        self.steps.append(f"t={self.rig.t:.2f} {what}")
        try:
            self.rig.run(action)
        except ChannelError as exc:
            self.refusals += 1
            self.steps[-1] += f" -> refused: {exc}"
            return False
        except SafetyViolation:
            raise
        except Exception as exc:
            raise SafetyViolation(f"t={self.rig.t:.2f} s {what}: {type(exc).__name__} "
                                  f"escaped the API: {exc}") from exc
        return True

    def _running_after(self, letter: str) -> None:
        self.monitor.nurse_running(letter, self.rig.modules[letter].firmware.state in RUNNING)

    # -- the start: both channels infusing (most hazards need a running pump) --------------
    @initialize(drug_a=st.integers(0, 63), drug_b=st.integers(0, 63), fraction=fractions,
                vtbi=st.sampled_from(orders.VTBIS_ML), end=st.sampled_from(orders.END_ACTIONS))
    def both_infusing(self, drug_a: int, drug_b: int, fraction: float, vtbi: float,
                      end: Any) -> None:
        for letter, drug in (("A", drug_a), ("B", drug_b)):
            self.program(letter, drug, 0, True, fraction, vtbi, end, True)

    # -- nurse: programming ---------------------------------------------------------------
    @rule(letter=letters, drug=st.integers(0, 63), conc=st.integers(0, 3), by_dose=st.booleans(),
          fraction=fractions, vtbi=st.sampled_from(orders.VTBIS_ML),
          end=st.sampled_from(orders.END_ACTIONS), then_start=st.booleans())
    def program(self, letter: str, drug: int, conc: int, by_dose: bool, fraction: float,
                vtbi: float, end: Any, then_start: bool) -> None:
        order = orders.infusion_order(self._area(), drug_index=drug, concentration=conc,
                                      by_dose=by_dose, fraction=fraction, vtbi_ml=vtbi,
                                      end_action=end, module_kind=self._kind(letter))
        self.program_order(letter, order, then_start=then_start)

    def program_order(self, letter: str, order: InfusionOrder, *, then_start: bool) -> bool:
        """Program (and start) as the nurse does: confirm the soft limits, read-back verify."""
        async def act(ws: Workstation) -> None:
            await ws.program(letter, order, confirm=True, user="rn")
            if then_start:
                await ws.start(letter, user="rn")

        done = self.nurse(f"program {letter} {order!r}{' and start' if then_start else ''}",
                          act)
        if then_start:
            self._running_after(letter)
        return done

    @rule(letter=letters, case=st.integers(0, len(orders.OUT_OF_RANGE) - 1),
          drug=st.integers(0, 63))
    def program_out_of_range(self, letter: str, case: int, drug: int) -> None:
        base = orders.drug_at(self._area(), drug, module_kind=self._kind(letter))
        usable = [i for i, c in enumerate(base.concentrations)
                  if orders.fits(c, self._kind(letter))]
        fields: dict[str, Any] = {"drug_id": base.id, "concentration": usable[0] if usable else 0,
                                  "rate_ml_h": 2.0, "vtbi_ml": 20.0}
        fields.update(orders.OUT_OF_RANGE[case])
        order = InfusionOrder(**fields)

        async def act(ws: Workstation) -> None:
            await ws.program(letter, order, confirm=True, user="rn")

        self.nurse(f"program {letter} (out of range) {order!r}", act)

    @rule(letter=letters)
    def start(self, letter: str) -> None:
        self.nurse(f"start {letter}", lambda ws: ws.start(letter, user="rn"))
        self._running_after(letter)

    @rule(letter=letters)
    def pause(self, letter: str) -> None:
        self.nurse(f"pause {letter}", lambda ws: ws.pause(letter, user="rn"))
        self.monitor.nurse_running(letter, False)

    @rule(letter=letters)
    def stop(self, letter: str) -> None:
        self.nurse(f"stop {letter}", lambda ws: ws.stop(letter, user="rn"))
        self.monitor.nurse_running(letter, False)

    @rule(letter=letters)
    def clear(self, letter: str) -> None:
        self.nurse(f"clear {letter}", lambda ws: ws.clear(letter, user="rn"))
        self._running_after(letter)

    @rule(letter=letters, factor=st.sampled_from((0.5, 0.8, 1.25, 1.5)), by_dose=st.booleans())
    def titrate(self, letter: str, factor: float, by_dose: bool) -> None:
        plan = self.ws.supervisor.controllers[letter].plan
        if plan is None:
            return
        dose = round(plan.dose * factor, 4) if by_dose and plan.dose else None
        rate = None if dose else round(max(plan.rate_ml_h * factor, 0.1), 1)
        self.from_the_same_container(
            letter, plan, f"titrate {letter} dose={dose} rate={rate}",
            lambda ws: ws.titrate(letter, dose=dose, rate_ml_h=rate, confirm=True, user="rn"))
        self._running_after(letter)

    @rule(letter=letters, by_dose=st.booleans(), fraction=fractions)
    def bolus(self, letter: str, by_dose: bool, fraction: float) -> None:
        plan = self.ws.supervisor.controllers[letter].plan
        if plan is None or plan.drug_id == "unknown":
            return
        drug = self._area().drug(plan.drug_id)
        order = orders.bolus_order(drug, by_dose=by_dose, fraction=fraction)
        self.from_the_same_container(
            letter, plan, f"bolus {letter} {order!r}",
            lambda ws: ws.bolus(letter, order, confirm=True, user="rn"))
        self._running_after(letter)

    def from_the_same_container(self, letter: str, running: Plan, what: str,
                                action: Callable[[Workstation], Coroutine[Any, Any, Any]]
                                ) -> None:
        """H3: a titration or a bolus comes out of the container already on the line, so every
        plan it sends keeps the running drug and concentration, whatever the library says now
        (an update may have withdrawn or reordered it)."""
        sent: list[Plan] = []

        def observe(on: str, _program_id: int, plan: Plan) -> None:
            if on == letter:
                sent.append(plan)

        self.rig.plan_observers.append(observe)
        try:
            self.nurse(what, action)
        finally:
            self.rig.plan_observers.remove(observe)
        for plan in sent:
            if (plan.drug_id, plan.concentration, plan.strength) != \
                    (running.drug_id, running.concentration, running.strength):
                raise SafetyViolation(
                    f"t={self.rig.t:.2f} s {what}: sent {_container(plan)} for the container "
                    f"on line {letter}, which holds {_container(running)}")

    @rule(drug=st.integers(0, 63), fraction=fractions,
          vtbi=st.sampled_from((1.0, 5.0, 25.0, 100.0)), callback=st.booleans())
    def secondary(self, drug: int, fraction: float, vtbi: float, callback: bool) -> None:
        order = orders.infusion_order(self._area(), drug_index=drug, concentration=0,
                                      by_dose=False, fraction=fraction, vtbi_ml=vtbi,
                                      end_action=orders.END_ACTIONS[0], module_kind="volumetric",
                                      callback=callback)
        self.nurse(f"secondary A {order!r}",
                   lambda ws: ws.secondary("A", order, confirm=True, user="rn"))
        self._running_after("A")

    @rule(letter=letters)
    def stop_bolus(self, letter: str) -> None:
        self.nurse(f"stop bolus {letter}", lambda ws: ws.stop_bolus(letter, user="rn"))

    @rule()
    def stop_secondary(self) -> None:
        self.nurse("stop secondary A", lambda ws: ws.stop_secondary("A", user="rn"))

    # -- nurse: alarms --------------------------------------------------------------------
    @rule(index=st.integers(0, 7))
    def acknowledge(self, index: int) -> None:
        alarms = self.ws.active_alarms()
        if not alarms:
            return
        alarm = alarms[index % len(alarms)]
        self.steps.append(f"t={self.rig.t:.2f} acknowledge {alarm.key} ({alarm.priority.name})")
        try:
            self.ws.acknowledge(alarm.id, user="rn")
        except ChannelError as exc:
            self.steps[-1] += f" -> refused: {exc}"
        if alarm.key.source in LETTERS:
            self.monitor.nurse_acknowledged(alarm.key.source)

    @rule(weight_kg=st.sampled_from((60.0, 70.0, 85.0)))
    def change_patient_weight(self, weight_kg: float) -> None:
        """The nurse corrects the patient's weight (API versions that have it): running
        weight-based infusions keep their mL/h."""
        change = getattr(self.ws, "change_patient_weight", None)
        if change is None:
            return
        self.steps.append(f"t={self.rig.t:.2f} patient weight {weight_kg:g} kg")
        try:
            change(weight_kg, user="rn")
        except ChannelError as exc:
            self.steps[-1] += f" -> refused: {exc}"

    @rule()
    def audio_pause(self) -> None:
        self.steps.append(f"t={self.rig.t:.2f} audio pause")
        self.ws.audio_pause(user="rn")

    # -- faults at the pump (and the nurse's hands at the pump) -----------------------------
    @rule(letter=letters, fault=st.sampled_from(PUMP_FAULTS))
    def pump_fault(self, letter: str, fault: str) -> None:
        module = self.rig.modules[letter]
        name, _, value = fault.partition(" ")
        if name == "drift":
            self.monitor.truth[letter].drift_percent = float(value)
        if name in ("syringe-disengaged", "syringe-engaged") and letter != "B":
            return  # a volumetric module has no plunger clamp
        if name == "new-container":
            mechanism = module.mechanism
            if not hasattr(mechanism, "hang_container"):
                return
            mechanism.hang_container(500.0)
            self.steps.append(f"t={self.rig.t:.2f} at pump {letter}: new bag hung")
            return
        member = {"syringe-engaged": "SYRINGE_DISENGAGED", "drift": "CALIBRATION",
                  "occlusion-cleared": "OCCLUSION", "door-closed": "DOOR",
                  "upstream-cleared": "UPSTREAM_OCCLUSION"}.get(
            name, name.upper().replace("-", "_"))
        if member not in Fault.__members__:
            return  # a fault this firmware version cannot simulate (e.g. CLEAR_AIR)
        off = name in ("syringe-engaged", "occlusion-cleared", "door-closed", "upstream-cleared")
        amount = 0.0 if off else float(value) if value else 1.0
        self.steps.append(f"t={self.rig.t:.2f} at pump {letter}: {fault}")
        module.inject(Fault[member], amount)

    # -- faults on the wire ---------------------------------------------------------------
    @rule(letter=letters, kind=st.sampled_from(("silent", "corrupt", "drop")),
          p=st.sampled_from((0.1, 0.3, 0.7, 1.0)), seconds=st.sampled_from((0.5, 2.0, 5.0, 20.0)))
    def wire_fault(self, letter: str, kind: str, p: float, seconds: float) -> None:
        if kind == "silent":
            self.steps.append(f"t={self.rig.t:.2f} module {letter} silent for {seconds:g} s")
            self.rig.silence(letter, seconds)
            return
        self.steps.append(f"t={self.rig.t:.2f} {kind} {p:.0%} of module {letter}'s frames "
                          f"(both ways) for {seconds:g} s")
        self.rig.corrupt(letter, p, seconds, drop=kind == "drop")

    # -- the workstation ------------------------------------------------------------------
    @rule(downtime=st.sampled_from((0.0, 2.0, 10.0)))
    def restart_workstation(self, downtime: float) -> None:
        self.steps.append(f"t={self.rig.t:.2f} workstation restart ({downtime:g} s down)")
        self.rig.restart_workstation(downtime)

    @rule()
    def library_update(self) -> None:
        """The pharmacy's update is installed: the workstation restarts with a library whose
        concentrations no longer match the running containers (H3)."""
        self.updates += 1
        library = withdrawn_first_concentrations(self.ws.library, f"update-{self.updates}")
        self.steps.append(f"t={self.rig.t:.2f} library update {library.version}: first "
                          f"concentrations withdrawn, the rest reordered (restart)")
        self.rig.restart_workstation(0.0, library=library)

    # -- time -----------------------------------------------------------------------------
    @rule(seconds=st.sampled_from((0.05, 0.3, 1.0, 2.5, 5.0)))
    def wait_short(self, seconds: float) -> None:
        self.steps.append(f"t={self.rig.t:.2f} wait {seconds:g} s")
        self.rig.advance(seconds)

    @rule(seconds=st.sampled_from((10.0, 20.0, 40.0)))
    def wait_medium(self, seconds: float) -> None:
        self.steps.append(f"t={self.rig.t:.2f} wait {seconds:g} s")
        self.rig.advance(seconds)

    @rule(seconds=st.sampled_from((60.0, 180.0, 600.0)))
    def wait_long(self, seconds: float) -> None:
        self.steps.append(f"t={self.rig.t:.2f} wait {seconds:g} s")
        self.rig.advance(seconds)

    @invariant()
    def safe(self) -> None:
        self.monitor.check_all()
