"""Reconcile the workstation's view of a channel with what the module says it runs.

The controller's own command history is not enough: acknowledgements get lost (H16), the
workstation restarts, a module reboots. Each status period the module reports the program id it
runs (Progress), its state, mode and rate (Status). When the module runs a program the channel
has no plan for, or another program id than the plan's, the controller asks for the ACTIVE
read-back and adopts it; the drug comes from the plans the workstation sent or restored under
that program id. A program id the workstation knows with other pages, or a program nobody sent
while a plan was running, is an unexplained mismatch: an alarm. Pure: frames in, decisions out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.plan import Plan, PlanKind, plan_from_pages
from dbc.frames import Page, PrimaryPage, Readback, SettingsPage, Status
from dbc.vocabulary import DeliveryMode, ProgramPage, PumpState

__all__ = ["Adoption", "Reconciler", "secondary_ended", "side_running"]

READBACK_RETRY_S = 2.0  # ask again if the active read-back did not come (lost frames)
KNOWN_PLANS = 32  # program ids remembered for adoption (ids wrap at 255)
RATE_MATCH_ML_H = 0.15


@dataclass(frozen=True)
class Adoption:
    program_id: int
    plan: Plan
    drug_known: bool
    mismatch: str | None  # why this cannot be explained, or None


@dataclass
class Reconciler:
    known: dict[int, Plan] = field(default_factory=dict)  # program id -> plan sent/restored
    requested_at: float | None = None
    _pages: dict[ProgramPage, Page] = field(default_factory=dict)

    def remember(self, program_id: int, plan: Plan) -> None:
        self.known.pop(program_id, None)
        self.known[program_id] = plan  # most recent last
        while len(self.known) > KNOWN_PLANS:
            del self.known[next(iter(self.known))]

    def awaiting(self, now: float) -> bool:
        """An active read-back was asked for and is still expected."""
        return self.requested_at is not None and now - self.requested_at < READBACK_RETRY_S

    def wants_readback(self, module_program_id: int, status: Status | None,
                       plan_id: int | None, now: float) -> bool:
        """The module runs (or holds) an active program the plan does not account for."""
        if status is None or module_program_id == 0 or module_program_id == plan_id:
            return False
        if self.requested_at is not None and now - self.requested_at < READBACK_RETRY_S:
            return False
        self.requested_at = now
        return True

    def on_active_readback(self, frame: Readback, plan: Plan | None,
                           plan_id: int | None) -> Adoption | None:
        """Collect the active pages; the adoption once primary and settings are both in."""
        self._pages[frame.page.PAGE] = frame.page
        primary = self._pages.get(ProgramPage.PRIMARY)
        settings = self._pages.get(ProgramPage.SETTINGS)
        if not isinstance(primary, PrimaryPage) or not isinstance(settings, SettingsPage):
            return None
        self._pages.clear()
        self.requested_at = None
        pid = frame.program_id
        known = self.known.get(pid)
        if known is not None and known.kind is PlanKind.PRIMARY and \
                known.primary_pages() == (primary, settings):
            return Adoption(pid, known, True, None)
        adopted = plan_from_pages(primary, settings)
        if known is not None and known.kind is PlanKind.PRIMARY:
            return Adoption(pid, adopted, False,
                            f"the pump runs program {pid} as {adopted.rate_ml_h:g} mL/h, VTBI "
                            f"{adopted.vtbi_ml:g} mL, but {known.describe()} was sent")
        if plan is not None and pid != plan_id:
            return Adoption(pid, adopted, False,
                            f"the pump runs program {pid} ({adopted.rate_ml_h:g} mL/h), which "
                            f"this workstation did not send; it showed {plan.describe()}")
        return Adoption(pid, adopted, False, None)  # e.g. a restart without its event log

    def side_plan(self, status: Status, kind: PlanKind,
                  unconfirmed: Plan | None) -> tuple[Plan, bool]:
        """The secondary or bolus the module runs though the controller has none: the start
        whose acknowledgement was lost, a known plan at that rate, or an unknown one."""
        def matches(p: Plan) -> bool:
            return p.kind is kind and abs(p.rate_ml_h - status.rate_ml_h) <= RATE_MATCH_ML_H
        if unconfirmed is not None and matches(unconfirmed):
            return unconfirmed, True
        for candidate in reversed(self.known.values()):
            if matches(candidate):
                return candidate, True
        unknown = Plan(kind=kind, drug_id="unknown", drug_name=f"Unknown {kind.value} (adopted)",
                       rate_ml_h=status.rate_ml_h, vtbi_ml=0.0, kvo_ml_h=0.0)
        return unknown, False


def side_running(status: Status) -> PlanKind | None:
    """Which secondary/bolus the module says it runs now, if any."""
    if status.state is not PumpState.INFUSING:
        return None
    return {DeliveryMode.SECONDARY: PlanKind.SECONDARY,
            DeliveryMode.BOLUS: PlanKind.BOLUS}.get(status.mode)


def secondary_ended(status: Status) -> bool:
    """The module says the secondary is over: back to the primary while running, or stopped
    for good. A pause or an alarm (mode NONE) is not an end: a resume restarts it (H17)."""
    if status.state in (PumpState.INFUSING, PumpState.KVO):
        return status.mode is not DeliveryMode.SECONDARY
    return status.state in (PumpState.IDLE, PumpState.PROGRAMMED, PumpState.COMPLETE)
