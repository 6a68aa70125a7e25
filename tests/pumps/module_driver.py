"""One module (firmware + physical model) programmed and run in module time, without a bus."""

from __future__ import annotations

from dbc.frames import BolusPage, Command, Page, PrimaryPage, Program, SettingsPage
from dbc.vocabulary import CommandCode, EndAction, ModuleKind
from pumps.firmware import PumpFirmware
from pumps.module import Fault, SimulatedModule


class Driver:
    """Programs one module's firmware and runs it in module time."""

    def __init__(self, kind: ModuleKind) -> None:
        self.module = SimulatedModule(4, kind)
        self.fw: PumpFirmware = self.module.firmware
        self.seq = 0

    def send(self, frame: Command | Program) -> None:
        self.fw.handle(frame, 0.0)

    def command(self, code: CommandCode, program_id: int = 0) -> bool:
        self.seq += 1
        ack = self.fw.handle(Command(node=4, seq=self.seq % 256, command=code,
                                     program_id=program_id, arg=0), 0.0)[0]
        return bool(getattr(ack, "accepted", False))

    def program(self, pid: int, rate: float, vtbi: float, bolus: BolusPage | None = None) -> None:
        pages: list[Page] = [
            PrimaryPage(rate_ml_h=rate, vtbi_ml=vtbi),
            SettingsPage(kvo_rate_ml_h=0.0, occlusion_limit_mmhg=300,
                         end_action=EndAction.STOP, air_limit_ul=50)]
        for page in [*pages, *([bolus] if bolus else [])]:
            self.seq += 1
            self.send(Program(node=4, seq=self.seq % 256, program_id=pid, page=page))

    def run(self, seconds: float, step: float) -> None:
        t = 0.0
        while t < seconds:
            self.fw.tick(0.0, step)
            t += step

    @property
    def patient_ml(self) -> float:
        return self.fw.mechanism.patient_ml

    @property
    def counted_ml(self) -> float:
        return self.fw.delivered.total(self.fw.mechanism.delivered_ml)

    def module_inject(self, fault: Fault, value: float = 1.0) -> None:
        self.module.inject(fault, value)
