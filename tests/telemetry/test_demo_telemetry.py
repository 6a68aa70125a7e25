"""Out of the box: ``icu-ws demo`` publishes to its embedded broker, which a monitor can read."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.mqttlab import Subscriber

ROOT = Path(__file__).resolve().parents[2]


async def test_the_demo_publishes_to_its_embedded_broker(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "icu_ws.cli", "demo", "--headless", "--channels", "2",
         "--speed", "30", "--duration", "30", "--status-every", "30",
         "--event-log", str(tmp_path / "events.db")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        assert demo.stdout is not None
        first = await asyncio.wait_for(asyncio.to_thread(demo.stdout.readline), 20)
        found = re.search(r"embedded broker (mqtt://127\.0\.0\.1:\d+);", first)
        assert found, first
        url = found.group(1)
        async with Subscriber(url, "icu/#", qos=1) as sub:
            observations = await sub.collect(
                lambda m: m.topic.endswith("/observation")
                and json.loads(m.payload)["state"] == "INFUSING", timeout=20, count=2)
            assert {m.topic for m in observations} >= {"icu/icu/demo-bed/demo/channels/A/"
                                                       "observation"}
            await sub.collect(lambda m: m.topic.endswith("/status")
                              and json.loads(m.payload)["state"] == "online", timeout=5)
    finally:
        demo.terminate()
        out, _ = demo.communicate(timeout=20)
    assert demo.returncode == 0, out
