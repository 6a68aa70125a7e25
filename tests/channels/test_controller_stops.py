"""No silent stop (H2, H14): a module that stops or changes rate without a command alarms."""

from __future__ import annotations

import pytest

from channels.controller import ChannelError
from dbc.frames import Delivery, PrimaryPage
from dbc.registry import ModuleChange
from dbc.vocabulary import AlarmCondition, DeliveryMode, ProgramPage, PumpState
from tests.channels.controller_rig import BOLUS, FLUID, NORAD, Rig
from workstation.alarm_catalog import condition_info
from workstation.alarms import Priority

KINDS = ["volumetric", "syringe"]


@pytest.mark.parametrize("kind", KINDS)
def test_alarm_state_without_an_alarm_condition_is_a_high_alarm(kind: str) -> None:
    # H2: a syringe backs its plunger off on occlusion, the pressure falls before the bit is
    # latched, and the module sits in ALARM with no condition at all.
    rig = Rig(kind).online().run(NORAD)
    rig.status(state=PumpState.ALARM, mode=DeliveryMode.NONE)
    assert rig.raised.count("UNCOMMANDED_STOP") == 1
    info = condition_info("UNCOMMANDED_STOP")
    assert info.priority is Priority.HIGH and info.stops_infusion
    rig.status()
    assert rig.raised.count("UNCOMMANDED_STOP") == 1  # raised once, not every status


@pytest.mark.parametrize("kind", KINDS)
def test_alarm_state_with_its_condition_is_the_modules_alarm_only(kind: str) -> None:
    rig = Rig(kind).online().run(NORAD)
    rig.status(state=PumpState.ALARM, mode=DeliveryMode.NONE,
               alarms=AlarmCondition.OCCLUSION_DOWNSTREAM)
    assert "OCCLUSION_DOWNSTREAM" in rig.raised and "UNCOMMANDED_STOP" not in rig.raised


@pytest.mark.parametrize("state", [PumpState.PAUSED, PumpState.PROGRAMMED, PumpState.IDLE,
                                   PumpState.COMPLETE], ids=lambda s: s.name)
def test_a_stop_nobody_commanded_is_a_high_alarm(state: PumpState) -> None:
    rig = Rig().online().run(FLUID)
    rig.status(state=state, mode=DeliveryMode.NONE)
    assert rig.raised == ["UNCOMMANDED_STOP"]


def test_a_stop_from_kvo_nobody_commanded_is_a_high_alarm() -> None:
    rig = Rig().online().run(FLUID)
    rig.status(state=PumpState.KVO, mode=DeliveryMode.PRIMARY,
               alarms=AlarmCondition.INFUSION_COMPLETE)
    rig.status(state=PumpState.PAUSED, mode=DeliveryMode.NONE)
    assert "UNCOMMANDED_STOP" in rig.raised


def test_commanded_stops_and_the_end_of_the_vtbi_raise_nothing_new() -> None:
    rig = Rig().online().run(FLUID)
    rig.drive(rig.c.pause(rig.now))
    rig.status()
    rig.drive(rig.c.start(rig.now))
    rig.status()
    rig.drive(rig.c.stop(rig.now))
    rig.status()
    assert rig.state is PumpState.PROGRAMMED
    rig.drive(rig.c.start(rig.now))
    rig.status()
    rig.status(state=PumpState.KVO, alarms=AlarmCondition.INFUSION_COMPLETE)  # VTBI done
    assert "UNCOMMANDED_STOP" not in rig.raised and "UNCOMMANDED_RATE" not in rig.raised
    rig2 = Rig().online().run(FLUID)
    rig2.status(state=PumpState.COMPLETE, mode=DeliveryMode.NONE,
                alarms=AlarmCondition.INFUSION_COMPLETE)
    assert rig2.raised == ["INFUSION_COMPLETE"]


def test_a_rate_change_nobody_commanded_is_a_high_alarm() -> None:
    rig = Rig().online().run(FLUID)
    rig.wait(4.0)  # the start no longer explains anything
    rig.active[ProgramPage.PRIMARY] = PrimaryPage(rate_ml_h=60, vtbi_ml=500)  # behind our back
    rig.status()
    rig.status()
    assert rig.raised == ["UNCOMMANDED_RATE"]


