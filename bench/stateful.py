"""How fast the stateful safety suite explores: sequences and steps per second.

    python bench/stateful.py [--examples N] [--steps N] [--seed S] [--output PATH]

Runs the safety state machine of ``tests/safety`` (nurse actions, pump and wire faults,
workstation restarts, time passing; every invariant checked after every 50 ms quantum of module
time) for ``--examples`` sequences of up to ``--steps`` steps, generation only (no shrinking),
seeded so runs compare. Reports sequences/s and steps/s (per wall second and per CPU second of the
process, as the machine may be shared), simulated module time and its ratio to
wall time, and the quanta checked per second. A violation found stops the run; it is reported
(the figures then cover the sequences run until then), never raised: this is a measurement, the
tests judge.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import invariant, run_state_machine_as_test

from bench.harness import environment, parser, write_results
from tests.safety.machine import SafetyMachine


class CountingMachine(SafetyMachine):
    """The safety machine, counting sequences, steps, module time and checked quanta."""

    totals: ClassVar[dict[str, float]] = {"sequences": 0, "steps": 0, "module_s": 0.0,
                                          "quanta": 0, "refusals": 0}

    def __init__(self) -> None:
        super().__init__()
        self.totals["sequences"] += 1
        self._started = self.rig.t

    @invariant()
    def count_step(self) -> None:
        self.totals["steps"] += 1  # once before the first rule, then after each rule

    def teardown(self) -> None:
        self.totals["steps"] -= 1
        self.totals["module_s"] += self.rig.t - self._started
        self.totals["quanta"] += self.monitor.checks
        self.totals["refusals"] += self.refusals
        super().teardown()


def run(examples: int, steps: int, seed_value: int) -> dict[str, Any]:
    for key in CountingMachine.totals:
        CountingMachine.totals[key] = 0
    failure: str | None = None
    cpu_start = time.process_time()
    start = time.perf_counter()
    try:
        seed(seed_value)(run_state_machine_as_test)(
            CountingMachine, settings=settings(
                max_examples=examples, stateful_step_count=steps, deadline=None,
                database=None, phases=(Phase.explicit, Phase.generate),
                suppress_health_check=list(HealthCheck)))
    except Exception as exc:  # a violation: report it, the figures still stand
        failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    t = CountingMachine.totals
    return {
        **environment("hypothesis", "cantools"),
        "settings": {"examples": examples, "steps_per_sequence": steps, "seed": seed_value},
        "results": {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),  # this process: the wall figures also carry the load
            "sequences_per_cpu_s": round(t["sequences"] / cpu, 3),
            "steps_per_cpu_s": round(t["steps"] / cpu, 2),
            "sequences": int(t["sequences"]),
            "steps": int(t["steps"]),
            "sequences_per_s": round(t["sequences"] / wall, 3),
            "steps_per_s": round(t["steps"] / wall, 2),
            "module_time_s": round(t["module_s"], 1),
            "module_time_per_wall_s": round(t["module_s"] / wall, 1),
            "quanta_checked_per_s": round(t["quanta"] / wall, 0),
            "refused_actions": int(t["refusals"]),
        },
        "violation": failure,
    }


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, "stateful")
    cli.add_argument("--examples", type=int, default=20)
    cli.add_argument("--steps", type=int, default=40)
    cli.add_argument("--seed", type=int, default=20261206)
    args = cli.parse_args(argv)
    report = run(args.examples, args.steps, args.seed)
    r = report["results"]
    print(f"stateful safety suite, Hypothesis {report['hypothesis']}, Python {report['python']}")
    print(f"{r['sequences']} sequences, {r['steps']} steps in {r['wall_s']} s: "
          f"{r['sequences_per_s']} sequences/s, {r['steps_per_s']} steps/s")
    print(f"per CPU second of this process ({r['cpu_s']} s): {r['sequences_per_cpu_s']} "
          f"sequences/s, {r['steps_per_cpu_s']} steps/s")
    print(f"module time simulated: {r['module_time_s']} s ({r['module_time_per_wall_s']} x "
          f"wall time), {r['quanta_checked_per_s']:.0f} quanta checked/s, "
          f"{r['refused_actions']} nurse actions refused with a reason")
    print(f"violation: {report['violation'] or 'none'}")
    write_results(args.output, report, before="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
