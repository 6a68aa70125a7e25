"""The library's line advisory against the channel's label (issue 12 point 7): a central-only
drug on a peripheral line, or any drug on an arterial line, is a warning to confirm."""

from __future__ import annotations

import pytest

from channels.druglib import load_drug_library
from channels.limits import Verdict
from channels.line_advisory import line_checks, needs_central_line
from channels.planning import InfusionOrder, check_order
from workstation.config import DEFAULT_LIBRARY, demo_config
from workstation.demo import DEMO_ORDERS

AREA = load_drug_library(DEFAULT_LIBRARY).care_area("adult-icu")



def test_noradrenaline_on_a_peripheral_line_is_a_warning_to_confirm() -> None:
    norad = check_order(InfusionOrder(drug_id="noradrenaline", dose=0.1, vtbi_ml=50), AREA,
                        module_kind="syringe", patient_weight_kg=70).plan
    assert norad is not None and needs_central_line(norad)
    [warning] = line_checks(norad, "Peripheral L arm", "B")
    assert warning.verdict is Verdict.SOFT and "Peripheral L arm" in warning.message
    assert "central lumen" in warning.message.lower()
    assert line_checks(norad, "CVC lumen 1 (distal)", "B") == []
    assert line_checks(norad, "PICC lumen 1", "B") == []


@pytest.mark.parametrize(("concentration", "central"), [(0, True), (1, False)])
def test_a_note_about_one_concentration_applies_to_that_one_only(concentration: int,
                                                                 central: bool) -> None:
    kcl = check_order(InfusionOrder(drug_id="potassium-chloride", dose=5, vtbi_ml=100,
                                    concentration=concentration), AREA,
                      module_kind="volumetric", patient_weight_kg=70).plan
    assert kcl is not None
    assert needs_central_line(kcl) is central
    assert bool(line_checks(kcl, "Peripheral R arm", "C")) is central


def test_any_drug_on_an_arterial_line_is_a_warning() -> None:
    fluid = check_order(InfusionOrder(drug_id="sodium-chloride-0-9", rate_ml_h=40, vtbi_ml=500),
                        AREA, module_kind="volumetric", patient_weight_kg=70).plan
    assert fluid is not None
    [warning] = line_checks(fluid, "Arterial line", "E")
    assert warning.verdict is Verdict.SOFT and "artery" in warning.message


def test_the_demo_puts_every_infusion_on_a_plausible_line() -> None:
    config = demo_config(24)
    used = {"syringe": 0, "volumetric": 0}
    for channel in config.channels:
        orders = DEMO_ORDERS[channel.kind]
        order = orders[used[channel.kind] % len(orders)]
        used[channel.kind] += 1
        check = check_order(order, AREA, module_kind=channel.kind, patient_weight_kg=70)
        assert check.plan is not None
        assert line_checks(check.plan, channel.label, channel.letter) == [], channel
        assert "arterial" not in channel.label.lower()
