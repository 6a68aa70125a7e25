"""A simulated module's non-volatile memory: the boot count it powers up with.

A real module keeps its boot count across power cycles and adds one at every power-up, so the
workstation tells a reboot (a new boot identity) from a replayed BOOT heartbeat (the identity it
already saw; dbc/README.md, "Freshness"). A simulated module started afresh has no such memory
unless it is given a folder for it.
"""

from __future__ import annotations

from pathlib import Path

from pumps.firmware import BOOT_COUNT_MOD

__all__ = ["next_boot_count"]


def next_boot_count(nvm: Path | None, node: int) -> int | None:
    """The boot count a module powers up with: one more than last time, kept in ``nvm``.

    Without ``nvm`` the answer is None (the module picks a random count), which a restart
    repeats once in 16: then the workstation takes the new BOOT for a replay and follows the
    module by its counters alone, without MODULE_RESTARTED."""
    if nvm is None:
        return None
    path = nvm / f"node-{node}.boot"
    try:
        count = (int(path.read_text()) + 1) % BOOT_COUNT_MOD
    except (OSError, ValueError):
        count = 0  # first power-up, or unreadable memory: start the count afresh
    nvm.mkdir(parents=True, exist_ok=True)
    path.write_text(str(count))
    return count
