"""Per seed-step cost of the grid's training runs, packed (the default) against unpacked.

    .venv/bin/python scripts/bench_grid_step.py [--models transformer lstm] [--steps 100] [--task anbn]

Runs ``rexbench.baselines.train.train`` exactly as ``rexbench reproduce`` does (5 seeds in
one program, validation every ``eval_every`` steps), once with ``Recipe.pack`` off and
once on, and prints the wall time per seed-step without compilation, and the ratio. These
are the numbers behind ``SECONDS_PER_SEED_STEP`` in ``rexbench.baselines.reproduce`` (the
grid estimate of ``rexbench reproduce --dry-run``). Prints only; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform

from rexbench.baselines.recipe import DEFAULT
from rexbench.baselines.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["transformer", "lstm"])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--task", default="anbn")
    args = ap.parse_args()
    seeds = [0, 1, 2, 3, 4]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; task {args.task}, "
          f"{len(seeds)} seeds x {args.steps} steps, validation every {DEFAULT.eval_every}")
    print("| model | unpacked ms/seed-step | packed ms/seed-step | packed rows | gain |")
    print("|---|--:|--:|--:|--:|")
    for m in args.models:
        cost = {}
        for pack in (False, True):
            run = train(m, args.task, seeds, steps=args.steps, recipe=DEFAULT.replace(pack=pack), progress=False)
            cost[pack] = ((run.wall_seconds - run.compile_seconds) / (len(seeds) * args.steps) * 1e3, run.packed_rows)
        print(f"| {m} | {cost[False][0]:.1f} | {cost[True][0]:.1f} | {cost[True][1] or '—'} | "
              f"{cost[False][0] / cost[True][0]:.2f}x |")


if __name__ == "__main__":
    main()
