"""From a nurse's order to a checked plan: dose calculation, drug-library limits, duplicates.

Pure. ``check_order`` never sends anything: it returns the plan with every check, so the UI can
show the result live as the nurse types. A HARD limit blocks; a SOFT limit or a drug already
running on another channel needs the nurse's explicit confirmation, which the plan records.

Every plan kind (primary, secondary, bolus, titration) ends with the same two gates: the
library's limits and what the bus can carry (``bus_limits``, H13). Titration and boluses use
the running plan's own concentration, never a library position (H3).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels import bus_limits, dosing, limits
from channels.bolus_history import BolusHistory
from channels.druglib import CareArea, Concentration, Drug, fmt
from channels.limits import LimitCheck, Verdict
from channels.plan import Plan, PlanKind
from dbc.vocabulary import EndAction

__all__ = [
    "BolusOrder", "InfusionOrder", "PlanCheck", "check_bolus_order", "check_order",
    "check_titration", "container_checks", "library_concentration", "weight_check",
]


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


WEIGHT_TOLERANCE_KG = 0.05  # the weight field's resolution: 70 and 70.04 are one weight


def _hard(field: str, text: str) -> LimitCheck:
    return LimitCheck(Verdict.HARD, field, 0.0, None, "", text)


def _soft(field: str, text: str) -> LimitCheck:
    return LimitCheck(Verdict.SOFT, field, 0.0, None, "", text)


def weight_check(order_kg: float | None, patient_kg: float | None) -> LimitCheck | None:
    """One patient weight per workstation: an order with another weight is refused (H10)."""
    if order_kg is None or patient_kg is None or abs(order_kg - patient_kg) <= \
            WEIGHT_TOLERANCE_KG:
        return None
    return _hard("weight", f"Weight {fmt(order_kg)} kg differs from the patient weight "
                           f"{fmt(patient_kg)} kg set on this workstation: every order uses "
                           "the one patient weight; to change it, set the patient weight "
                           "first (set_patient_weight), then program")


def container_checks(concentration: Concentration, vtbi_ml: float,
                     module_kind: str | None) -> list[LimitCheck]:
    """A concentration only on the module kind its container fits, VTBI within the container."""
    out = []
    if module_kind is not None and concentration.module_kind != module_kind:
        container = "syringe" if concentration.module_kind == "syringe" else "bag"
        out.append(_hard("concentration", f"{concentration.label} comes in a {container}: it "
                                          f"cannot go on a {module_kind} module; choose a "
                                          f"concentration for a {module_kind} module"))
    if vtbi_ml > concentration.volume_ml + 1e-9:
        out.append(_hard("vtbi", f"VTBI {fmt(vtbi_ml)} mL is more than the container holds "
                                 f"({concentration.label}): at most "
                                 f"{fmt(concentration.volume_ml)} mL"))
    return out


def library_concentration(drug: Drug, plan: Plan) -> Concentration | None:
    """The library's entry for the plan's concentration, matched by value (by label for plans
    that do not carry it); None when the library no longer has it. Never position 0."""
    for concentration in drug.concentrations:
        if plan.strength is not None and concentration.same_strength(plan.strength):
            return concentration
        if plan.strength is None and concentration.label == plan.concentration:
            return concentration
    return None


def _with_bus(plan: Plan, checks: list[LimitCheck]) -> list[LimitCheck]:
    # The bus is the last gate for every plan kind: nothing it cannot encode is ever sent.
    return checks + bus_limits.check_plan(plan)


def check_order(order: InfusionOrder, area: CareArea, *, kind: PlanKind = PlanKind.PRIMARY,
                running: dict[str, str] | None = None,
                default_weight_kg: float | None = None, module_kind: str | None = None,
                patient_weight_kg: float | None = None) -> PlanCheck:
    """Check an order against the care area's library. ``running``: letter -> drug id of the
    other channels' infusions, for the duplicate-drug warning. ``module_kind``: the channel's
    ('syringe' or 'volumetric'). ``patient_weight_kg``: the workstation's one patient weight;
    an order with another weight is refused."""
    try:
        drug = area.drug(order.drug_id)
    except KeyError as exc:
        return PlanCheck(None, (_hard("drug", str(exc.args[0])),))
    if order.concentration >= len(drug.concentrations):
        return PlanCheck(None, (_hard("concentration", f"{drug.name} has "
                                      f"{len(drug.concentrations)} concentration(s); "
                                      f"#{order.concentration} does not exist"),))
    concentration = drug.concentrations[order.concentration]
    mismatch = weight_check(order.weight_kg, patient_weight_kg)
    if mismatch is not None:
        return PlanCheck(None, (mismatch,))
    weight = order.weight_kg or patient_weight_kg or default_weight_kg
    checks: list[LimitCheck] = []
    if drug.needs_weight:
        if weight is None:
            return PlanCheck(None, (_hard("weight", f"{drug.name} is dosed per kg: enter the "
                                                    "patient's weight"),))
        checks.append(limits.check_weight(area, weight))
    vtbi = round(order.vtbi_ml, 1)
    checks += container_checks(concentration, vtbi, module_kind)
    try:
        rate, dose = _rate_and_dose(drug, concentration, weight, order.dose, order.rate_ml_h)
    except dosing.DoseError as exc:
        return PlanCheck(None, (_hard("dose", str(exc)),))
    checks.append(limits.check_rate(rate, area, drug))
    checks.append(limits.check_dose(drug, dose))  # for fluids the dose is the rate in mL/h
    checks.append(limits.check_vtbi(vtbi))
    # The drug's default KVO follows a lower rate down (KVO never above the rate); a KVO the
    # nurse typed is checked as typed.
    kvo = round(min(drug.kvo_ml_h, rate) if order.kvo_ml_h is None else order.kvo_ml_h, 1)
    if kind is PlanKind.PRIMARY and order.end_action is EndAction.KVO:
        checks.append(limits.check_kvo(kvo, rate))
    duplicates = tuple(sorted(letter for letter, other in (running or {}).items()
                              if other == drug.id and str(drug.dose_unit) != "mL/h"))
    plan = Plan(kind=kind, drug_id=drug.id, drug_name=drug.name,
                concentration=concentration.label, strength=concentration, notes=drug.notes,
                dose=round(dose, 4), dose_unit=str(drug.dose_unit),
                weight_kg=weight if drug.needs_weight else None,
                rate_ml_h=rate, vtbi_ml=vtbi, kvo_ml_h=kvo,
                end_action=order.end_action,
                occlusion_mmhg=order.occlusion_mmhg or drug.default_occlusion_mmhg,
                air_limit_ul=order.air_limit_ul, callback=order.callback,
                high_alert=drug.high_alert,
                warnings=tuple(f"Same drug on channel {x}" for x in duplicates))
    return PlanCheck(plan, tuple(_with_bus(plan, checks)), duplicates)


def _rate_and_dose(drug: Drug, concentration: Concentration, weight: float | None,
                   dose: float | None, rate_ml_h: float | None) -> tuple[float, float]:
    """The rate at the pump's 0.1 mL/h step, and the dose that rate really delivers."""
    if dose is not None:
        rate = dosing.round_rate(dosing.rate_ml_h(dose, drug.dose_unit, concentration, weight))
    else:
        assert rate_ml_h is not None
        rate = dosing.round_rate(rate_ml_h)
    delivered = dosing.dose_from_rate(rate, drug.dose_unit, concentration, weight) \
        if rate > 0 else 0.0
    return rate, delivered


