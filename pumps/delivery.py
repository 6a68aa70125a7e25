"""Program storage and volume book-keeping of a module, kept apart from the state machine."""

from __future__ import annotations

from dataclasses import dataclass, field

from dbc.frames import BolusPage, Page, PrimaryPage, SecondaryPage, SettingsPage
from dbc.vocabulary import (
    DeliveryMode,
    EndAction,
    ProgramPage,
    ProgramStore,
    PumpState,
    RejectReason,
)

__all__ = ["Delivered", "ProgramSlot"]

REQUIRED_PAGES = (ProgramPage.PRIMARY, ProgramPage.SETTINGS)


@dataclass
class ProgramSlot:
    """Pending pages (received, verified by read-back) and the active program the motor runs."""

    pending: dict[ProgramPage, Page] = field(default_factory=dict)
    pending_id: int = 0
    active: dict[ProgramPage, Page] = field(default_factory=dict)
    active_id: int = 0
    bolus: BolusPage | None = None  # the bolus being given
    secondary: SecondaryPage | None = None  # the secondary being run

    def store_pending(self, program_id: int, page: Page) -> None:
        if program_id != self.pending_id:
            self.pending = {}  # a new program id starts a new pending program
            self.pending_id = program_id
        self.pending[page.PAGE] = page

    def pages(self, store: ProgramStore) -> list[Page]:
        pages = self.active if store is ProgramStore.ACTIVE else self.pending
        return [pages[p] for p in sorted(pages)]

    def find(self, program_id: int, page: ProgramPage) -> Page | None:
        for pid, pages in ((self.pending_id, self.pending), (self.active_id, self.active)):
            if program_id and program_id == pid and page in pages:
                return pages[page]
        return None

    def validate_pending(self) -> RejectReason | None:
        if any(p not in self.pending for p in REQUIRED_PAGES):
            return RejectReason.INCOMPLETE_PROGRAM
        primary, settings = self.pending[ProgramPage.PRIMARY], self.pending[ProgramPage.SETTINGS]
        assert isinstance(primary, PrimaryPage) and isinstance(settings, SettingsPage)
        if settings.kvo_rate_ml_h > primary.rate_ml_h:
            return RejectReason.KVO_ABOVE_RATE
        if settings.end_action is EndAction.KVO and settings.kvo_rate_ml_h <= 0:
            return RejectReason.OUT_OF_RANGE
        return None

    def commit(self) -> None:
        self.active, self.active_id = dict(self.pending), self.pending_id
        self.pending, self.pending_id = {}, 0

    def clear(self) -> None:
        self.pending, self.active = {}, {}
        self.pending_id = self.active_id = 0
        self.bolus = self.secondary = None

    @property
    def primary(self) -> PrimaryPage | None:
        page = self.active.get(ProgramPage.PRIMARY)
        return page if isinstance(page, PrimaryPage) else None

    @property
    def settings(self) -> SettingsPage | None:
        page = self.active.get(ProgramPage.SETTINGS)
        return page if isinstance(page, SettingsPage) else None

    def rate(self, mode: DeliveryMode) -> float:
        if mode is DeliveryMode.PRIMARY and self.primary is not None:
            return self.primary.rate_ml_h
        if mode is DeliveryMode.SECONDARY and self.secondary is not None:
            return self.secondary.rate_ml_h
        if mode is DeliveryMode.BOLUS and self.bolus is not None:
            return self.bolus.rate_ml_h
        return 0.0

    def kvo_rate(self) -> float:
        """KVO never runs above the primary rate."""
        settings, primary = self.settings, self.primary
        if settings is None or primary is None:
            return 0.0
        return min(settings.kvo_rate_ml_h, primary.rate_ml_h)

    def end_action(self) -> EndAction:
        settings = self.settings
        return settings.end_action if settings is not None else EndAction.STOP

    def left_ml(self, mode: DeliveryMode, done: Delivered) -> float | None:
        """Volume left of the mode's VTBI (0.0 once reached); None when it has none."""
        if mode is DeliveryMode.PRIMARY and self.primary is not None:
            target, so_far = self.primary.vtbi_ml, done.primary_ml
        elif mode is DeliveryMode.SECONDARY and self.secondary is not None:
            target, so_far = self.secondary.vtbi_ml, done.secondary_ml
        elif mode is DeliveryMode.BOLUS and self.bolus is not None:
            target, so_far = self.bolus.volume_ml, done.bolus_ml
        else:
            return None
        left = target - so_far
        return left if left > 1e-9 else 0.0


@dataclass
class Delivered:
    """Measured volume, split by what drove the motor."""

    baseline_ml: float = 0.0  # mechanism volume at the last RESET_VOLUME
    primary_ml: float = 0.0
    secondary_ml: float = 0.0
    bolus_ml: float = 0.0
    kvo_ml: float = 0.0

    def add(self, mode: DeliveryMode, state: PumpState, volume_ml: float) -> None:
        if state is PumpState.KVO:
            self.kvo_ml += volume_ml
        elif mode is DeliveryMode.PRIMARY:
            self.primary_ml += volume_ml
        elif mode is DeliveryMode.SECONDARY:
            self.secondary_ml += volume_ml
        elif mode is DeliveryMode.BOLUS:
            self.bolus_ml += volume_ml
        # else: flow with the motor stopped (post-occlusion bolus) counts only in the total

    def reset_total(self, mechanism_ml: float) -> None:
        self.baseline_ml = mechanism_ml

    def total(self, mechanism_ml: float) -> float:
        return max(0.0, mechanism_ml - self.baseline_ml)