def test_a_titration_changes_the_rate_without_an_alarm() -> None:
    rig = Rig().online().run(FLUID)
    rig.drive(rig.c.load(FLUID.model_copy(update={"rate_ml_h": 80}), rig.now))
    rig.drive(rig.c.start(rig.now))
    rig.status()
    rig.status()
    assert rig.raised == [] and rig.c.plan is not None and rig.c.plan.rate_ml_h == 80


@pytest.mark.parametrize("kind", KINDS)
def test_reboot_while_running_alarms_whichever_frame_comes_first(kind: str) -> None:
    # H14: after the reboot the Status (PROGRAMMED) arrives before the BOOT heartbeat.
    rig = Rig(kind).online().run(NORAD)
    rig.status(state=PumpState.PROGRAMMED, mode=DeliveryMode.NONE)
    rig.module_event(ModuleChange.REBOOTED)
    assert "MODULE_RESTARTED" in rig.raised


def test_reboot_announced_first_is_one_alarm_not_two() -> None:
    rig = Rig().online().run(FLUID)
    rig.wait(4.0)
    rig.module_event(ModuleChange.REBOOTED)
    rig.status(state=PumpState.PROGRAMMED, mode=DeliveryMode.NONE)
    assert rig.raised == ["MODULE_RESTARTED"]


def test_reboot_of_an_idle_module_is_no_alarm() -> None:
    rig = Rig().online()
    rig.module_event(ModuleChange.REBOOTED)
    assert "MODULE_RESTARTED" not in rig.raised


def test_module_restarted_clears_once_the_channel_is_started_again() -> None:
    # B5 (issue 10): the latched alarm can go once the nurse reprogrammed and started.
    rig = Rig().online().run(FLUID)
    rig.wait(1.0)
    rig.module_event(ModuleChange.REBOOTED)
    rig.status(state=PumpState.PROGRAMMED, mode=DeliveryMode.NONE)
    assert "MODULE_RESTARTED" in rig.raised
    rig.cleared.clear()
    rig.wait(1.0)
    assert "MODULE_RESTARTED" not in rig.cleared and "MODULE_RESTARTED" in rig.c.conditions
    rig.run(FLUID)
    assert "MODULE_RESTARTED" in rig.cleared and "UNCOMMANDED_STOP" in rig.cleared
    assert not rig.c.conditions & {"MODULE_RESTARTED", "UNCOMMANDED_STOP"}


def over_infusion(rig: Rig) -> None:
    """16 min of Delivery frames at 130 % of the programmed rate."""
    for step in range(0, 97):
        t = step * 10.0
        rig.take(rig.c.on_frame(Delivery(node=1, volume_infused_ml=1.3 * 6 * t / 3600,
                                         module_time_s=t), rig.now))


def test_bolus_refused_during_an_over_infusion_verdict() -> None:
    # H8: more drug on top of a pump already delivering too much.
    rig = Rig("syringe").online().run(NORAD)
    over_infusion(rig)
    assert "OVER_INFUSION" in rig.raised
    with pytest.raises(ChannelError, match="OVER_INFUSION"):
        rig.c.load(BOLUS, rig.now)


def test_bolus_refused_while_the_channel_has_an_uncommanded_rate_alarm() -> None:
    rig = Rig("syringe").online().run(NORAD)
    rig.wait(4.0)
    rig.active[ProgramPage.PRIMARY] = PrimaryPage(rate_ml_h=12, vtbi_ml=50)
    rig.status()
    rig.status()
    with pytest.raises(ChannelError, match="UNCOMMANDED_RATE"):
        rig.c.load(BOLUS, rig.now)


def test_bolus_accepted_on_a_clean_running_channel() -> None:
    rig = Rig("syringe").online().run(NORAD)
    rig.drive(rig.c.load(BOLUS, rig.now))
    rig.status()
    assert rig.c.bolus == BOLUS and rig.mode is DeliveryMode.BOLUS
