"""A ChannelController driven by hand-made frames and an injected clock, with a scripted module.

The scripted module answers like the firmware does (acknowledgement, read-back, state) but only
as far as these tests need, and lets a test lose acknowledgements or change state on its own.
No bus, no sleeping: the tests own ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.config import ChannelConfig, CommandConfig, SupervisionConfig
from channels.controller import ChannelController
from channels.effects import Effects
from channels.events import Event
from channels.plan import Plan, PlanKind
from dbc.frames import (
    BolusPage,
    Command,
    CommandAck,
    Frame,
    Page,
    PrimaryPage,
    Program,
    Progress,
    Readback,
    SecondaryPage,
    Status,
)
from dbc.registry import ModuleChange, ModuleEvent, ModuleInfo
from dbc.vocabulary import (
    AckResult,
    AlarmCondition,
    CommandCode,
    DeliveryMode,
    ModuleKind,
    ModuleState,
    ProgramPage,
    ProgramStore,
    PumpState,
    RejectReason,
)

FLUID = Plan(drug_id="plasma-lyte-148", drug_name="Plasma-Lyte 148", rate_ml_h=120,
             vtbi_ml=500, kvo_ml_h=2)
NORAD = Plan(drug_id="noradrenaline", drug_name="Noradrenaline", rate_ml_h=6, vtbi_ml=50,
             dose=0.1, dose_unit="mcg/kg/min", weight_kg=80, high_alert=True)
SECONDARY = Plan(kind=PlanKind.SECONDARY, drug_id="cefazolin", drug_name="Cefazolin",
                 rate_ml_h=25, vtbi_ml=5, kvo_ml_h=1)
BOLUS = Plan(kind=PlanKind.BOLUS, drug_id="noradrenaline", drug_name="Noradrenaline",
             rate_ml_h=60, vtbi_ml=0.5)


@dataclass
class Rig:
    kind: str = "volumetric"
    module_timeout_s: float | None = None
    restored: dict[int, Plan] | None = None
    now: float = 0.0
    raised: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    completions: list[object] = field(default_factory=list)
    # The scripted module.
    pending: dict[ProgramPage, Page] = field(default_factory=dict)
    pending_id: int = 0
    active: dict[ProgramPage, Page] = field(default_factory=dict)
    active_id: int = 0
    secondary: SecondaryPage | None = None
    bolus: BolusPage | None = None
    state: PumpState = PumpState.IDLE
    mode: DeliveryMode = DeliveryMode.NONE
    alarms: AlarmCondition = field(default_factory=lambda: AlarmCondition(0))
    resume_mode: DeliveryMode = DeliveryMode.PRIMARY  # what a resume restarts, as the firmware
    lose_acks: bool = False  # the module executes, the workstation never hears the answer
    lose_acks_of: set[CommandCode] = field(default_factory=set)  # only these commands' answers
    deaf: bool = False  # the module neither executes nor answers
    misread: bool = False  # pages read back with another rate (a corrupted store)
    reject_pages: bool = False

    def __post_init__(self) -> None:
        config = ChannelConfig.model_validate({"letter": "A", "slot": 1, "kind": self.kind})
        self.c = ChannelController(config, CommandConfig(), SupervisionConfig(),
                                   restored=self.restored,
                                   module_timeout_s=self.module_timeout_s or 3.0)

    # -- plumbing ----------------------------------------------------------------------------
    def take(self, fx: Effects) -> Effects:
        self.raised += [r.condition for r in fx.raises]
        self.cleared += fx.clears
        self.events += fx.events
        self.completions += fx.completions
        return fx

    def drive(self, fx: Effects) -> Effects:
        """Take the effects and let the module answer every frame in them (recursively)."""
        self.take(fx)
        for frame in fx.frames:
            for reply in self.answer(frame):
                self.drive(self.c.on_frame(reply, self.now))
        return fx

    def module_event(self, change: ModuleChange) -> Effects:
        info = ModuleInfo("can0", 1, ModuleKind[self.kind.upper()], 101, "1.0.0",
                          ModuleState.OPERATIONAL, 0.0, self.now,
                          online=change is not ModuleChange.LOST)
        return self.drive(self.c.on_module_event(ModuleEvent(change, info), self.now))

    def tick(self, dt: float = 0.1) -> Effects:
        self.now += dt
        return self.drive(self.c.tick(self.now))

    def wait(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.1)):
            self.tick()

    def rate(self) -> float:
        if self.state is PumpState.KVO:
            settings = self.active.get(ProgramPage.SETTINGS)
            return settings.kvo_rate_ml_h if settings else 0.0  # type: ignore[union-attr]
        if self.state is not PumpState.INFUSING:
            return 0.0
        if self.mode is DeliveryMode.SECONDARY and self.secondary:
            return self.secondary.rate_ml_h
        if self.mode is DeliveryMode.BOLUS and self.bolus:
            return self.bolus.rate_ml_h
        primary = self.active.get(ProgramPage.PRIMARY)
        return primary.rate_ml_h if isinstance(primary, PrimaryPage) else 0.0

    def status(self, **changes: object) -> Effects:
        """The module's periodic frames (Status, then Progress), after ``changes``."""
        for name, value in changes.items():
            setattr(self, name, value)
        fx = self.drive(self.c.on_frame(Status(node=1, state=self.state, mode=self.mode,
                                               rate_ml_h=self.rate(), pressure_mmhg=20,
                                               alarms=self.alarms), self.now))
        fx.extend(self.drive(self.c.on_frame(Progress(node=1, program_id=self.active_id,
                                                      volume_remaining_ml=100.0), self.now)))
        return fx

    # -- the scripted module ------------------------------------------------------------------
    def answer(self, frame: Frame) -> list[Frame]:
        if self.deaf or not isinstance(frame, Command | Program):
            return []
        replies: list[Frame] = []
        if isinstance(frame, Program):
            if frame.program_id != self.pending_id:
                self.pending, self.pending_id = {}, frame.program_id
            subject = CommandCode(CommandCode.PROGRAM_PRIMARY + frame.page.PAGE)
            if self.reject_pages:
                return [self._ack(frame.seq, subject, RejectReason.OUT_OF_RANGE)]
            page = frame.page
            if self.misread and isinstance(page, PrimaryPage):
                page = page.model_copy(update={"rate_ml_h": page.rate_ml_h + 10})
            self.pending[page.PAGE] = page
            replies = [self._ack(frame.seq, subject),
                       Readback(node=1, store=ProgramStore.PENDING,
                                program_id=frame.program_id, page=page)]
        else:
            reason = self._execute(frame)
            replies = [self._ack(frame.seq, frame.command, reason)]
            if frame.command is CommandCode.REQUEST_READBACK and reason is None:
                replies += [Readback(node=1, store=ProgramStore.ACTIVE, program_id=self.active_id,
                                     page=p) for _, p in sorted(self.active.items())]
        lost = isinstance(frame, Command) and frame.command in self.lose_acks_of
        return [] if self.lose_acks or lost else replies

    def _ack(self, seq: int, subject: CommandCode, reason: RejectReason | None = None
             ) -> CommandAck:
        return CommandAck(node=1, seq=seq, subject=subject, program_id=self.pending_id,
                          state=self.state, reason=reason or RejectReason.NONE,
                          result=AckResult.ACCEPTED if reason is None else AckResult.REJECTED)

    def _execute(self, c: Command) -> RejectReason | None:
        code, s = c.command, PumpState
        if code is CommandCode.REQUEST_READBACK:
            return None if self.active else RejectReason.NO_PROGRAM
        if code is CommandCode.START:
            if c.program_id and c.program_id == self.pending_id:
                self.active, self.active_id = dict(self.pending), self.pending_id
                self.pending, self.pending_id = {}, 0
                keep = self.state is s.INFUSING and self.mode is not DeliveryMode.PRIMARY
                self.state, self.mode = s.INFUSING, self.mode if keep else DeliveryMode.PRIMARY
            elif self.active and self.state in (s.PAUSED, s.PROGRAMMED, s.ALARM):
                self.state, self.mode = s.INFUSING, self.resume_mode
            else:
                return RejectReason.BAD_STATE
        elif code is CommandCode.PAUSE:
            bolus = self.mode is DeliveryMode.BOLUS
            self.resume_mode = DeliveryMode.PRIMARY if bolus else self.mode
            self.state, self.mode = s.PAUSED, DeliveryMode.NONE
        elif code is CommandCode.STOP:
            self.state = s.PROGRAMMED if self.active else s.IDLE
            self.mode = DeliveryMode.NONE
        elif code is CommandCode.CLEAR:
            self.active, self.active_id, self.state = {}, 0, s.IDLE
        elif code is CommandCode.SECONDARY_START:
            page = self.pending.get(ProgramPage.SECONDARY)
            assert isinstance(page, SecondaryPage)
            self.secondary, self.mode = page, DeliveryMode.SECONDARY
        elif code is CommandCode.BOLUS_START:
            page = self.pending.get(ProgramPage.BOLUS)
            assert isinstance(page, BolusPage)
            self.bolus, self.mode = page, DeliveryMode.BOLUS
        elif code in (CommandCode.SECONDARY_STOP, CommandCode.BOLUS_STOP):
            self.mode = DeliveryMode.PRIMARY
        return None

    # -- nurse, in one step ---------------------------------------------------------------------
    def online(self) -> Rig:
        self.module_event(ModuleChange.APPEARED)
        self.status()
        return self

    def run(self, plan: Plan = FLUID) -> Rig:
        """Program, verify and start ``plan``; the module reports it running."""
        self.drive(self.c.load(plan, self.now))
        self.drive(self.c.start(self.now))
        self.status()
        return self
