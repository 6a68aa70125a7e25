"""The attacker's own E2E code agrees with the DBC's definition (checked against our codec here,
in the test, never inside the attacker) and its frames decode as the real thing."""

from __future__ import annotations

import pytest

from dbc.codec import FrameDecoder
from dbc.e2e import protect
from dbc.frames import (
    Command,
    CommandAck,
    Frame,
    ModuleHeartbeat,
    Status,
    WsHeartbeat,
)
from dbc.vocabulary import CommandCode
from tests.buslab import codec
from tests.crossprocess import attacker

IDS = [(Command, 1), (Command, 31), (WsHeartbeat, 0), (Status, 4), (ModuleHeartbeat, 9),
       (CommandAck, 2)]


@pytest.mark.parametrize(("kind", "node"), IDS)
@pytest.mark.parametrize("counter", [0, 5, 15])
def test_the_attacker_crc_and_counter_match_the_bus(kind: type[Frame], node: int,
                                                    counter: int) -> None:
    ident = codec().frame_id(kind, node)
    for payload in (bytes(8), bytes(range(8)), bytes([0xFF] * 8)):
        ours = bytearray(payload)
        protect(ours, ident, counter)
        assert attacker.protect(bytearray(payload), ident, counter) == bytes(ours)


def test_a_forged_command_decodes_as_a_real_one() -> None:
    db = codec().db
    message = db.get_message_by_name("Pump01_Command")
    signals: dict[str, int | str] = {s.name: 0 for s in message.signals}
    signals |= {"Command": "PAUSE", "Seq": 77}
    payload = bytearray(message.encode(signals, strict=False))
    msg = attacker.std(0x101, attacker.protect(payload, 0x101, 3))
    frame = FrameDecoder(codec()).decode(msg)  # a fresh receiver takes its first counter
    assert isinstance(frame, Command) and frame.command is CommandCode.PAUSE and frame.seq == 77
