"""The bus contract: ``infusion.dbc`` and everything both sides of the bus share.

The workstation's channel controllers (``channels``) and the simulated pump modules (``pumps``)
are mirror images across this contract; it imports nothing else of ours. Modules:

- ``database``: loads the DBC (package data), strictly, once per process
- ``vocabulary``: the DBC's value tables as Python enums
- ``frames``: one pydantic model per frame type
- ``e2e``: CRC, counters and freshness of every frame
- ``codec``: frames to and from CAN messages
- ``link``: a python-can bus with a receive thread and an asyncio side
- ``registry``: module discovery from heartbeats
- ``recorder``: bus recordings (ASC/BLF/...) and their replay
- ``errors``: the exception tree
- ``shutdown``: ending commands and background tasks cleanly

``build_dbc`` (a developer tool) writes ``infusion.dbc``. Nothing is imported here.
"""

__all__ = [
    "codec", "database", "e2e", "errors", "frames", "link", "recorder", "registry", "shutdown",
    "vocabulary",
]
