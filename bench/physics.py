"""Bench the physical pump models the way IEC 60601-2-24 benches a pump, in module time.

Run from the repository root: ``python bench/physics.py [--output PATH]``. Prints and writes
``bench/results/physics.json``:
- accuracy at 1, 25 and 100 mL/h: volume error over the first hour; trumpet curve of the second
  hour (balance read every 0.5 min; max/min mean-flow error over every window of 2, 5, 11, 19,
  31 min) and its overall mean error;
- occlusion at 25 mL/h (volumetric) and 5 mL/h (syringe), at 300 mmHg and the lowest setting:
  time from clamping to the alarm and the bolus released when the line is reopened (motor
  stopped, volume collected over 5 min);
- low-rate occlusion (H9), syringe at 0.5, 1 and 5 mL/h, volumetric at 25 mL/h, 300 mmHg: time
  to the alarm and the post-occlusion bolus, with the force-trend rule and, for comparison, with
  the fixed threshold alone (as before);
- VTBI overshoot (H19), firmware + mechanism at 1, 25, 100 and 999 mL/h on both kinds: what the
  module counted at COMPLETE, what had reached the patient then and after the line drained (10
  min), against the bound held; and bolus overshoot (H11), 0.5 and 2 mL at 300 and 1200 mL/h on
  a 10 mL/h basal.
A 60 mL syringe runs 100 mL/h for 30 min only: that run swaps in a full one every 30 min
(listed as ``syringe_changes_min``), and the windows across a swap show the restart dip.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

from bench.harness import parser, write_results
from dbc.frames import (
    BolusPage,
    Command,
    Page,
    PrimaryPage,
    Program,
    SettingsPage,
)
from dbc.vocabulary import (
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    EndAction,
    ModuleKind,
    PumpState,
    SyringeSize,
)
from pumps.firmware import PumpFirmware
from pumps.mechanism import Mechanism
from pumps.module import SimulatedModule
from pumps.syringe import SyringeMechanism
from pumps.volumetric import VolumetricMechanism

RATES_ML_H = (1.0, 25.0, 100.0)
SAMPLE_S = 30.0
WINDOWS_MIN = (2, 5, 11, 19, 31)
LIMITS_MMHG = (300.0, 50.0)  # 50 mmHg: the lowest setting of current pumps (Agilia "low")
OCCLUSION_RATE = {"volumetric": 25.0, "syringe": 5.0}
OCCLUSION_STEP_S = 0.1
WARM_UP_S = 600.0
LOW_RATE_OCCLUSION = {"syringe": (0.5, 1.0, 5.0), "volumetric": (25.0,)}
OVERSHOOT_RATES = (1.0, 25.0, 100.0, 999.0)
OVERSHOOT_VTBI_ML = 2.0
# The bound held (tests/pumps/test_delivery_count.py): after the line has drained, the patient
# has the VTBI (or the bolus) within the mechanism's own accuracy, 2 %, plus one motor step,
# 0.005 mL. The line's compliance adds nothing: it is counted as it is pushed.
BOUND_FRACTION, BOUND_ML = 0.02, 0.005
BOLUSES = ((0.5, 300.0), (2.0, 300.0), (0.5, 1200.0), (2.0, 1200.0))
BOLUS_BASAL_ML_H = 10.0


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


def low_rate_occlusion(kind: str, rate: float, trend: bool) -> dict[str, Any]:
    """Clamp after 15 min of steady running; 1 s steps, as the firmware samples."""
    m: VolumetricMechanism | SyringeMechanism = (
        VolumetricMechanism() if kind == "volumetric" else SyringeMechanism()
    )
    if isinstance(m, SyringeMechanism) and not trend:
        m.trend = None
    m.advance(900.0, rate)
    m.set_occlusion(downstream=True)
    seconds = 0
    while not m.conditions() & AlarmCondition.OCCLUSION_DOWNSTREAM and seconds < 4 * 3600:
        m.advance(1.0, rate)
        seconds += 1
    pressure = m.pressure_mmhg
    m.set_occlusion(downstream=False)  # the motor stops (alarm), the nurse unclamps
    before = m.patient_ml
    m.advance(300.0, 0.0)
    return {"time_to_alarm_min": round(seconds / 60.0, 2),
            "pressure_at_alarm_mmhg": round(pressure, 1),
            "bolus_collected_ml": round(m.patient_ml - before, 4)}


class Module:
    """One module's firmware + mechanism, programmed with frames, run in module time."""

    def __init__(self, kind: str) -> None:
        mk = ModuleKind.VOLUMETRIC if kind == "volumetric" else ModuleKind.SYRINGE
        self.fw: PumpFirmware = SimulatedModule(4, mk).firmware
        self.seq = 0

    def _send(self, frame: Command | Program) -> None:
        self.seq += 1
        self.fw.handle(frame, 0.0)

    def command(self, code: CommandCode, pid: int = 0) -> None:
        self._send(Command(node=4, seq=self.seq % 256, command=code, program_id=pid, arg=0))

    def program(self, pid: int, rate: float, vtbi: float, bolus: BolusPage | None = None) -> None:
        pages: list[Page] = [PrimaryPage(rate_ml_h=rate, vtbi_ml=vtbi),
                             SettingsPage(kvo_rate_ml_h=0.0, occlusion_limit_mmhg=300,
                                          end_action=EndAction.STOP, air_limit_ul=50)]
        for page in [*pages, *([bolus] if bolus else [])]:
            self._send(Program(node=4, seq=self.seq % 256, program_id=pid, page=page))

    def run(self, seconds: float, step: float = 1.0) -> None:
        for _ in range(round(seconds / step)):
            self.fw.tick(0.0, step)

    @property
    def counted(self) -> float:
        return self.fw.delivered.total(self.fw.mechanism.delivered_ml)


