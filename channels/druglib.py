"""The drug library: care areas, drugs, standard concentrations and dose limits, loaded from TOML.

Models are frozen and strict (a quoted "4" is not a number in a safety file); unknown keys are
errors so a typo such as ``hard_mx`` cannot silently drop a limit. Cross-field rules live on the
models, so a library built in code is checked exactly like one read from a file.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import itertools
import math
import tomllib
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from channels import library_rules
from dbc.errors import ConfigError

__all__ = [
    "DEFAULT_LIBRARY_PATH", "AmountUnit", "BolusLimits", "BolusUnit", "CareArea", "Concentration",
    "Container", "DoseLimits", "DoseUnit", "Drug", "DrugLibrary", "field_path", "fmt",
    "load_drug_library",
]

# The shipped library is package data of ``configs`` (a data-only package: importing it runs
# nothing), found the same way in a checkout and in an installed wheel.
DEFAULT_LIBRARY_PATH = Path(
    str(importlib.resources.files("configs") / "drug-library" / "adult-icu.toml")
)

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)]
Text = Annotated[str, Field(min_length=1, max_length=80)]
Dose = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def fmt(value: float) -> str:
    """A number as a nurse writes it: 6 significant figures, no exponent, no trailing zeros."""
    if not math.isfinite(value):
        return str(value)
    text = format(Decimal(f"{value:.6g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class AmountUnit(StrEnum):
    """What a concentration's amount is counted in. ``mL`` is a plain fluid (no drug amount)."""

    G = "g"
    MG = "mg"
    MCG = "mcg"
    UNITS = "units"
    MMOL = "mmol"
    ML = "mL"

    @property
    def dimension(self) -> str:
        """Units convert only within a dimension: mass, units, mmol or volume."""
        return "mass" if self in _MASS_FACTOR else self.value

    @property
    def factor(self) -> float:
        """Size in the dimension's base unit (mcg for mass, itself otherwise)."""
        return _MASS_FACTOR.get(self, 1.0)


_MASS_FACTOR = {AmountUnit.G: 1e6, AmountUnit.MG: 1e3, AmountUnit.MCG: 1.0}


class _ParsedUnit(StrEnum):
    """Shared parsing of 'amount[/kg][/time]' unit strings."""

    @property
    def amount(self) -> AmountUnit:
        return AmountUnit(self.value.split("/")[0])

    @property
    def per_kg(self) -> bool:
        return "kg" in self.value.split("/")[1:]


class DoseUnit(_ParsedUnit):
    """Continuous dose-rate units. Add a member here to support a new one; parsing is generic."""

    ML_H = "mL/h"
    G_H = "g/h"
    MG_H = "mg/h"
    MG_MIN = "mg/min"
    MG_KG_H = "mg/kg/h"
    MCG_H = "mcg/h"
    MCG_MIN = "mcg/min"
    MCG_KG_H = "mcg/kg/h"
    MCG_KG_MIN = "mcg/kg/min"
    UNITS_H = "units/h"
    UNITS_MIN = "units/min"
    UNITS_KG_H = "units/kg/h"
    MMOL_H = "mmol/h"

    @property
    def per_min(self) -> bool:
        return self.value.endswith("/min")


class BolusUnit(_ParsedUnit):
    """Bolus (one-off dose) units: an amount, optionally per kg."""

    G = "g"
    MG = "mg"
    MG_KG = "mg/kg"
    MCG = "mcg"
    MCG_KG = "mcg/kg"
    UNITS = "units"
    UNITS_KG = "units/kg"
    ML = "mL"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Container(StrEnum):
    """What the concentration comes in, which decides the module that can give it."""

    SYRINGE = "syringe"  # a syringe driver (syringe module)
    BAG = "bag"  # a bag or vial on a giving set (volumetric module)


SYRINGE_MAX_ML = 60.0  # the largest standard syringe; used when a container is not stated


