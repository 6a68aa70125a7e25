"""A channel as everyone outside the controller sees it: one immutable snapshot.

The UI, the headless printer and telemetry read these, never the controller itself. Every number
carries its unit in its name; ``status_line`` is the headless rendering.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels import quantities
from channels.controller import ChannelController
from channels.druglib import fmt
from dbc.frames import TIME_REMAINING_UNKNOWN
from dbc.vocabulary import DeliveryMode, PumpState
from workstation.alarms import Alarm


@dataclass(frozen=True)
class ChannelSnapshot:
    letter: str
    label: str
    bus: str
    slot: int
    kind: str  # configured module kind
    online: bool
    state: str  # NO MODULE, OFFLINE, or a PumpState name
    mode: str
    drug: str
    concentration: str
    dose: float | None
    dose_unit: str
    rate_ml_h: float  # what the motor runs at now (module)
    programmed_rate_ml_h: float | None
    vtbi_ml: float | None
    volume_infused_ml: float | None
    volume_remaining_ml: float | None
    time_remaining_min: int | None
    pressure_mmhg: int | None
    pressure_trend: tuple[int, ...]
    battery_percent: int | None
    on_mains: bool | None
    serial: int | None
    firmware: str | None
    program_pending: bool
    program_verified: bool
    high_alert: bool
    alarm_text: str | None
    alarm_marker: str
    alarm_priority: str | None = None  # HIGH, MEDIUM, LOW, INFO: the channel's top alarm
    notes: str = ""  # the drug's advisory from the library ("central line only", ...)
    weight_kg: float | None = None  # the patient weight a weight-based dose is stated for

    @property
    def weight_text(self) -> str:
        """'80 kg' on a weight-based dose (mcg/kg/min), else ''."""
        if self.weight_kg is None or self.dose is None or "/kg" not in self.dose_unit:
            return ""
        return f"{fmt(self.weight_kg)} kg"

    @property
    def dose_text(self) -> str:
        """The dose as a nurse writes it, by the one rule (channels.quantities.dose)."""
        return quantities.dose(self.dose, self.dose_unit) or "-"

    def status_line(self) -> str:
        """One readable line for headless output."""
        # The volume still to infuse: after a titration the module counts a new program (its
        # VTBI is what was left), so 'infused/VTBI' would mix two programs.
        vol = "-" if self.volume_remaining_ml is None else \
            quantities.volume(self.volume_remaining_ml) + " left"
        left = "" if self.time_remaining_min is None else f" {self.time_remaining_min} min left"
        press = "-" if self.pressure_mmhg is None else str(self.pressure_mmhg)
        alarm = f"  {self.alarm_marker} {self.alarm_text}" if self.alarm_text else ""
        return (f"{self.letter:>2} {self.label[:16]:<16} {self.state:<10} {self.drug[:20]:<20} "
                f"{self.dose_text:>18} {quantities.rate(self.rate_ml_h):>10}  {vol:>12}{left}  "
                f"{press} mmHg{alarm}")


def snapshot(controller: ChannelController, alarms: list[Alarm]) -> ChannelSnapshot:
    c = controller
    m = c.module
    status, delivery, progress, power = m.status, m.delivery, m.progress, m.power
    if m.info is None:
        state = "NO MODULE"
    elif not c.online:
        state = "OFFLINE"
    else:
        state = status.state.name if status else "UNKNOWN"  # as the module reports it
    mode = status.mode.name if status and status.mode is not DeliveryMode.NONE else ""
    plan = c.secondary if status and status.mode is DeliveryMode.SECONDARY else c.plan
    mine = [a for a in alarms if a.key.source == c.letter]
    top = mine[0] if mine else None
    remaining = None
    if progress is not None and progress.time_remaining_min != TIME_REMAINING_UNKNOWN:
        remaining = progress.time_remaining_min
    shown_dose = plan.dose if plan else None
    if plan is not None and plan.dose is not None and status is not None and \
            status.state is PumpState.KVO:
        shown_dose = None  # KVO runs at the KVO rate: the programmed dose is not delivered
    return ChannelSnapshot(
        letter=c.letter, label=c.config.label, bus=c.config.bus, slot=c.node,
        kind=c.config.kind, online=c.online, state=state, mode=mode,
        drug=plan.drug_name if plan else "", concentration=plan.concentration if plan else "",
        dose=shown_dose, dose_unit=plan.dose_unit if plan else "mL/h",
        rate_ml_h=status.rate_ml_h if status else 0.0,
        programmed_rate_ml_h=plan.rate_ml_h if plan else None,
        vtbi_ml=plan.vtbi_ml if plan else None,
        volume_infused_ml=delivery.volume_infused_ml if delivery else None,
        volume_remaining_ml=progress.volume_remaining_ml if progress else None,
        time_remaining_min=remaining,
        pressure_mmhg=status.pressure_mmhg if status else None,
        pressure_trend=tuple(m.pressure_trend),
        battery_percent=power.battery_percent if power else None,
        on_mains=power.on_mains if power else None,
        serial=m.info.serial if m.info else None, firmware=m.info.firmware if m.info else None,
        program_pending=c.pending is not None,
        program_verified=bool(c.pending and c.pending.verified),
        high_alert=bool(plan and plan.high_alert),
        alarm_text=top.text if top else None, alarm_marker=top.priority.marker if top else "",
        alarm_priority=top.priority.name if top else None, notes=plan.notes if plan else "",
        weight_kg=plan.weight_kg if plan else None)