def overshoot(kind: str, rate: float) -> dict[str, Any]:
    m, vtbi = Module(kind), OVERSHOOT_VTBI_ML
    m.program(1, rate, vtbi)
    m.command(CommandCode.START, 1)
    step, stops, peak, elapsed = (0.05 if rate > 100 else 1.0), 0, 0.0, 0.0
    while m.fw.state is not PumpState.COMPLETE and elapsed < 3 * vtbi / rate * 3600 + 600:
        was = m.fw.state
        m.fw.tick(0.0, step)
        elapsed += step
        stops += m.fw.state is PumpState.ALARM and was is not PumpState.ALARM
        peak = max(peak, m.fw.mechanism.pressure_mmhg)
    counted, at_end = m.fw.delivered.primary_ml, m.fw.mechanism.patient_ml
    m.run(600.0)
    patient = m.fw.mechanism.patient_ml
    return {"vtbi_ml": vtbi, "counted_at_complete_ml": round(counted, 4),
            "patient_at_complete_ml": round(at_end, 4), "patient_drained_ml": round(patient, 4),
            "overshoot_ml": round(patient - vtbi, 4),
            "overshoot_pct": round((patient / vtbi - 1) * 100, 2),
            "bound_ml": round(vtbi * BOUND_FRACTION + BOUND_ML, 4),
            "occlusion_stops": stops, "peak_pressure_mmhg": round(peak, 1),
            "state": m.fw.state.name}


def bolus(kind: str, volume: float, rate: float) -> dict[str, Any]:
    m = Module(kind)
    m.program(1, BOLUS_BASAL_ML_H, 100.0)
    m.command(CommandCode.START, 1)
    m.run(600.0)  # the line at its basal pressure
    m.program(2, BOLUS_BASAL_ML_H, 100.0, BolusPage(volume_ml=volume, rate_ml_h=rate))
    m.command(CommandCode.START, 2)
    counted0, patient0 = m.counted, m.fw.mechanism.patient_ml
    m.command(CommandCode.BOLUS_START, 2)
    while m.fw.mode is DeliveryMode.BOLUS and m.fw.state is PumpState.INFUSING:
        m.fw.tick(0.0, 0.05)
    bolus_counted = m.fw.delivered.bolus_ml
    m.run(300.0)  # the basal goes on, the bolus pressure drains
    basal = BOLUS_BASAL_ML_H * 300.0 / 3600.0
    return {"bolus_counted_ml": round(bolus_counted, 4),
            "counter_over_ml": round(m.counted - counted0 - basal - volume, 4),
            "patient_over_ml": round(m.fw.mechanism.patient_ml - patient0 - basal - volume, 4),
            "bound_ml": round(volume * BOUND_FRACTION + BOUND_ML, 4),
            "state": m.fw.state.name}


def main() -> None:
    args = parser(__doc__, "physics").parse_args()
    start = time.perf_counter()
    report: dict[str, Any] = {}
    for kind in ("volumetric", "syringe"):
        acc = {f"{r:g}": accuracy(kind, r) for r in RATES_ML_H}
        occ = {f"{lim:g}": occlusion(kind, lim) for lim in LIMITS_MMHG}
        low = {f"{r:g}": {"trend": low_rate_occlusion(kind, r, True),
                          "threshold_only": low_rate_occlusion(kind, r, False)}
               for r in LOW_RATE_OCCLUSION[kind]}
        over = {f"{r:g}": overshoot(kind, r) for r in OVERSHOOT_RATES}
        bol = {f"{v:g} mL @ {r:g}": bolus(kind, v, r) for v, r in BOLUSES}
        report[kind] = {"accuracy": acc, "occlusion": occ, "low_rate_occlusion": low,
                        "vtbi_overshoot": over, "bolus_overshoot": bol}
    print_report(report)
    # No environment stamp: the figures are module time, the same on every machine.
    write_results(args.output, report, before=f"\n{time.perf_counter() - start:.2f} s wall; ")


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
        for rate, both in sections["low_rate_occlusion"].items():
            t, old = both["trend"], both["threshold_only"]
            print(f"low-rate occlusion {rate} mL/h @ 300 mmHg: alarm after "
                  f"{t['time_to_alarm_min']:.1f} min at {t['pressure_at_alarm_mmhg']:.0f} mmHg, "
                  f"bolus {t['bolus_collected_ml']:.3f} mL (threshold only: "
                  f"{old['time_to_alarm_min']:.1f} min, bolus {old['bolus_collected_ml']:.3f} mL)")
        print(f"VTBI {OVERSHOOT_VTBI_ML:g} mL:  rate  counted  patient@end  drained  overshoot"
              "      bound  stops  peak mmHg")
        for rate, o in sections["vtbi_overshoot"].items():
            print(f"{'':14}{rate:>6} {o['counted_at_complete_ml']:>8.4f} "
                  f"{o['patient_at_complete_ml']:>12.4f} {o['patient_drained_ml']:>8.4f} "
                  f"{o['overshoot_ml']:>+8.4f} ({o['overshoot_pct']:+.1f} %) "
                  f"<= {o['bound_ml']:.3f} {o['occlusion_stops']:>5} "
                  f"{o['peak_pressure_mmhg']:>7.0f}")
        for what, b in sections["bolus_overshoot"].items():
            print(f"bolus {what} mL/h: counted {b['bolus_counted_ml']:.4f} mL, over by "
                  f"{b['counter_over_ml']:+.4f} (counter) / {b['patient_over_ml']:+.4f} mL "
                  f"(patient) <= {b['bound_ml']:.3f}, {b['state']}")


if __name__ == "__main__":
    main()
