"""What quitting the workstation does, said as it is in each mode (issue 12.9)."""

from __future__ import annotations


def quit_consequence(*, demo: bool, running: list[str]) -> str:
    """What quitting really does, in this mode: the demo's simulated pumps live in this
    process and stop with it; real modules keep running their programs, unsupervised."""
    now = f"Running now: {', '.join(running)}. " if running else "Nothing is running. "
    if demo:
        return (now + "This is the demo: its simulated pumps run inside this program and STOP "
                "with it; every simulated infusion ends.")
    return (now + "The pumps KEEP RUNNING their programs, UNSUPERVISED: no alarm reaches this "
            "screen, and after a few seconds each module raises 'workstation heartbeat lost' "
            "at the pump. Restart the workstation (icu-ws run) to supervise them again.")
