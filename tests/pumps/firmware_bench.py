"""A firmware bench for the pump tests: one module's firmware driven with an explicit clock."""

from __future__ import annotations

from dbc.frames import (
    AlarmEvent,
    Command,
    CommandAck,
    Frame,
    Page,
    PrimaryPage,
    Program,
    SettingsPage,
    WsHeartbeat,
)
from dbc.vocabulary import (
    AlarmCondition,
    CommandCode,
    EndAction,
    ModuleKind,
    WorkstationState,
)
from pumps.firmware import PumpFirmware
from pumps.module import SimulatedModule

NODE = 4


class Bench:
    """Drives one module's firmware with an explicit clock."""

    def __init__(self, kind: ModuleKind = ModuleKind.VOLUMETRIC) -> None:
        self.module = SimulatedModule(NODE, kind)
        self.fw: PumpFirmware = self.module.firmware
        self.now = 0.0
        self.seq = 0
        self.events: list[AlarmEvent] = []

    def send(self, frame: Frame) -> list[Frame]:
        return self.fw.handle(frame, self.now)

    def command(self, code: CommandCode, program_id: int = 0, arg: int = 0) -> CommandAck:
        self.seq = (self.seq + 1) % 256
        replies = self.send(Command(node=NODE, seq=self.seq, command=code,
                                    program_id=program_id, arg=arg))
        ack = replies[0]
        assert isinstance(ack, CommandAck) and ack.seq == self.seq
        return ack

    def page(self, program_id: int, page: Page) -> list[Frame]:
        self.seq = (self.seq + 1) % 256
        return self.send(Program(node=NODE, seq=self.seq, program_id=program_id, page=page))

    def program(self, program_id: int = 1, rate: float = 100.0, vtbi: float = 50.0,
                kvo: float = 1.0, end: EndAction = EndAction.KVO) -> None:
        self.page(program_id, PrimaryPage(rate_ml_h=rate, vtbi_ml=vtbi))
        self.page(program_id, SettingsPage(kvo_rate_ml_h=kvo, occlusion_limit_mmhg=300,
                                           end_action=end, air_limit_ul=50))

    def run(self, seconds: float, step: float = 1.0) -> None:
        """Advance module time, with workstation heartbeats so the watchdog stays quiet."""
        left = seconds
        while left > 0:
            dt = min(step, left)
            self.now += dt
            self.fw.handle(WsHeartbeat(state=WorkstationState.OPERATIONAL, time_s=0,
                                       time_ms=0, timeout_s=3.0), self.now)
            self.events += [e for e in self.fw.tick(self.now, dt) if isinstance(e, AlarmEvent)]
            left -= dt

    def raised(self, condition: AlarmCondition) -> bool:
        return any(e.condition == condition and e.raised for e in self.events)
