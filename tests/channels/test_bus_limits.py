"""H13: every programmed field is checked against what the bus (the DBC) can carry, before
anything is sent, for every plan kind; the ranges come from the DBC, not from re-typed numbers."""

from __future__ import annotations

import pytest

from channels import bus_limits, bus_ranges
from channels.druglib import load_drug_library
from channels.limits import Verdict
from channels.plan import Plan, PlanKind
from channels.planning import BolusOrder, InfusionOrder, check_bolus_order, check_order
from dbc.database import load_database
from dbc.frames import BolusPage, Page, PrimaryPage, SecondaryPage, SettingsPage
from dbc.vocabulary import EndAction

AREA = load_drug_library().care_area("adult-icu")

# (page type, field, a valid value for the other fields of the page)
FIELDS: list[tuple[type[Page], str]] = [(PrimaryPage, "rate_ml_h"), (PrimaryPage, "vtbi_ml"),
          (SettingsPage, "kvo_rate_ml_h"), (SettingsPage, "occlusion_limit_mmhg"),
          (SettingsPage, "air_limit_ul"), (BolusPage, "volume_ml"), (BolusPage, "rate_ml_h"),
          (SecondaryPage, "rate_ml_h"), (SecondaryPage, "vtbi_ml")]
VALID: dict[type[Page], dict[str, object]] = {PrimaryPage: {"rate_ml_h": 10.0, "vtbi_ml": 50.0},
         SettingsPage: {"kvo_rate_ml_h": 1.0, "occlusion_limit_mmhg": 300,
                        "end_action": EndAction.KVO, "air_limit_ul": 50},
         BolusPage: {"volume_ml": 1.0, "rate_ml_h": 300.0},
         SecondaryPage: {"rate_ml_h": 10.0, "vtbi_ml": 50.0, "callback": False}}


def test_ranges_are_the_dbc_signal_ranges() -> None:
    db = load_database()
    message = next(m for m in db.messages if m.name.endswith("_Program"))
    for page, field in FIELDS:
        signal = message.get_signal_by_name(page.SIGNALS[field])
        rng = bus_ranges.field_range(page, field)
        assert (rng.minimum, rng.maximum) == (signal.minimum, signal.maximum), field
        assert rng.signal == signal.name


@pytest.mark.parametrize(("page", "field"), FIELDS)
def test_every_field_at_its_minimum_maximum_and_just_beyond(page: type[Page],
                                                             field: str) -> None:
    rng = bus_ranges.field_range(page, field)
    step = rng.scale
    for value, ok in ((rng.minimum, True), (rng.maximum, True),
                      (rng.minimum - step, False), (rng.maximum + step, False)):
        fields = {**VALID[page], field: value}
        checks = bus_limits.check_page(page.model_validate(fields))
        bad = [c for c in checks if c.verdict is Verdict.HARD]
        assert (not bad) is ok, (field, value, [c.message for c in bad])
        if not ok:
            assert rng.signal in bad[0].message and "bus" in bad[0].message


@pytest.mark.parametrize("end", list(EndAction))
def test_kvo_the_bus_cannot_carry_is_refused_whatever_the_end_action(end: EndAction) -> None:
    # H13: KVO 25 mL/h was only checked for end action KVO.
    check = check_order(InfusionOrder(drug_id="fentanyl", rate_ml_h=2, vtbi_ml=20,
                                      end_action=end, kvo_ml_h=25), AREA)
    assert check.blocked
    assert any("KVO" in p and "20" in p for p in check.problems()), check.problems()


def test_secondary_and_bolus_plans_are_checked_on_the_bus_too() -> None:
    secondary = Plan(kind=PlanKind.SECONDARY, drug_id="basic-infusion", drug_name="Basic",
                     rate_ml_h=10, vtbi_ml=10000.5, kvo_ml_h=30.0)
    # A secondary is sent as its own page only: its VTBI is checked, the KVO is not sent.
    assert [c.message.split(",")[1].strip() for c in bus_limits.check_plan(secondary)] == \
        ["the most the bus can carry (Program.SecVtbi"]
    running = Plan(drug_id="basic-infusion", drug_name="Basic", rate_ml_h=10, vtbi_ml=500,
                   kvo_ml_h=30.0)
    assert any("KvoRate" in c.message for c in bus_limits.check_plan(running))
    fent = check_order(InfusionOrder(drug_id="fentanyl", dose=50, vtbi_ml=50), AREA).plan
    assert fent is not None
    ok = check_bolus_order(BolusOrder(dose=25), fent, AREA.drug("fentanyl"), AREA)
    assert not ok.blocked


def test_a_nan_or_infinite_value_is_refused_not_encoded() -> None:
    page = PrimaryPage(rate_ml_h=float("nan"), vtbi_ml=10)
    assert bus_limits.check_page(page)[0].verdict is Verdict.HARD
