"""Probe runs for the per-(task, model) step budgets (issue #13; the rule: rexbench.baselines.budgets).

Trains one seed of each (task, model) for ``PROBE_FACTOR`` x the task's current budget
(``recipe.STEPS``), validation every 50 steps, and writes its result (with its val curve)
to ``OUT/``; a probe already there with that length is kept, so the script resumes. Then
prints, per (task, model): the plateau step, the rule's budget, whether the probe showed
the curve levelling off, and the grid time those budgets would cost.

    python scripts/budget_probe.py --out results/budget-probe                 # train what is missing, then the table
    python scripts/budget_probe.py --out results/budget-probe --table-only    # the table from what is there
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rexbench.baselines.budgets import PROBE_FACTOR, Budget, budget_from_curve
from rexbench.baselines.recipe import STEPS
from rexbench.baselines.reproduce import SECONDS_PER_SEED_STEP, TASK_ORDER, load_existing, train_and_score
from rexbench.benchmark.results import result_filename
from rexbench.tasks import get_split, get_task

MODELS = ("linear", "transformer", "lstm", "xlstm", "mamba")  # cheapest first: a cut-off run has the most rows
SEED = 0
GRID_SEEDS = 5


def probe_result(out: Path, task: str, model: str) -> dict | None:
    result, why = load_existing(out / result_filename(task, model, SEED))
    if why.startswith("invalid"):
        print(f"  {task} {model}: {why}; redoing", file=sys.stderr)
    if result is not None and result["manifest"]["train_steps"] != PROBE_FACTOR * STEPS[task]:
        return None
    return result


def budget_of(result: dict) -> Budget:
    s, c = get_task(result["task"]).nll_sum_count(get_split(result["task"], "val").words)
    curve = result["training"]["val_curve"]
    return budget_from_curve([int(step) for step, _ in curve], [v - s / c for _, v in curve])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/budget-probe"))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--tasks", default=",".join(TASK_ORDER))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    models, tasks = args.models.split(","), args.tasks.split(",")
    if not args.table_only:
        for model in models:
            for task in tasks:
                if probe_result(args.out, task, model) is not None:
                    continue
                t0 = time.perf_counter()
                train_and_score(model, task, [SEED], args.out, steps=PROBE_FACTOR * STEPS[task],
                                save_checkpoints=False, progress=False)
                print(f"probe {task} {model}: {time.perf_counter() - t0:.0f} s", flush=True)
    print("| task | model | probe steps | min excess val | plateau step | budget (rule) | levelled in probe | "
          "today's budget | probe train s |")
    print("|---|---|--:|--:|--:|--:|---|--:|--:|")
    grid_seconds = 0.0
    for task in tasks:
        for model in models:
            result = probe_result(args.out, task, model)
            if result is None:
                continue
            b = budget_of(result)
            grid_seconds += GRID_SEEDS * b.steps * SECONDS_PER_SEED_STEP.get(model, 0.1)
            print(f"| {task} | {model} | {b.probe_steps} | {b.min_excess:.4f} | {b.plateau_step} | {b.steps} | "
                  f"{'yes' if b.levelled else 'no'} | {STEPS[task]} | {result['manifest']['train_seconds']:.0f} |")
    print(f"\ntraining time of these budgets x {GRID_SEEDS} seeds (reproduce.SECONDS_PER_SEED_STEP): "
          f"{grid_seconds / 60:.0f} min, scoring and regimes not included")


if __name__ == "__main__":
    main()
