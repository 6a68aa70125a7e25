"""The planning part of ``Workstation``: the patient weight, and every check of an order.

Orders are checked against the drug library's limits, the patient's weight, the drugs running
on the other channels, the bolus history and the line advisory, without sending anything; a
send goes through ``_accept``, which refuses what is blocked or not confirmed.
"""

from __future__ import annotations

import time
from dataclasses import replace

from channels.bolus_history import BolusHistory
from channels.controller import ChannelError
from channels.druglib import CareArea
from channels.duplicate_pairs import ConfirmedPairs
from channels.events import Event, EventKind
from channels.line_advisory import line_checks
from channels.patient_weight import PatientWeight
from channels.plan import Plan, PlanKind
from channels.planning import (
    BolusOrder,
    InfusionOrder,
    PlanCheck,
    check_bolus_order,
    check_order,
    check_titration,
)
from dbc.vocabulary import PumpState
from workstation import weight_change
from workstation.blocked_attempts import blocked_event
from workstation.station_access import StationAccess
from workstation.weight_change import Reweighing

__all__ = ["ConfirmationRequired", "OrderChecks", "ProgrammingBlocked"]


class ProgrammingBlocked(ChannelError):
    def __init__(self, letter: str, problems: list[str]) -> None:
        super().__init__(f"channel {letter}: not allowed: " + "; ".join(problems))
        self.problems = problems


class ConfirmationRequired(ChannelError):
    def __init__(self, letter: str, problems: list[str]) -> None:
        super().__init__(f"channel {letter}: needs confirmation: " + "; ".join(problems))
        self.problems = problems


