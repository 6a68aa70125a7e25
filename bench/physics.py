"""Bench the physical pump models the way IEC 60601-2-24 benches a pump, in module time.

Run from the repository root: ``python bench/physics.py``. Prints and writes
``bench/results/physics.json``:
- accuracy at 1, 25 and 100 mL/h: volume error over the first hour; trumpet curve of the second
  hour (balance read every 0.5 min; max/min mean-flow error over every window of 2, 5, 11, 19,
  31 min) and its overall mean error;
- occlusion at 25 mL/h (volumetric) and 5 mL/h (syringe), at 300 mmHg and the lowest setting:
  time from clamping to the alarm and the bolus released when the line is reopened (motor
  stopped, volume collected over 5 min).
A 60 mL syringe runs 100 mL/h for 30 min only: that run swaps in a full one every 30 min
(listed as ``syringe_changes_min``), and the windows across a swap show the restart dip.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make the repository importable

from pumps.mechanism import Mechanism  # noqa: E402
from pumps.syringe import SyringeMechanism  # noqa: E402
from pumps.volumetric import VolumetricMechanism  # noqa: E402
from workstation.vocabulary import AlarmCondition, SyringeSize  # noqa: E402

RATES_ML_H = (1.0, 25.0, 100.0)
SAMPLE_S = 30.0
WINDOWS_MIN = (2, 5, 11, 19, 31)
LIMITS_MMHG = (300.0, 50.0)  # 50 mmHg: the lowest setting of current pumps (Agilia "low")
OCCLUSION_RATE = {"volumetric": 25.0, "syringe": 5.0}
OCCLUSION_STEP_S = 0.1
WARM_UP_S = 600.0
RESULTS = ROOT / "bench" / "results" / "physics.json"


def syringe_for(rate: float) -> tuple[SyringeSize, float | None]:
    """Size, and minutes between syringe changes (None: one syringe lasts 2 h)."""
    if rate <= 20.0:
        return SyringeSize.ML_50, None
    if rate <= 29.0:
        return SyringeSize.ML_60, None
    return SyringeSize.ML_60, 60.0 * 55.0 / rate // 5 * 5  # whole 5 min under 55 mL


def accuracy(kind: str, rate: float) -> dict[str, Any]:
    size, change_min = syringe_for(rate)
    m: Mechanism = VolumetricMechanism() if kind == "volumetric" else SyringeMechanism(size=size)
    readings = [0.0]
    changes: list[float] = []
    for i in range(1, 241):  # 2 h of 0.5 min samples
        m.advance(SAMPLE_S, rate)
        readings.append(m.patient_ml)
        minute = i * SAMPLE_S / 60.0
        last = i == 240
        if isinstance(m, SyringeMechanism) and change_min and minute % change_min == 0 and not last:
            m.load_syringe(size, float(size))
            changes.append(minute)
    per_sample = rate * SAMPLE_S / 3600.0
    errors = [((readings[i] - readings[i - 1]) / per_sample - 1.0) * 100.0 for i in range(121, 241)]
    trumpet: dict[str, dict[str, float]] = {}
    for window in WINDOWS_MIN:
        n = int(window * 60 / SAMPLE_S)
        means = [sum(errors[j : j + n]) / n for j in range(len(errors) - n + 1)]
        trumpet[str(window)] = {"max_pct": round(max(means), 3), "min_pct": round(min(means), 3)}
    result: dict[str, Any] = {
        "volume_first_hour_ml": round(readings[120], 4),
        "volume_error_first_hour_pct": round((readings[120] / rate - 1.0) * 100.0, 3),
        "mean_error_second_hour_pct": round(((readings[240] - readings[120]) / rate - 1) * 100, 3),
        "trumpet_second_hour": trumpet,
    }
    if isinstance(m, SyringeMechanism):
        result["syringe"] = size.name
        result["syringe_changes_min"] = changes
    return result


def occlusion(kind: str, limit: float) -> dict[str, Any]:
    rate = OCCLUSION_RATE[kind]
    m: VolumetricMechanism | SyringeMechanism = (
        VolumetricMechanism() if kind == "volumetric" else SyringeMechanism()
    )
    m.occlusion_limit_mmhg = limit
    m.advance(WARM_UP_S, rate)
    m.set_occlusion(downstream=True)
    ticks = 0
    while not m.conditions() & AlarmCondition.OCCLUSION_DOWNSTREAM and ticks < 36_000:
        m.advance(OCCLUSION_STEP_S, rate)
        ticks += 1
    alarm_s = ticks * OCCLUSION_STEP_S
    pressure = m.pressure_mmhg
    m.set_occlusion(downstream=False)  # the motor stays stopped (alarm), the nurse unclamps
    before = m.patient_ml
    m.advance(300.0, 0.0)
    return {
        "rate_ml_h": rate,
        "limit_mmhg": limit,
        "time_to_alarm_s": round(alarm_s, 1),
        "pressure_at_alarm_mmhg": round(pressure, 1),
        "bolus_ml": round(m.last_post_occlusion_bolus_ml, 4),
        "bolus_collected_ml": round(m.patient_ml - before, 4),
    }


def main() -> None:
    start = time.perf_counter()
    report: dict[str, Any] = {}
    for kind in ("volumetric", "syringe"):
        acc = {f"{r:g}": accuracy(kind, r) for r in RATES_ML_H}
        occ = {f"{lim:g}": occlusion(kind, lim) for lim in LIMITS_MMHG}
        report[kind] = {"accuracy": acc, "occlusion": occ}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    wall = time.perf_counter() - start
    print(f"\nwritten {RESULTS.relative_to(ROOT)} ({wall:.2f} s wall)")


def print_report(report: dict[str, Any]) -> None:
    head = "".join(f"{f'{w} min':>16}" for w in WINDOWS_MIN)
    for kind, sections in report.items():
        print(f"\n== {kind} ==")
        print(f"{'rate':>6} {'1st h err%':>10} {'2nd h err%':>10}   trumpet max/min %:{head}")
        for rate, a in sections["accuracy"].items():
            cells = "".join(
                f"{a['trumpet_second_hour'][str(w)]['max_pct']:>8.2f}/"
                f"{a['trumpet_second_hour'][str(w)]['min_pct']:<7.2f}"
                for w in WINDOWS_MIN
            )
            extra = (
                f"  ({a['syringe']}, changes at {a['syringe_changes_min']} min)"
                if (a.get("syringe_changes_min"))
                else ""
            )
            print(
                f"{rate:>6} {a['volume_error_first_hour_pct']:>10.2f} "
                f"{a['mean_error_second_hour_pct']:>10.2f}   {'':18}{cells}{extra}"
            )
        for o in sections["occlusion"].values():
            print(
                f"occlusion {o['rate_ml_h']:g} mL/h @ {o['limit_mmhg']:g} mmHg: alarm after "
                f"{o['time_to_alarm_s']:.1f} s at {o['pressure_at_alarm_mmhg']:.0f} mmHg, "
                f"bolus {o['bolus_ml']:.3f} mL (collected {o['bolus_collected_ml']:.3f} mL)"
            )


if __name__ == "__main__":
    main()