def check_titration(running: Plan, area: CareArea, *, dose: float | None = None,
                    rate_ml_h: float | None = None, vtbi_ml: float) -> PlanCheck:
    """A new dose or rate for the running plan, in the running plan's own concentration.

    By dose only while the library still has the drug and that concentration: a dose turned
    into mL/h with another concentration is the silent swap of H3. By rate it stays possible,
    the dose shown being what that rate delivers from the concentration really hanging."""
    if (dose is None) == (rate_ml_h is None):
        return PlanCheck(None, (_hard("dose", "give either a new dose or a new rate"),))
    try:
        drug: Drug | None = area.drug(running.drug_id)
    except KeyError:
        drug = None
    in_library = library_concentration(drug, running) if drug is not None else None
    strength = running.strength or in_library
    if dose is not None and (drug is None or in_library is None):
        where = "drug" if drug is None else "concentration"
        what = running.drug_name if drug is None else \
            f"The running concentration of {running.drug_name}, {running.concentration},"
        return PlanCheck(None, (_hard(where, f"{what} is no longer in the {area.name} drug "
                                             "library: titrate by rate (mL/h), or program "
                                             "the infusion again"),))
    checks: list[LimitCheck] = []
    rate = dosing.round_rate(rate_ml_h) if rate_ml_h is not None else 0.0
    new_dose: float | None = None
    try:
        if drug is not None and strength is not None:
            rate, new_dose = _rate_and_dose(drug, strength, running.weight_kg, dose, rate_ml_h)
            checks.append(limits.check_dose(drug, new_dose))
        elif strength is not None and running.dose_unit != "mL/h":
            new_dose = dosing.dose_from_rate(rate, running.dose_unit, strength,
                                             running.weight_kg)
    except dosing.DoseError as exc:
        return PlanCheck(None, (_hard("dose", str(exc)),))
    checks.append(limits.check_rate(rate, area, drug))
    if drug is None:
        checks.append(_soft("dose", f"{running.drug_name} is not in the {area.name} drug "
                                    "library: its dose limits are not checked"))
    vtbi = round(vtbi_ml, 1)
    checks.append(limits.check_vtbi(vtbi))
    if running.end_action is EndAction.KVO:
        checks.append(limits.check_kvo(running.kvo_ml_h, rate))
    plan = running.model_copy(update={
        "kind": PlanKind.PRIMARY, "rate_ml_h": rate, "vtbi_ml": vtbi, "strength": strength,
        "dose": round(new_dose, 4) if new_dose is not None else None,
        "confirmed_overrides": (), "warnings": ()})
    return PlanCheck(plan, tuple(_with_bus(plan, checks)))


