"""CPU cost of the plausibility checks (issue 10) at 64 channels, on one core.

    python bench/plausibility.py [--seconds N] [--output PATH]

Each channel's module sends a Status and a Delivery every 250 ms: 64 channels make 512 checks
per second. Measured, single-threaded (pinned to one CPU where the OS allows):

* pure: ``ReportPlausibility.status_rate`` + ``.delivery`` on a steady 40 mL/h line;
* hook: ``ChannelController._implausible`` for a Status and a Delivery of an infusing channel
  (what the controller adds per frame: the expected rate, the program's rates, the check).

The figure is the share of one core the checks take at 64 channels: 512 x cost per check.
``--seconds`` per measurement (default 3), cut in 5 slices; the median slice rate is reported.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

from bench.harness import environment, parser, write_results
from bench.timing import pin_to_one_cpu, rate_summary, slice_rate
from channels.controller import ChannelController
from channels.effects import Effects
from channels.plan import Plan
from channels.plausibility import ReportPlausibility
from dbc.frames import Delivery, Status
from dbc.vocabulary import AlarmCondition, DeliveryMode, PumpState
from workstation.config import demo_config

CHANNELS = 64
FRAMES_PER_S = 4  # Status and Delivery, each every 250 ms
CHECKS_PER_S = CHANNELS * FRAMES_PER_S * 2
BATCH = 1000


def pure_batch() -> int:
    p = ReportPlausibility()
    t = 0.0
    for i in range(BATCH // 2):
        t += 0.25
        p.status_rate(40.0, 40.0)
        p.delivery(t, i * 40.0 * 0.25 / 3600, 40.0)
    return BATCH


def _controller() -> ChannelController:
    config = demo_config(2)
    c = config.channels[0]
    controller = ChannelController(c, config.commands, config.supervision)
    controller.plan = Plan.model_validate(_PLAN)
    controller.plan_id = 1
    controller.module.status = Status(node=c.slot, state=PumpState.INFUSING,
                                      mode=DeliveryMode.PRIMARY, rate_ml_h=40.0,
                                      pressure_mmhg=20, alarms=AlarmCondition(0))
    return controller


_PLAN = {"kind": "primary", "drug_id": "basic-infusion", "drug_name": "Basic infusion",
         "rate_ml_h": 40.0, "vtbi_ml": 500.0, "kvo_ml_h": 1.0}


def main() -> None:
    cli = parser(__doc__, "plausibility")
    cli.add_argument("--seconds", type=float, default=3.0)
    args = cli.parse_args()
    _, cpu = pin_to_one_cpu()
    slice_s = args.seconds / 5

    pure = rate_summary([slice_rate(pure_batch, slice_s) for _ in range(5)])

    controller = _controller()
    status = controller.module.status
    assert status is not None
    state = {"t": 0.0, "v": 0.0}

    def hook_batch() -> int:
        fx = Effects(controller.letter)
        for _ in range(BATCH // 2):
            state["t"] += 0.25
            state["v"] += 40.0 * 0.25 / 3600
            controller._implausible(status, state["t"], fx)
            controller._implausible(Delivery(node=status.node, volume_infused_ml=round(
                state["v"], 3), module_time_s=round(state["t"], 2)), state["t"], fx)
        assert not fx.raises, fx.raises
        return BATCH

    hook = rate_summary([slice_rate(hook_batch, slice_s) for _ in range(5)])
    results = {"pure": pure, "hook": hook}
    report: dict[str, object] = {
        "what": "plausibility checks (issue 10): checks per second on one core, and the share "
                f"of that core {CHANNELS} channels x {FRAMES_PER_S} Hz x (Status + Delivery) "
                "take",
        **environment(), "cpu": cpu,
        "checks_per_s_at_64_channels": CHECKS_PER_S,
    }
    for name, rate in results.items():
        per_check_us = 1e6 / rate["frames_per_s"]
        share = round(100 * CHECKS_PER_S / rate["frames_per_s"], 3)
        report[name] = {"checks_per_s": round(rate["frames_per_s"]),
                        "best": round(rate["best"]), "worst": round(rate["worst"]),
                        "us_per_check": round(per_check_us, 2),
                        "cpu_percent_at_64_channels": share}
        print(f"{name}: {per_check_us:.2f} µs per check, {share} % of one core at 64 channels")
    write_results(args.output, report)


if __name__ == "__main__":
    main()
