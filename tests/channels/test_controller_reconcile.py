"""The channel's view reconciled from the module's status (H16, H17)."""

from __future__ import annotations

from dbc.frames import PrimaryPage, SettingsPage
from dbc.vocabulary import CommandCode, DeliveryMode, EndAction, ProgramPage, PumpState
from tests.channels.controller_rig import FLUID, NORAD, SECONDARY, Rig


def test_a_start_whose_acks_were_lost_is_adopted_with_its_drug() -> None:
    # H16: the pump ran the START, every acknowledgement was lost.
    rig = Rig().online()
    rig.drive(rig.c.load(NORAD, rig.now))
    rig.lose_acks = True
    rig.drive(rig.c.start(rig.now))
    rig.wait(3.0)
    assert "COMMAND_UNACKNOWLEDGED" in rig.raised
    assert rig.state is PumpState.INFUSING and rig.c.plan is None
    rig.lose_acks = False
    rig.status()
    assert rig.c.plan == NORAD  # drug, dose and rate, not an empty card
    assert "PROGRAM_MISMATCH" not in rig.raised
    adopted = [e for e in rig.events if e.data.get("step") == "adopted"]
    assert adopted and adopted[-1].data["drug_known"] is True


def test_a_titration_whose_acks_were_lost_is_adopted() -> None:
    rig = Rig().online().run(FLUID)
    faster = FLUID.model_copy(update={"rate_ml_h": 150})
    rig.drive(rig.c.load(faster, rig.now))
    rig.lose_acks = True
    rig.drive(rig.c.start(rig.now))
    rig.wait(3.0)
    rig.lose_acks = False
    rig.status()
    rig.status()
    assert rig.c.plan == faster and "UNCOMMANDED_RATE" not in rig.raised


def test_a_program_the_workstation_never_sent_is_adopted_and_alarmed() -> None:
    rig = Rig().online().run(FLUID)
    rig.active = {ProgramPage.PRIMARY: PrimaryPage(rate_ml_h=40, vtbi_ml=100),
                  ProgramPage.SETTINGS: SettingsPage(kvo_rate_ml_h=1, occlusion_limit_mmhg=300,
                                                     end_action=EndAction.KVO, air_limit_ul=50)}
    rig.active_id = 77
    rig.status()
    assert rig.c.plan is not None and rig.c.plan.rate_ml_h == 40
    assert rig.c.plan.drug_id == "unknown"
    assert "PROGRAM_MISMATCH" in rig.raised


def test_a_known_program_id_with_other_pages_is_a_mismatch() -> None:
    rig = Rig().online()
    rig.drive(rig.c.load(FLUID, rig.now))
    rig.lose_acks = True
    rig.drive(rig.c.start(rig.now))
    rig.wait(3.0)
    rig.lose_acks = False
    rig.active[ProgramPage.PRIMARY] = PrimaryPage(rate_ml_h=999, vtbi_ml=500)
    rig.status()
    assert "PROGRAM_MISMATCH" in rig.raised
    assert rig.c.plan is not None and rig.c.plan.rate_ml_h == 999  # what runs, not a wish


def test_restart_adopts_the_restored_plan() -> None:
    first = Rig().online().run(NORAD)
    pid = first.active_id
    rig = Rig(restored={pid: NORAD})
    rig.active, rig.active_id = first.active, pid
    rig.state, rig.mode = PumpState.INFUSING, DeliveryMode.PRIMARY
    rig.online()
    assert rig.c.plan == NORAD and rig.raised == []


def test_pause_and_resume_during_a_secondary_keeps_the_secondary() -> None:
    # H17: a pause sets the mode to NONE; the secondary resumes, and must still be shown.
    rig = Rig().online().run(FLUID)
    rig.drive(rig.c.load(SECONDARY, rig.now))
    rig.status()
    assert rig.mode is DeliveryMode.SECONDARY and rig.c.secondary == SECONDARY
    rig.drive(rig.c.pause(rig.now))
    rig.status()
    rig.drive(rig.c.start(rig.now))
    rig.status()
    assert rig.mode is DeliveryMode.SECONDARY and rig.c.secondary == SECONDARY
    assert rig.c.expected_rate() == SECONDARY.rate_ml_h
    rig.status(mode=DeliveryMode.PRIMARY)  # the secondary's VTBI is done
    assert rig.c.secondary is None and rig.raised == []


def test_a_secondary_start_whose_acks_were_lost_is_adopted() -> None:
    rig = Rig().online().run(FLUID)
    rig.lose_acks_of = {CommandCode.SECONDARY_START}
    rig.drive(rig.c.load(SECONDARY, rig.now))
    rig.wait(3.0)
    assert rig.mode is DeliveryMode.SECONDARY and "COMMAND_UNACKNOWLEDGED" in rig.raised
    rig.status()
    assert rig.c.secondary == SECONDARY and rig.c.expected_rate() == SECONDARY.rate_ml_h


def test_a_stop_ends_the_secondary() -> None:
    rig = Rig().online().run(FLUID)
    rig.drive(rig.c.load(SECONDARY, rig.now))
    rig.status()
    rig.drive(rig.c.stop(rig.now))
    rig.status()
    assert rig.c.secondary is None