class Concentration(_Model):
    amount: float = Field(gt=0, allow_inf_nan=False)
    amount_unit: AmountUnit = Field(strict=False)
    volume_ml: float = Field(gt=0, allow_inf_nan=False)
    container: Container | None = Field(default=None, strict=False)

    @property
    def module_kind(self) -> str:
        """'syringe' or 'volumetric': the module kind (``ChannelConfig.kind``) that gives it."""
        container = self.container or (Container.SYRINGE if self.volume_ml <= SYRINGE_MAX_ML
                                       else Container.BAG)
        return "syringe" if container is Container.SYRINGE else "volumetric"

    def same_strength(self, other: Concentration) -> bool:
        """Same drug amount in the same volume: identity by value, never by list position."""
        return (self.amount, self.amount_unit, self.volume_ml) == \
            (other.amount, other.amount_unit, other.volume_ml)

    @model_validator(mode="after")
    def _plain_fluid(self) -> Concentration:
        if self.amount_unit is AmountUnit.ML and self.amount != self.volume_ml:
            raise ValueError("a plain fluid (amount_unit 'mL') must have amount == volume_ml")
        return self

    @property
    def per_ml(self) -> float:
        """Amount of drug per mL, in ``amount_unit``."""
        return self.amount / self.volume_ml

    @property
    def label(self) -> str:
        """'4 mg / 50 mL (80 mcg/mL)': the strength in the unit that avoids tiny decimals."""
        if self.amount_unit is AmountUnit.ML:
            return f"{fmt(self.volume_ml)} mL"
        value, unit = self.per_ml, self.amount_unit
        if unit is AmountUnit.G and value < 1:
            value, unit = value * 1e3, AmountUnit.MG
        if unit is AmountUnit.MG and value < 1:
            value, unit = value * 1e3, AmountUnit.MCG
        elif unit is AmountUnit.MCG and value >= 1000:
            value, unit = value / 1e3, AmountUnit.MG
        head = f"{fmt(self.amount)} {self.amount_unit} / {fmt(self.volume_ml)} mL"
        per = "unit" if unit is AmountUnit.UNITS and fmt(value) == "1" else str(unit)
        return f"{head} ({fmt(value)} {per}/mL)"


class DoseLimits(_Model):
    """Limits in the drug's dose unit. Soft: confirm to override. Hard: cannot be overridden."""

    soft_min: Dose | None = None
    soft_max: Dose | None = None
    hard_min: Dose | None = None
    hard_max: Dose | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DoseLimits:
        # Compare neighbours among the limits present: hard_min <= soft_min <= soft_max <= hard_max.
        chain = [("hard_min", self.hard_min), ("soft_min", self.soft_min)]
        chain += [("soft_max", self.soft_max), ("hard_max", self.hard_max)]
        present = [(name, value) for name, value in chain if value is not None]
        for (low_name, low), (high_name, high) in itertools.pairwise(present):
            if high < low:
                raise ValueError(f"{high_name} {high} below {low_name} {low}")
        return self


class BolusLimits(_Model):
    max_dose: float = Field(gt=0, allow_inf_nan=False)
    dose_unit: BolusUnit = Field(strict=False)
    min_interval_min: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    # Per rolling hour, across every channel of the patient (channels.bolus_history).
    max_doses_per_hour: int | None = Field(default=None, ge=1)
    max_amount_per_hour: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    # Alaris bolus rate range is 10-1200 mL/h (shared/notes/domain.md).
    rate_ml_h: float = Field(default=300.0, ge=10, le=1200)

    @model_validator(mode="after")
    def _hourly_admits_one(self) -> BolusLimits:
        if self.max_amount_per_hour is not None and self.max_amount_per_hour < self.max_dose:
            raise ValueError(f"max_amount_per_hour {self.max_amount_per_hour} is below "
                             f"max_dose {self.max_dose}: no bolus could ever be given")
        return self


class Drug(_Model):
    id: Slug
    name: Text
    concentrations: list[Concentration] = Field(min_length=1)
    dose_unit: DoseUnit = Field(strict=False)
    limits: DoseLimits
    bolus: BolusLimits | None = None
    # Fresenius Agilia variable range (shared/notes/domain.md).
    default_occlusion_mmhg: int = Field(ge=50, le=900)
    high_alert: bool
    kvo_ml_h: float = Field(default=1.0, ge=0, le=20)
    max_rate_ml_h: float | None = Field(default=None, ge=0.1, le=1200)
    notes: str = ""  # the advisory shown on the review screen and the channel card
    synonyms: list[Text] = Field(default_factory=list)  # other names to search by

    @model_validator(mode="after")
    def _units_agree(self) -> Drug:
        # A dose in units can't come from a bag labelled in mg: reject at load, not at the bedside.
        for i, conc in enumerate(self.concentrations):
            if self.dose_unit is not DoseUnit.ML_H and not _convertible(
                self.dose_unit.amount, conc.amount_unit
            ):
                raise ValueError(
                    f"concentrations[{i}] is in {conc.amount_unit}, "
                    f"which cannot give a dose in {self.dose_unit}"
                )
            if self.bolus and not _convertible(self.bolus.dose_unit.amount, conc.amount_unit):
                raise ValueError(
                    f"bolus.dose_unit {self.bolus.dose_unit} cannot be drawn from "
                    f"concentrations[{i}] in {conc.amount_unit}"
                )
        return self

    @property
    def needs_weight(self) -> bool:
        """True when the dose or the bolus is per kg: the channel cannot start without a weight."""
        return self.dose_unit.per_kg or bool(self.bolus and self.bolus.dose_unit.per_kg)


