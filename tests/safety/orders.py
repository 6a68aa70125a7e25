"""Nurse orders from the shipped drug library, within its limits, built from drawn numbers.

The library changes (new drugs, tighter limits) without touching the tests: an order is drawn
as indices and fractions and turned into a dose or a rate inside the drug's soft range.
"""

from __future__ import annotations

from channels import dosing
from channels.druglib import CareArea, Concentration, Drug
from channels.planning import BolusOrder, InfusionOrder
from dbc.vocabulary import EndAction

END_ACTIONS = (EndAction.KVO, EndAction.STOP, EndAction.CONTINUE)
VTBIS_ML = (0.5, 2.0, 5.0, 10.0, 50.0, 500.0)
MAX_DRAWN_RATE_ML_H = 400.0  # above it a VTBI of 10 mL is gone in 90 s: shorter sequences

# Fields at or past what the DBC can carry (issue 14, H13): each must be refused with a reason
# (a ChannelError) before anything is sent, never raise anything else.
OUT_OF_RANGE: tuple[dict[str, object], ...] = (
    {"kvo_ml_h": 25.0, "end_action": EndAction.STOP},
    {"kvo_ml_h": 25.0, "end_action": EndAction.CONTINUE},
    {"kvo_ml_h": 20.5, "end_action": EndAction.KVO},
    {"vtbi_ml": 10_000.0},
    {"vtbi_ml": 99_999.0},
    {"rate_ml_h": 1300.0},
    {"occlusion_mmhg": 900, "air_limit_ul": 500},
)


def fits(concentration: Concentration, module_kind: str | None) -> bool:
    """The container goes on this module kind (libraries that say so; others: any)."""
    kind = getattr(concentration, "module_kind", None)
    return module_kind is None or kind is None or kind == module_kind


def drug_at(area: CareArea, index: int, *, module_kind: str | None = None) -> Drug:
    drugs = [d for d in area.drugs if any(fits(c, module_kind) for c in d.concentrations)]
    return (drugs or area.drugs)[index % len(drugs or area.drugs)]


def rate_cap(area: CareArea, drug: Drug) -> float:
    caps = [area.max_rate_ml_h, MAX_DRAWN_RATE_ML_H]
    if drug.max_rate_ml_h is not None:
        caps.append(drug.max_rate_ml_h)
    return min(caps)


def infusion_order(area: CareArea, *, drug_index: int, concentration: int, by_dose: bool,
                   fraction: float, vtbi_ml: float, end_action: EndAction,
                   module_kind: str | None = None, weight_kg: float = 70.0,
                   callback: bool = False) -> InfusionOrder:
    """An order for a drug and container that fit the module, its dose inside the soft range
    (``fraction`` of the way up), keyed as a dose or as the rate that dose needs; fluids by
    rate. The VTBI stays within the container."""
    drug = drug_at(area, drug_index, module_kind=module_kind)
    usable = [i for i, c in enumerate(drug.concentrations) if fits(c, module_kind)] or \
        list(range(len(drug.concentrations)))
    conc = usable[concentration % len(usable)]
    vtbi_ml = min(vtbi_ml, drug.concentrations[conc].volume_ml)
    def order(*, dose: float | None = None, rate_ml_h: float | None = None) -> InfusionOrder:
        return InfusionOrder(drug_id=drug.id, concentration=conc, dose=dose, rate_ml_h=rate_ml_h,
                             vtbi_ml=vtbi_ml, end_action=end_action, callback=callback)

    if str(drug.dose_unit) == "mL/h":
        high = min(rate_cap(area, drug), drug.limits.soft_max or MAX_DRAWN_RATE_ML_H)
        return order(rate_ml_h=round(0.5 + fraction * (high - 0.5), 1))
    limits = drug.limits
    low = limits.soft_min or limits.hard_min or (limits.soft_max or 1.0) / 10
    high = limits.soft_max or limits.hard_max or low * 10
    dose = max(round(low + fraction * (high - low), 4), 1e-4)
    if by_dose:
        return order(dose=dose)
    rate = dosing.rate_ml_h(dose, drug.dose_unit, drug.concentrations[conc], weight_kg)
    return order(rate_ml_h=max(dosing.round_rate(rate), 0.1))


def bolus_order(drug: Drug, *, by_dose: bool, fraction: float) -> BolusOrder:
    if by_dose and drug.bolus is not None:
        return BolusOrder(dose=round(max(drug.bolus.max_dose * fraction, 1e-3), 3))
    return BolusOrder(volume_ml=round(0.2 + fraction * 4.8, 1))
