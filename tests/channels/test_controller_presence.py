"""Module presence: a configured module never heard (H18), commands abandoned on loss (H7)."""

from __future__ import annotations

from channels.commands import Completion, Outcome
from dbc.registry import ModuleChange
from tests.channels.controller_rig import FLUID, Rig
from workstation.alarm_catalog import condition_info
from workstation.alarms import Priority


def test_a_configured_module_never_heard_is_a_high_alarm_from_the_start() -> None:
    # H18: right after a workstation (re)start, a silent module is a line nobody watches.
    rig = Rig()
    rig.wait(2.5)
    assert "NO_MODULE" not in rig.raised  # within the heartbeat timeout (3 s): not yet
    rig.wait(1.0)
    assert rig.raised == ["NO_MODULE"]
    assert condition_info("NO_MODULE").priority is Priority.HIGH
    alarm = [e for e in rig.events if "slot 1" in e.message]
    assert alarm, "the log says which slot"
    rig.wait(5.0)
    assert rig.raised == ["NO_MODULE"]  # once
    rig.online()
    assert "NO_MODULE" in rig.cleared


def test_a_module_heard_in_time_raises_no_alarm() -> None:
    rig = Rig()
    rig.wait(1.0)
    rig.online()
    rig.wait(10.0)
    assert rig.raised == []


def test_module_lost_ends_every_command_in_flight_at_once() -> None:
    # H7: the API's waiting futures end now, as ABANDONED, not after a bare TimeoutError.
    rig = Rig().online().run(FLUID)
    rig.deaf = True
    rig.drive(rig.c.pause(rig.now))
    fx = rig.module_event(ModuleChange.LOST)
    assert [d.outcome for d in fx.completions] == [Outcome.ABANDONED]
    done = fx.completions[0]
    assert isinstance(done, Completion) and done.ack is None
    assert "COMM_LOST" in rig.raised
    rig.wait(5.0)
    assert "COMMAND_UNACKNOWLEDGED" not in rig.raised  # ended once, not twice
