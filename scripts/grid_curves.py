"""Validation curves and training times of a trained grid, read from its result files.

Every trained result records its seed's validation curve (``training.val_curve``) and the
wall time of the joint run of its seeds (``manifest.train_seconds``). For each (task,
model) this prints the mean over seeds of the excess val loss (val loss minus the exact
distribution's loss on the same ``val`` sequences, nats per target token) at half, three
quarters and all of the step budget, the selected steps, and how many seeds were still
improving at the last validation (best step = last step): the check that a budget lets
``val_loss`` level off. Prints, asserts nothing.

    python scripts/grid_curves.py                 # results/
    python scripts/grid_curves.py results/quick
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from rexbench.tasks import get_split, get_task


def _excess_at(curve: list[list[float]], step: int, optimal: float) -> float:
    """Excess val loss at the last validation at or before ``step``."""
    values = [v for s, v in curve if s <= step]
    return values[-1] - optimal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results", type=Path)
    args = parser.parse_args()

    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for path in sorted(args.results.glob("*.json")):
        result = json.loads(path.read_text())
        if "training" in result:
            runs[(result["task"], result["model"])].append(result)

    optimal: dict[str, float] = {}
    total_seconds = 0.0
    print("| task | model | seeds | steps | excess val @½ | @¾ | @end | best steps | still improving | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (task_name, model), results in sorted(runs.items()):
        if task_name not in optimal:
            s, c = get_task(task_name).nll_sum_count(get_split(task_name, "val").words)
            optimal[task_name] = s / c
        steps = results[0]["training"]["steps"]
        ex = {
            f: np.mean([_excess_at(r["training"]["val_curve"], int(steps * f), optimal[task_name]) for r in results])
            for f in (0.5, 0.75, 1.0)
        }
        best = [r["training"]["best_step"] for r in results]
        improving = sum(b == steps for b in best)
        # Seeds trained together share one wall time; count it once per joint run.
        joint = {tuple(r["training"]["seeds_trained_together"]): r["manifest"]["train_seconds"] for r in results}
        seconds = sum(joint.values())
        total_seconds += seconds
        print(
            f"| {task_name} | {model} | {len(results)} | {steps} | {ex[0.5]:.4f} | {ex[0.75]:.4f} | {ex[1.0]:.4f} "
            f"| {', '.join(map(str, best))} | {improving}/{len(results)} | {seconds:.0f} |"
        )
    print(f"\ntraining wall time summed over joint runs (compile included, scoring excluded): {total_seconds / 60:.1f} min")


if __name__ == "__main__":
    main()
