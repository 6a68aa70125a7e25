"""What a channel is told to do, after dose calculation and limit checks: a ``Plan``.

Plans are pydantic models so they cross every boundary as they are: into the event log (a
restarted workstation restores them to adopt running infusions), to telemetry and to the UI.
``channels.planning`` builds them from a nurse's order and the drug library.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from channels.druglib import Concentration
from dbc.frames import BolusPage, PrimaryPage, SecondaryPage, SettingsPage
from dbc.vocabulary import EndAction

__all__ = ["Plan", "PlanKind", "plan_from_pages"]


class PlanKind(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    BOLUS = "bolus"


class Plan(BaseModel):
    """A checked program for the module. Every number carries its unit in its name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PlanKind = PlanKind.PRIMARY
    drug_id: str
    drug_name: str
    concentration: str = ""  # e.g. "4 mg / 50 mL (80 mcg/mL)"
    # The running concentration itself (H3): titration and boluses use it, never a library
    # position. None only in plans written before it was carried.
    strength: Concentration | None = None
    notes: str = ""  # the drug's advisory from the library ("central line only", ...)
    dose: float | None = None  # in dose_unit; None for mL/h-only infusions
    dose_unit: str = "mL/h"
    weight_kg: float | None = None
    rate_ml_h: float
    vtbi_ml: float
    kvo_ml_h: float = 1.0
    end_action: EndAction = EndAction.KVO
    occlusion_mmhg: int = 300
    air_limit_ul: int = 50
    callback: bool = False  # secondary only
    high_alert: bool = False
    confirmed_overrides: tuple[str, ...] = ()  # soft-limit messages the nurse confirmed
    warnings: tuple[str, ...] = ()  # e.g. same drug on another channel

    def primary_pages(self) -> tuple[PrimaryPage, SettingsPage]:
        return (PrimaryPage(rate_ml_h=self.rate_ml_h, vtbi_ml=self.vtbi_ml),
                SettingsPage(kvo_rate_ml_h=self.kvo_ml_h,
                             occlusion_limit_mmhg=self.occlusion_mmhg,
                             end_action=self.end_action, air_limit_ul=self.air_limit_ul))

    def secondary_page(self) -> SecondaryPage:
        return SecondaryPage(rate_ml_h=self.rate_ml_h, vtbi_ml=self.vtbi_ml,
                             callback=self.callback)

    def bolus_page(self) -> BolusPage:
        return BolusPage(volume_ml=self.vtbi_ml, rate_ml_h=self.rate_ml_h)

    def describe(self) -> str:
        dose = f"{self.dose:g} {self.dose_unit} = " if self.dose is not None and \
            self.dose_unit != "mL/h" else ""
        return f"{self.drug_name} {dose}{self.rate_ml_h:g} mL/h, VTBI {self.vtbi_ml:g} mL"


def plan_from_pages(primary: PrimaryPage, settings: SettingsPage) -> Plan:
    """A plan rebuilt from a module's read-back alone: the drug is not known."""
    return Plan(drug_id="unknown", drug_name="Unknown (adopted)", rate_ml_h=primary.rate_ml_h,
                vtbi_ml=primary.vtbi_ml, kvo_ml_h=settings.kvo_rate_ml_h,
                end_action=settings.end_action, occlusion_mmhg=settings.occlusion_limit_mmhg,
                air_limit_ul=settings.air_limit_ul)
