"""From a nurse's order to a checked plan: dose calculation, drug-library limits, duplicates.

Pure. ``check_order`` never sends anything: it returns the plan with every check, so the UI can
show the result live as the nurse types. A HARD limit blocks; a SOFT limit or a drug already
running on another channel needs the nurse's explicit confirmation, which the plan records.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels import dosing, limits
from channels.druglib import CareArea, Drug
from channels.limits import LimitCheck, Verdict
from channels.plan import Plan, PlanKind
from workstation.vocabulary import EndAction


class InfusionOrder(BaseModel):
    """What the nurse asks for: a dose (in the drug's unit) or a rate, never both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drug_id: str
    concentration: int = Field(default=0, ge=0)  # index into the drug's concentrations
    dose: float | None = Field(default=None, gt=0)
    rate_ml_h: float | None = Field(default=None, gt=0)
    vtbi_ml: float = Field(gt=0)
    weight_kg: float | None = Field(default=None, gt=0)
    end_action: EndAction = EndAction.KVO
    kvo_ml_h: float | None = Field(default=None, ge=0)  # None: the drug's default
    occlusion_mmhg: int | None = Field(default=None, ge=50, le=900)
    air_limit_ul: int = Field(default=50, ge=10, le=500)
    callback: bool = False  # secondary only: alarm when it completes

    @model_validator(mode="after")
    def _dose_or_rate(self) -> InfusionOrder:
        if (self.dose is None) == (self.rate_ml_h is None):
            raise ValueError("give either a dose (in the drug's unit) or a rate in mL/h")
        return self


class BolusOrder(BaseModel):
    """A bolus on top of the running infusion: a dose in the drug's bolus unit, or a volume."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dose: float | None = Field(default=None, gt=0)
    volume_ml: float | None = Field(default=None, gt=0)
    rate_ml_h: float | None = Field(default=None, ge=10, le=1200)

    @model_validator(mode="after")
    def _dose_or_volume(self) -> BolusOrder:
        if (self.dose is None) == (self.volume_ml is None):
            raise ValueError("give either a bolus dose or a bolus volume in mL")
        return self


@dataclass(frozen=True)
class PlanCheck:
    """The outcome of checking an order: the plan (if computable) and every check on it."""

    plan: Plan | None
    checks: tuple[LimitCheck, ...]
    duplicates: tuple[str, ...] = ()  # letters of other channels running the same drug

    @property
    def verdict(self) -> Verdict:
        return limits.worst(self.checks)

    @property
    def blocked(self) -> bool:
        return self.plan is None or self.verdict is Verdict.HARD

    @property
    def needs_confirmation(self) -> bool:
        return not self.blocked and (self.verdict is Verdict.SOFT or bool(self.duplicates))

    def problems(self) -> list[str]:
        """What the nurse must read: hard limits, soft limits, duplicate drug."""
        out = [c.message for c in self.checks if c.verdict is not Verdict.OK]
        if self.duplicates:
            out.append(f"Same drug already running on channel {', '.join(self.duplicates)}")
        return out

    def confirmed(self) -> Plan:
        """The plan with the soft-limit and duplicate messages recorded as confirmed."""
        if self.plan is None or self.blocked:
            raise ValueError("a blocked order cannot be confirmed: " + "; ".join(self.problems()))
        return self.plan.model_copy(update={"confirmed_overrides": tuple(self.problems())})


def _hard(field: str, text: str) -> LimitCheck:
    return LimitCheck(Verdict.HARD, field, 0.0, None, "", text)


def check_order(order: InfusionOrder, area: CareArea, *, kind: PlanKind = PlanKind.PRIMARY,
                running: dict[str, str] | None = None,
                default_weight_kg: float | None = None) -> PlanCheck:
    """Check an order against the care area's library. ``running``: letter -> drug id of the
    other channels' infusions, for the duplicate-drug warning."""
    try:
        drug = area.drug(order.drug_id)
    except KeyError as exc:
        return PlanCheck(None, (_hard("drug", str(exc.args[0])),))
    if order.concentration >= len(drug.concentrations):
        return PlanCheck(None, (_hard("concentration", f"{drug.name} has "
                                      f"{len(drug.concentrations)} concentration(s); "
                                      f"#{order.concentration} does not exist"),))
    concentration = drug.concentrations[order.concentration]
    weight = order.weight_kg or default_weight_kg
    checks: list[LimitCheck] = []
    if drug.needs_weight:
        if weight is None:
            return PlanCheck(None, (_hard("weight", f"{drug.name} is dosed per kg: enter the "
                                                    "patient's weight"),))
        checks.append(limits.check_weight(area, weight))
    try:
        if order.dose is not None:
            rate = dosing.round_rate(dosing.rate_ml_h(order.dose, drug.dose_unit, concentration,
                                                      weight))
        else:
            assert order.rate_ml_h is not None
            rate = dosing.round_rate(order.rate_ml_h)
        # The module runs at 0.1 mL/h steps: the dose shown is the one that rate delivers.
        dose = dosing.dose_from_rate(rate, drug.dose_unit, concentration, weight) \
            if rate > 0 else 0.0
    except dosing.DoseError as exc:
        return PlanCheck(None, (_hard("dose", str(exc)),))
    checks.append(limits.check_rate(rate, area, drug))
    checks.append(limits.check_dose(drug, dose))  # for fluids the dose is the rate in mL/h
    vtbi = round(order.vtbi_ml, 1)
    checks.append(limits.check_vtbi(vtbi))
    # The drug's default KVO follows a lower rate down (KVO never above the rate); a KVO the
    # nurse typed is checked as typed.
    kvo = round(min(drug.kvo_ml_h, rate) if order.kvo_ml_h is None else order.kvo_ml_h, 1)
    if kind is PlanKind.PRIMARY and order.end_action is EndAction.KVO:
        checks.append(limits.check_kvo(kvo, rate))
    duplicates = tuple(sorted(letter for letter, other in (running or {}).items()
                              if other == drug.id and str(drug.dose_unit) != "mL/h"))
    plan = Plan(kind=kind, drug_id=drug.id, drug_name=drug.name,
                concentration=concentration.label, dose=round(dose, 4),
                dose_unit=str(drug.dose_unit), weight_kg=weight if drug.needs_weight else None,
                rate_ml_h=rate, vtbi_ml=vtbi, kvo_ml_h=kvo,
                end_action=order.end_action,
                occlusion_mmhg=order.occlusion_mmhg or drug.default_occlusion_mmhg,
                air_limit_ul=order.air_limit_ul, callback=order.callback,
                high_alert=drug.high_alert,
                warnings=tuple(f"Same drug on channel {x}" for x in duplicates))
    return PlanCheck(plan, tuple(checks), duplicates)


def check_bolus_order(order: BolusOrder, running: Plan, drug: Drug) -> PlanCheck:
    """A bolus of the running drug, against the library's bolus limits."""
    if drug.bolus is None:
        return PlanCheck(None, (_hard("bolus", f"Bolus is not set up for {drug.name}"),))
    concentration = next((c for c in drug.concentrations if c.label == running.concentration),
                         drug.concentrations[0])
    checks: list[LimitCheck] = []
    try:
        if order.dose is not None:
            checks.append(limits.check_bolus(drug, order.dose, running.weight_kg))
            volume = dosing.bolus_volume_ml(order.dose, drug.bolus.dose_unit, concentration,
                                            running.weight_kg)
        else:
            assert order.volume_ml is not None
            volume = order.volume_ml
            # A bolus given as a volume is checked as the dose that volume holds.
            per_unit = dosing.bolus_volume_ml(1.0, drug.bolus.dose_unit, concentration,
                                              running.weight_kg)
            checks.append(limits.check_bolus(drug, volume / per_unit, running.weight_kg))
    except dosing.DoseError as exc:
        return PlanCheck(None, (_hard("bolus", str(exc)),))
    volume = round(volume, 1)
    if not 0.1 <= volume <= 100:
        checks.append(_hard("bolus", f"Bolus volume {volume:g} mL is outside 0.1-100 mL"))
    rate = order.rate_ml_h or drug.bolus.rate_ml_h
    plan = running.model_copy(update={
        "kind": PlanKind.BOLUS, "dose": order.dose, "dose_unit": str(drug.bolus.dose_unit),
        "rate_ml_h": dosing.round_rate(rate), "vtbi_ml": max(volume, 0.1),
        "confirmed_overrides": (), "warnings": ()})
    return PlanCheck(plan, tuple(checks))
