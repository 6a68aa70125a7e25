"""The module counts a program against the mechanism's own delivery (H19, H11).

Firmware + physical model in module time, no bus: the VTBI and a bolus end on what the fingers
or the plunger displaced, so what the line's compliance holds at that moment is part of the
counted volume, not extra on top of it; and no flow goes uncounted.
"""

from __future__ import annotations

import pytest

from dbc.frames import BolusPage
from dbc.vocabulary import AlarmCondition, CommandCode, DeliveryMode, ModuleKind
from dbc.vocabulary import PumpState as S
from tests.pumps.module_driver import Driver

KINDS = [ModuleKind.VOLUMETRIC, ModuleKind.SYRINGE]
# The bound held (see bench/physics.py): what reaches the patient after the line has drained
# exceeds the VTBI or the bolus by at most the mechanism's own accuracy (the volumetric set's
# stroke scatter, the syringe's bore tolerance; 2 % is inside both kinds' specification) plus
# one motor step. The line's compliance adds nothing: it is counted when it is pushed.
OVERSHOOT_ML = 0.005
OVERSHOOT_FRACTION = 0.02


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name.lower())
@pytest.mark.parametrize(("rate", "vtbi"), [(1.0, 0.5), (25.0, 2.0), (112.5, 2.0),
                                            (999.0, 3.0)])
def test_vtbi_is_honoured_at_the_patient(kind: ModuleKind, rate: float, vtbi: float) -> None:
    d = Driver(kind)
    d.program(1, rate, vtbi)
    assert d.command(CommandCode.START, 1)
    step = 0.05 if rate > 100 else 1.0
    stops, elapsed = 0, 0.0
    while d.fw.state is not S.COMPLETE:
        assert elapsed < 2 * vtbi / rate * 3600 + 60, f"not complete, state {d.fw.state.name}"
        d.fw.tick(0.0, step)
        elapsed += step
        stops += d.fw.state is S.ALARM
    assert stops == 0, "a clear line must not look occluded at any rate"
    assert d.fw.delivered.primary_ml == pytest.approx(vtbi, abs=OVERSHOOT_ML)
    d.run(600, 1.0)  # the line drains into the patient, the motor stopped
    assert d.counted_ml == pytest.approx(vtbi, abs=OVERSHOOT_ML)  # nothing uncounted after
    assert d.patient_ml <= vtbi * (1 + OVERSHOOT_FRACTION) + OVERSHOOT_ML
    assert d.patient_ml >= vtbi * (1 - OVERSHOOT_FRACTION) - OVERSHOOT_ML


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name.lower())
def test_occlusion_stops_leave_no_flow_uncounted(kind: ModuleKind) -> None:
    """Stop and auto-restart cycles: what the line releases was counted when pushed."""
    d = Driver(kind)
    d.program(1, 100.0, 50.0)
    assert d.command(CommandCode.START, 1)
    d.run(300, 0.5)
    d.fw.mechanism.set_occlusion(downstream=True)
    d.run(120, 0.5)
    assert d.fw.state is S.ALARM
    d.fw.mechanism.set_occlusion(downstream=False)
    d.run(600, 0.5)  # volumetric: auto-restart; syringe: backed off, stays stopped
    d.command(CommandCode.PAUSE)
    d.run(600, 1.0)
    # Everything that reached the patient is in the program's count (within the mechanism's
    # accuracy), so the VTBI bounds it: flow while the motor is stopped is not extra.
    primary = d.fw.delivered.primary_ml
    assert d.patient_ml <= primary * (1 + OVERSHOOT_FRACTION) + OVERSHOOT_ML
    assert d.counted_ml == pytest.approx(primary, abs=1e-9)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name.lower())
@pytest.mark.parametrize(("volume", "bolus_rate"), [(0.5, 300.0), (2.0, 300.0), (2.0, 1200.0)])
def test_bolus_ends_on_displacement(kind: ModuleKind, volume: float, bolus_rate: float) -> None:
    basal = 10.0
    d = Driver(kind)
    d.program(1, basal, 100.0)
    assert d.command(CommandCode.START, 1)
    d.run(600, 1.0)  # the line at its steady basal pressure
    d.program(2, basal, 100.0, BolusPage(volume_ml=volume, rate_ml_h=bolus_rate))
    assert d.command(CommandCode.START, 2)  # titration to the same rate makes 2 active
    counted0, patient0 = d.counted_ml, d.patient_ml
    assert d.command(CommandCode.BOLUS_START, 2)
    while d.fw.mode is DeliveryMode.BOLUS:
        assert d.fw.state is S.INFUSING, "a bolus on a clear line must not trip the occlusion"
        d.fw.tick(0.0, 0.05)
    assert d.fw.delivered.bolus_ml == pytest.approx(volume, abs=OVERSHOOT_ML)
    d.run(300, 1.0)  # basal goes on; the bolus pressure drains
    basal_ml = basal * 300 / 3600  # the bolus rate replaces the basal while it runs
    extra_counted = d.counted_ml - counted0 - basal_ml - volume
    extra_patient = d.patient_ml - patient0 - basal_ml - volume
    assert abs(extra_counted) <= OVERSHOOT_FRACTION * (volume + basal_ml) + OVERSHOOT_ML
    assert abs(extra_patient) <= OVERSHOOT_FRACTION * (volume + basal_ml) + OVERSHOOT_ML
    assert not d.fw.conditions() & AlarmCondition.OCCLUSION_DOWNSTREAM