def check_bolus_order(order: BolusOrder, running: Plan, drug: Drug, area: CareArea, *,
                      history: BolusHistory | None = None,
                      now: float | None = None) -> PlanCheck:
    """A bolus of the running drug: the library's bolus limits, its lockout and hourly limits
    (``history`` at ``now``), its rate within the drug's and care area's caps (H8), from the
    running plan's own concentration (H3)."""
    if drug.bolus is None:
        return PlanCheck(None, (_hard("bolus", f"Bolus is not set up for {drug.name}"),))
    concentration = library_concentration(drug, running)
    if concentration is None:
        return PlanCheck(None, (_hard("concentration", f"The running concentration of "
                                      f"{running.drug_name}, {running.concentration}, is no "
                                      f"longer in the {area.name} drug library: no bolus of "
                                      "it from the pump; program the infusion again"),))
    checks: list[LimitCheck] = []
    try:
        # A bolus given as a volume is checked as the dose that volume holds.
        per_unit = dosing.bolus_volume_ml(1.0, drug.bolus.dose_unit, concentration,
                                          running.weight_kg)
        if order.dose is not None:
            dose, volume = order.dose, order.dose * per_unit
        else:
            assert order.volume_ml is not None
            dose, volume = order.volume_ml / per_unit, order.volume_ml
    except dosing.DoseError as exc:
        return PlanCheck(None, (_hard("bolus", str(exc)),))
    checks.append(limits.check_bolus(drug, dose, running.weight_kg))
    if history is not None and now is not None:
        checks += history.check(drug, dose, now)
    rate = dosing.round_rate(order.rate_ml_h or drug.bolus.rate_ml_h)
    checks.append(limits.check_rate(rate, area, drug))
    plan = running.model_copy(update={
        "kind": PlanKind.BOLUS, "dose": order.dose if order.dose is not None else dose,
        "dose_unit": str(drug.bolus.dose_unit), "rate_ml_h": rate,
        "vtbi_ml": round(volume, 1), "confirmed_overrides": (), "warnings": ()})
    return PlanCheck(plan, tuple(_with_bus(plan, checks)))
