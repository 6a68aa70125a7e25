"""A simulated module's non-volatile boot count (pumps.nvm): a restart is always a new boot
identity, as on a real module, so the workstation never takes it for a replayed BOOT."""

from __future__ import annotations

from pathlib import Path

from dbc.vocabulary import ModuleKind
from pumps.firmware import BOOT_COUNT_MOD
from pumps.module import SimulatedModule
from pumps.nvm import next_boot_count
from workstation.config import demo_config
from workstation.demo import simulated_racks


def test_without_memory_the_module_picks_its_own_count(tmp_path: Path) -> None:
    assert next_boot_count(None, 3) is None
    assert not list(tmp_path.iterdir())


def test_each_power_up_is_one_more_and_the_count_wraps_like_the_4_bit_field(
        tmp_path: Path) -> None:
    counts = [next_boot_count(tmp_path / "nvm", 3) for _ in range(BOOT_COUNT_MOD + 2)]
    assert counts == [*range(BOOT_COUNT_MOD), 0, 1]
    assert next_boot_count(tmp_path / "nvm", 4) == 0  # every slot has its own memory


def test_unreadable_memory_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "node-5.boot").write_text("garbage")
    assert next_boot_count(tmp_path, 5) == 0
    assert (tmp_path / "node-5.boot").read_text() == "0"


def test_racks_made_again_with_memory_boot_as_the_next_count(tmp_path: Path) -> None:
    config = demo_config()

    def counts() -> dict[int, int]:
        return {m.node: m.firmware.boot_count for rack in simulated_racks(
            config, 1.0, nvm=tmp_path) for m in rack.modules.values()}

    first, second = counts(), counts()
    assert first and set(first) == set(second)
    assert all(second[n] == (first[n] + 1) % BOOT_COUNT_MOD for n in first)
    # The memory is the module's only: a module made without it keeps a count in range.
    assert 0 <= SimulatedModule(1, ModuleKind.SYRINGE).firmware.boot_count < BOOT_COUNT_MOD
