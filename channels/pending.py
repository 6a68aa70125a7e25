"""A program sent to a module and not yet started: verified page by page from the read-back."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.plan import Plan, PlanKind
from dbc.frames import Page, Readback
from dbc.vocabulary import CommandCode, ProgramPage, ProgramStore

__all__ = ["PendingProgram"]


@dataclass
class PendingProgram:
    plan: Plan
    program_id: int
    pages: dict[ProgramPage, Page]
    deadline: float  # read-back must be complete by then
    then: CommandCode | None = None  # sent by itself once verified (bolus, secondary)
    acked: set[ProgramPage] = field(default_factory=set)
    matched: set[ProgramPage] = field(default_factory=set)
    mismatch: str | None = None
    verified_at: float | None = None
    reminded: bool = False  # PROGRAM_PENDING raised once, not on every tick

    @classmethod
    def for_plan(cls, plan: Plan, program_id: int, deadline: float) -> PendingProgram:
        if plan.kind is PlanKind.PRIMARY:
            pages: tuple[Page, ...] = plan.primary_pages()
            then = None  # the nurse starts a primary program after review
        elif plan.kind is PlanKind.SECONDARY:
            pages, then = (plan.secondary_page(),), CommandCode.SECONDARY_START
        else:
            pages, then = (plan.bolus_page(),), CommandCode.BOLUS_START
        return cls(plan, program_id, {p.PAGE: p for p in pages}, deadline, then)

    @property
    def verified(self) -> bool:
        return self.mismatch is None and self.matched == set(self.pages) == self.acked

    def owns(self, frame: Readback) -> bool:
        """This read-back answers one of our pages."""
        return frame.store is ProgramStore.PENDING and frame.program_id == self.program_id \
            and frame.page.PAGE in self.pages

    def matches(self, frame: Readback) -> bool:
        return self.pages.get(frame.page.PAGE) == frame.page

    def on_readback(self, frame: Readback) -> bool:
        """True if this read-back belongs to us (then it is checked)."""
        if frame.store is not ProgramStore.PENDING or frame.program_id != self.program_id:
            return False
        sent = self.pages.get(frame.page.PAGE)
        if sent is None:
            return False
        if frame.page != sent:
            self.mismatch = f"{frame.page.PAGE.name.lower()} page read back as " \
                            f"{frame.page.model_dump()} but {sent.model_dump()} was sent"
        else:
            self.matched.add(frame.page.PAGE)
        return True