def _convertible(dose: AmountUnit, conc: AmountUnit) -> bool:
    return dose is AmountUnit.ML or dose.dimension == conc.dimension


class CareArea(_Model):
    id: Slug
    name: Text
    weight_min_kg: float = Field(gt=0, allow_inf_nan=False)
    weight_max_kg: float = Field(gt=0, le=500)
    max_rate_ml_h: float = Field(ge=0.1, le=1200)
    drugs: list[Drug] = Field(min_length=1)

    @field_validator("drugs")
    @classmethod
    def _unique_ids(cls, drugs: list[Drug]) -> list[Drug]:
        _check_unique([d.id for d in drugs], "drugs", "drug")
        return drugs

    @model_validator(mode="after")
    def _weights(self) -> CareArea:
        if self.weight_max_kg <= self.weight_min_kg:
            raise ValueError(
                f"weight_max_kg {self.weight_max_kg} not above weight_min_kg {self.weight_min_kg}"
            )
        return self

    def search(self, text: str) -> list[Drug]:
        """Drugs whose id, name or a synonym has a word starting with ``text``."""
        return library_rules.search(self.drugs, text)

    def drug(self, drug_id: str) -> Drug:
        for drug in self.drugs:
            if drug.id == drug_id:
                return drug
        known = ", ".join(d.id for d in self.drugs)
        raise KeyError(f"no drug {drug_id!r} in care area {self.id!r} (known: {known})")


class DrugLibrary(_Model):
    name: Text
    version: Annotated[str, Field(min_length=1, max_length=40)]
    care_areas: list[CareArea] = Field(min_length=1)
    # Set by the loader from the file's bytes; a file that sets it is rejected.
    digest: str = Field(default="", pattern=r"^([0-9a-f]{12})?$")

    @field_validator("care_areas")
    @classmethod
    def _unique_ids(cls, areas: list[CareArea]) -> list[CareArea]:
        _check_unique([a.id for a in areas], "care_areas", "care area")
        return areas

    @model_validator(mode="after")
    def _pharmacy_rules(self) -> DrugLibrary:
        problems = library_rules.problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def label(self) -> str:
        """'Adult ICU 2026.11-1 (3f2a9c1b7d4e)': what the UI and the event log show."""
        tail = f" ({self.digest})" if self.digest else ""
        return f"{self.name} {self.version}{tail}"

    def care_area(self, area_id: str) -> CareArea:
        for area in self.care_areas:
            if area.id == area_id:
                return area
        known = ", ".join(a.id for a in self.care_areas)
        raise KeyError(f"no care area {area_id!r} in drug library {self.label} (known: {known})")


def _check_unique(ids: list[str], field: str, what: str) -> None:
    first: dict[str, int] = {}
    for i, item in enumerate(ids):
        if item in first:
            raise ValueError(
                f"duplicate {what} id {item!r} at {field}[{first[item]}] and {field}[{i}]"
            )
        first[item] = i


def load_drug_library(path: str | Path = DEFAULT_LIBRARY_PATH) -> DrugLibrary:
    """Read and validate a TOML drug library; every problem becomes a ConfigError line."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text (byte {exc.start})"]) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries "(at line N, column M)".
        raise ConfigError(str(path), [f"TOML syntax error: {exc}"]) from None
    if "digest" in data:
        raise ConfigError(
            str(path), ["digest: computed by the loader from the file's bytes; remove it"]
        )
    digest = hashlib.sha256(raw_bytes).hexdigest()[:12]
    try:
        return DrugLibrary.model_validate({**data, "digest": digest})
    except ValidationError as exc:
        problems = [line for err in exc.errors() for line in _lines(err)]
        raise ConfigError(str(path), problems) from None


def field_path(loc: tuple[int | str, ...]) -> str:
    """('care_areas', 0, 'drugs', 3, 'limits') -> 'care_areas[0].drugs[3].limits'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _lines(err: Any) -> list[str]:
    """A library-wide rule reports one line per problem, each with its own path."""
    if not err["loc"] and err["type"] == "value_error":
        return _describe(err).splitlines()
    return [f"{field_path(err['loc'])}: {_describe(err)}"]


def _describe(err: Any) -> str:
    kind, ctx, given = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (misspelt, or not part of the drug-library format)"
    if kind == "enum":
        return f"{given!r} is not one of {ctx.get('expected', '?')}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if isinstance(given, dict | list):
        return str(err["msg"])
    return f"{err['msg']} (got {given!r})"