class OrderChecks(StationAccess):
    care_area: CareArea
    # One patient per workstation: one weight (H10) and one bolus history (H4).
    _weight: PatientWeight
    bolus_history: BolusHistory
    # "Same drug on another channel", confirmed once per pair and program (issue 12.4).
    confirmed_pairs: ConfirmedPairs

    def _running_drugs(self, except_letter: str) -> dict[str, str]:
        # A paused or alarm-stopped channel still has its drug hanging (H10).
        hanging = (PumpState.INFUSING, PumpState.KVO, PumpState.PAUSED, PumpState.ALARM)
        return {letter: c.plan.drug_id for letter, c in self.supervisor.controllers.items()
                if letter != except_letter and c.plan is not None and c.state in hanging}

    @property
    def patient_weight(self) -> PatientWeight:
        """The weight with who set it and when."""
        return self._weight

    @property
    def patient_weight_kg(self) -> float | None:
        """The one patient weight every weight-based order uses (H10)."""
        return self._weight.kg

    def set_patient_weight(self, weight_kg: float, *, user: str | None = None) -> None:
        """Set (or correct) the patient's weight, logged with who; running weight-based
        infusions keep the weight they were programmed with until programmed again."""
        old = self._weight
        self._weight = old.changed(weight_kg, user=user, at=time.time())
        sup = self.supervisor
        sup.publish([], [sup.record(Event(EventKind.USER, f"patient weight set to "
                                          f"{self._weight.describe()}, was {old.describe()}",
                                          user=user))])

    def preview_weight_change(self, weight_kg: float) -> list[Reweighing]:
        """What a new weight does to the running weight-based infusions, same mL/h."""
        return weight_change.preview({letter: c.plan for letter, c in
                                      self.supervisor.controllers.items()}, weight_kg,
                                     self.care_area)

    def change_patient_weight(self, weight_kg: float, *, user: str | None = None
                              ) -> list[Reweighing]:
        """Set the patient weight; running weight-based infusions keep their mL/h (the pumps
        are not touched) and their plans state the dose at the new weight. Each is logged
        with the user and the plan, so a restart adopts the dose as shown."""
        changes = self.preview_weight_change(weight_kg)
        self.set_patient_weight(weight_kg, user=user)
        sup = self.supervisor
        for change in changes:
            controller = self._controller(change.letter)
            controller.plan = change.after
            if controller.plan_id is not None:
                controller.reconciler.remember(controller.plan_id, change.after)
            sup.publish([], [sup.record(Event(
                EventKind.PROGRAM, f"{change.describe()} (new patient weight, mL/h kept)",
                channel=change.letter, user=user,
                data={"step": "reweighed", "program_id": controller.plan_id,
                      "plan": change.after.model_dump(mode="json")}))], (change.letter,))
        return changes

    def check(self, letter: str, order: InfusionOrder, *,
              kind: PlanKind = PlanKind.PRIMARY) -> PlanCheck:
        """Dose calculation and every limit, without sending anything (live form feedback)."""
        self._controller(letter)
        channel = self.config.channel(letter)
        check = check_order(order, self.care_area, kind=kind,
                            running=self._running_drugs(letter), module_kind=channel.kind,
                            patient_weight_kg=self.patient_weight_kg)
        if check.plan is None:
            return check
        # The library's line advisory against the channel's label: confirmed on review.
        return replace(check, checks=(*check.checks,
                                      *line_checks(check.plan, channel.label, letter)))

    def check_titration(self, letter: str, *, dose: float | None = None,
                        rate_ml_h: float | None = None, vtbi_ml: float | None = None
                        ) -> PlanCheck:
        """A new dose or rate for the running plan, in its own concentration (H3)."""
        running = self._controller(letter).plan
        if running is None or running.drug_id == "unknown":
            raise ChannelError(f"channel {letter}: no known infusion to titrate; program it")
        check = check_titration(running, self.care_area, dose=dose, rate_ml_h=rate_ml_h,
                                vtbi_ml=running.vtbi_ml if vtbi_ml is None else vtbi_ml)
        return self._unconfirmed_duplicates(letter, check)

    def _unconfirmed_duplicates(self, letter: str, check: PlanCheck) -> PlanCheck:
        """A titration asks about the same drug on another channel only for a pair never
        confirmed (both programmed before either ran, say): never again for a confirmed one."""
        plan = check.plan
        if plan is None or plan.dose_unit == "mL/h":
            return check
        same = [x for x, drug in self._running_drugs(letter).items() if drug == plan.drug_id]
        new = self.confirmed_pairs.unconfirmed(letter, same, plan.drug_id)
        if not new:
            return check
        plan = plan.model_copy(update={"warnings": tuple(f"Same drug on channel {x}"
                                                          for x in new)})
        return PlanCheck(plan, check.checks, new)

    def check_bolus(self, letter: str, order: BolusOrder) -> PlanCheck:
        """A bolus of the running drug: library limits, lockout and hourly limits (H4), rate
        caps (H8), from the running concentration (H3)."""
        running = self._controller(letter).plan
        if running is None or running.drug_id == "unknown":
            raise ChannelError(f"channel {letter}: no known running infusion for a bolus")
        try:
            drug = self.care_area.drug(running.drug_id)
        except KeyError:
            raise ProgrammingBlocked(letter, [f"{running.drug_name} is not in the "
                                              f"{self.care_area.name} drug library: no bolus; "
                                              "program the infusion again"]) from None
        return check_bolus_order(order, running, drug, self.care_area,
                                 history=self.bolus_history, now=self._clock())

    def record_blocked(self, letter: str, check: PlanCheck, *, user: str | None,
                       drug: str = "") -> None:
        """A hard limit stopped an attempt (the API's or the form's Enter): logged with the
        user, drug, value and limit, for the pharmacy's review of the library."""
        self.supervisor.record(blocked_event(letter, check, user=user, drug=drug))

    def _accept(self, letter: str, check: PlanCheck, confirm: bool, user: str | None,
                drug: str = "", *, new_program: bool = False) -> Plan:
        problems = check.problems()
        if check.blocked:
            self.record_blocked(letter, check, user=user, drug=drug)
            raise ProgrammingBlocked(letter, problems)
        if check.needs_confirmation and not confirm:
            raise ConfirmationRequired(letter, problems)
        plan = check.confirmed()
        if new_program:
            self.confirmed_pairs.forget(letter)
        if check.duplicates:
            self.confirmed_pairs.confirm(letter, check.duplicates, plan.drug_id)
        if problems:
            self.supervisor.record(Event(EventKind.CONFIRMATION, f"{letter}: confirmed: "
                                         + "; ".join(problems), channel=letter, user=user))
        return plan
