"""The line a channel is connected to, against what the drug library says about the line. Pure.

A vasopressor "central line only" run into a peripheral cannula extravasates (tissue necrosis);
nothing on a drug is meant for an arterial line. The workstation knows the line only from the
channel's label ("Peripheral L arm", "CVC lumen 1"), so these are warnings the nurse confirms
on the review (SOFT), never blocks: the label may be out of date, the line may be right.
A note that restricts one concentration ("40 mmol/100 mL via central line only") applies only
when that concentration is programmed, so other concentrations raise nothing to click through.
"""

from __future__ import annotations

import re

from channels.limits import LimitCheck, Verdict
from channels.plan import Plan

__all__ = ["line_checks", "needs_central_line"]

CENTRAL_NOTE = re.compile(r"central (?:venous |line|lumen|access)", re.IGNORECASE)
# "<amount> <unit>/<volume> mL via central line only": the note is about that container.
FOR_CONCENTRATION = re.compile(
    r"(\d+(?:\.\d+)?\s*[a-zA-Zµ]+\s*/\s*\d+(?:\.\d+)?\s*mL)\s+(?:via|by|through)\s+central",
    re.IGNORECASE)
PERIPHERAL_LABEL = re.compile(r"\b(?:peripheral|periph|piv|cannula)\b", re.IGNORECASE)
ARTERIAL_LABEL = re.compile(r"\barterial\b|\bart(?:\.|erial)? line\b", re.IGNORECASE)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def needs_central_line(plan: Plan) -> bool:
    """The library's notes ask for a central line for this plan's concentration."""
    if not CENTRAL_NOTE.search(plan.notes):
        return False
    named = FOR_CONCENTRATION.search(plan.notes)
    return named is None or _squash(named.group(1)) in _squash(plan.concentration)


def line_checks(plan: Plan, label: str, letter: str) -> list[LimitCheck]:
    """Warnings (to confirm) for this plan on a channel labelled ``label``."""
    out = []
    if ARTERIAL_LABEL.search(label):
        out.append(LimitCheck(Verdict.SOFT, "line", 0.0, None, "",
                              f"Channel {letter} is labelled '{label}': no drug is given into "
                              "an artery; check the line before confirming"))
    elif needs_central_line(plan) and PERIPHERAL_LABEL.search(label):
        out.append(LimitCheck(Verdict.SOFT, "line", 0.0, None, "",
                              f"{plan.drug_name}: the library says '{plan.notes}', but channel "
                              f"{letter} is labelled '{label}' (a peripheral line): confirm it "
                              "runs into a central line, or use one"))
    return out
