"""Scoring time of a host (PyTorch) model: the plain callable vs ``HostFunction`` with a step.

    .venv/bin/pip install torch==2.13.0   # not a dependency of rexbench
    .venv/bin/python scripts/bench_host.py [--task anbn] [--repeats 1]

Scores ``examples/submit_torch.py``'s GRU (19,301 parameters at V = 5, 2 torch threads) on one
task both ways, alternating, ``--repeats`` times each (the first of each includes the
one-off setup of splits and chance levels, so the first pair is run once untimed), and
prints the wall times, their ratio, and whether both gave identical metrics and records.
Asserts nothing; it is the measurement behind the figure quoted in docs/SUBMITTING.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the examples/ folder

from examples.submit_torch import make_model, make_model_plain  # noqa: E402
from rexbench.benchmark.score import score_model  # noqa: E402
from rexbench.benchmark.verify import compare  # noqa: E402
from rexbench.tasks import get_task  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="anbn")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    task = get_task(args.task)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; task {task.config}")
    score_model(make_model(task.vocab_size), task, model_name="warmup")  # splits, chance levels, compilation
    times: dict[str, list[float]] = {"plain": [], "step": []}
    results = {}
    for _ in range(args.repeats):
        for kind, factory in (("step", make_model), ("plain", make_model_plain)):
            t0 = time.perf_counter()
            results[kind] = score_model(factory(task.vocab_size), task, model_name="gru")
            times[kind].append(time.perf_counter() - t0)
            print(f"  {kind:5s}: {times[kind][-1]:7.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    same = compare(results["plain"], results["step"]) == []
    print(f"plain callable {med['plain']:.1f} s, HostFunction with a step {med['step']:.1f} s: "
          f"{med['plain'] / med['step']:.1f}x faster with the step; identical metrics and records: {same}")


if __name__ == "__main__":
    main()
