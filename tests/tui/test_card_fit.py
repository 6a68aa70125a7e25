"""What a nurse must read on a card is never cut (issue 12.5): every drug and concentration of
the library, every alarm text of the catalog, the dose and mL/h, at the card widths of 80 and
160 columns; and numbers by one rule per quantity (issue 12.6)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from channels import quantities
from channels.druglib import load_drug_library
from tests.tui.test_snapshots import BASE, NORAD
from tui.widgets.channel_card import render_card
from tui.widgets.channel_grid import CARD_MIN_WIDTH
from workstation.alarm_catalog import _MODULE, WORKSTATION_CONDITIONS

# The card width the grid gives at 80 and at 160 columns (each card: width // columns - gap).
WIDTHS = sorted({w // max(1, w // CARD_MIN_WIDTH) - 1 for w in (80, 160)} | {60})
LIBRARY = load_drug_library()
DRUGS = [(d, c) for a in LIBRARY.care_areas for d in a.drugs for c in d.concentrations]
ALARMS = sorted({text for _, text, _ in _MODULE.values()} |
                {info.text for info in WORKSTATION_CONDITIONS.values()}, key=len)


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("width", WIDTHS)
def test_drug_concentration_dose_and_rate_never_cut(width: int) -> None:
    for drug, conc in DRUGS:
        snap = replace(NORAD, drug=drug.name, concentration=conc.label, dose=12.34,
                       dose_unit=str(drug.dose_unit), high_alert=drug.high_alert)
        plain = render_card(snap, width).plain
        assert "…" not in plain, plain
        for must in (drug.name, conc.label, quantities.rate(snap.rate_ml_h)):
            assert must in plain, f"{must!r} cut at width {width}:\n{plain}"
        if str(drug.dose_unit) != "mL/h":
            assert snap.dose_text in plain, plain


@pytest.mark.parametrize("width", WIDTHS)
def test_every_alarm_text_whole_with_the_longest_concentration(width: int) -> None:
    longest = max(DRUGS, key=lambda dc: len(dc[1].label) + len(dc[0].name))
    for text in ALARMS:
        snap = replace(BASE, state="ALARM", drug=longest[0].name,
                       concentration=longest[1].label, alarm_text=text, alarm_marker="***")
        plain = render_card(snap, width).plain
        assert f"*** {text}" in words(plain.replace("\n   ", " ")), plain
        assert longest[1].label in plain and longest[0].name in plain, plain


def test_numbers_by_one_rule() -> None:
    assert quantities.dose_number(0.04952) == "0.0495"
    assert quantities.dose_number(0.1) == "0.1" and quantities.dose_number(1234.4) == "1234"
    assert quantities.rate(6) == "6.0 mL/h" and quantities.rate(125) == "125 mL/h"
    assert quantities.rate(125.3) == "125.3 mL/h"  # a tenth the pump runs is never hidden
    assert quantities.volume(49.74) == "49.7 mL" and quantities.volume(500) == "500 mL"
    assert quantities.minutes(0) == "<1 min" and quantities.minutes(62) == "1h02m"


def test_titrated_card_shows_volume_left_not_infused_of_a_new_vtbi() -> None:
    # After a titration the module counts the new program from zero: 0.2 of 49.7 read as
    # 'almost nothing infused of 50'. The card says what is left, whatever the program.
    snap = replace(NORAD, vtbi_ml=49.7, volume_infused_ml=0.2, volume_remaining_ml=49.5)
    plain = render_card(snap, 60).plain
    assert "49.5 mL left" in plain and "0.2/49.7" not in plain


def test_bolus_shows_as_a_bolus_with_the_basal() -> None:
    snap = replace(NORAD, mode="BOLUS", rate_ml_h=300.0, programmed_rate_ml_h=1.0, dose=50,
                   dose_unit="mcg/h", time_remaining_min=0)
    plain = render_card(snap, 39).plain
    assert "BOLUS 300 mL/h" in plain and "basal 50 mcg/h" in plain
    assert "(set" not in plain and " 0 min" not in plain
