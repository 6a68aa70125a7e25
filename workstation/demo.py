"""The demo: every channel simulated in-process on virtual buses, with infusions running.

Used by ``icu-ws demo`` (headless or, later, the terminal UI), by training and by the tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from channels.controller import ChannelError
from channels.planning import InfusionOrder
from dbc.vocabulary import ModuleKind
from pumps.module import SimulatedModule
from pumps.nvm import next_boot_count
from pumps.rack import PumpRack
from workstation.api import Workstation
from workstation.config import WorkstationConfig, demo_config
from workstation.users import Role, UserStore

# Typical adult ICU infusions, by module kind; doses for the demo patient's 70 kg.
DEMO_ORDERS: dict[str, list[InfusionOrder]] = {
    "syringe": [
        InfusionOrder(drug_id="noradrenaline", dose=0.08, vtbi_ml=50),
        InfusionOrder(drug_id="propofol", dose=2.0, vtbi_ml=50),
        InfusionOrder(drug_id="fentanyl", dose=50, vtbi_ml=50),
        InfusionOrder(drug_id="insulin", dose=3, vtbi_ml=50),
        InfusionOrder(drug_id="midazolam", dose=3, vtbi_ml=50),
        InfusionOrder(drug_id="dexmedetomidine", dose=0.7, vtbi_ml=50),
    ],
    "volumetric": [
        InfusionOrder(drug_id="plasma-lyte-148", rate_ml_h=80, vtbi_ml=1000),
        InfusionOrder(drug_id="amiodarone", dose=35, vtbi_ml=500),
        InfusionOrder(drug_id="potassium-chloride", dose=5, vtbi_ml=100),
        # 14 units/kg/h = 980 units/h at 70 kg (heparin is weight-based in every care area)
        InfusionOrder(drug_id="heparin", dose=14, concentration=1, vtbi_ml=500),
        InfusionOrder(drug_id="sodium-chloride-0-9", rate_ml_h=40, vtbi_ml=500),
        InfusionOrder(drug_id="magnesium-sulfate", dose=1.0, vtbi_ml=100),
    ],
}


# The demo's first-run user: printed at every start (a demo, never a ward, credential).
DEMO_USER, DEMO_PIN = "demo-nurse", "2580"


def ensure_demo_user(path: Path) -> str:
    """Create the demo user in ``path`` if it is not there; say how to unlock as it."""
    store = UserStore(path)
    if store.get(DEMO_USER) is None:
        store.add(DEMO_USER, Role.NURSE, DEMO_PIN)
    elif store.verify(DEMO_USER, DEMO_PIN) is None:
        return f"demo user {DEMO_USER} (its PIN was changed; users in {path})"
    return f"demo user {DEMO_USER}, PIN {DEMO_PIN} (role nurse; users in {path})"


def simulated_racks(config: WorkstationConfig, speed: float, *,
                    nvm: Path | None = None) -> list[PumpRack]:
    """One rack of simulated modules per bus, a module in every configured slot; ``nvm``
    keeps their boot counts, so racks made again boot as the next count (pumps.nvm)."""
    racks = []
    for bus in config.buses:
        modules = [SimulatedModule(c.slot, ModuleKind[c.kind.upper()],
                                   boot_count=next_boot_count(nvm, c.slot))
                   for c in config.channels if c.bus == bus.name]
        racks.append(PumpRack(bus.settings(), modules, speed=speed))
    return racks


def rack_for(config: WorkstationConfig, racks: list[PumpRack], letter: str) -> PumpRack | None:
    """The rack on ``letter``'s bus; ``racks`` follow the config's buses, as
    ``simulated_racks`` makes them."""
    names = [b.name for b in config.buses]
    index = names.index(config.channel(letter).bus)
    return racks[index] if index < len(racks) else None


def module_for(config: WorkstationConfig, racks: list[PumpRack], letter: str
               ) -> SimulatedModule | None:
    """The simulated module in ``letter``'s slot, if there is one."""
    rack = rack_for(config, racks, letter)
    return rack.modules.get(config.channel(letter).slot) if rack is not None else None


@contextlib.asynccontextmanager
async def demo_workstation(channels: int = 8, *, speed: float = 1.0,
                           event_log: Path | None = None,
                           config: WorkstationConfig | None = None
                           ) -> AsyncIterator[tuple[Workstation, list[PumpRack]]]:
    """A workstation with simulated modules on in-process virtual buses."""
    config = config or demo_config(channels)
    async with contextlib.AsyncExitStack() as stack:
        racks = [await stack.enter_async_context(r) for r in simulated_racks(config, speed)]
        ws = await stack.enter_async_context(Workstation(config, event_log_path=event_log))
        yield ws, racks


async def start_demo_infusions(ws: Workstation, *, user: str = "demo") -> list[str]:
    """Program and start a typical infusion on every channel; returns problems, if any."""
    problems = []
    used = {"syringe": 0, "volumetric": 0}
    for letter in ws.letters:
        kind = ws.config.channel(letter).kind
        orders = DEMO_ORDERS[kind]
        order = orders[used[kind] % len(orders)]
        used[kind] += 1
        try:
            await ws.program(letter, order, confirm=True, user=user)
            await ws.start(letter, user=user)
        except ChannelError as exc:
            problems.append(str(exc))
    return problems
