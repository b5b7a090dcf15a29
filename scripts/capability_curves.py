"""Capability over training, read from a store's results (``training.capability_curve``).

For each (task, model) with curves, prints the excess val loss and the headline of the
current parameters at the *plateau* (the first validation at which the mean excess val
loss over seeds is within ``--eps`` nats/token of its minimum over the run;
:func:`rexbench.baselines.budgets.plateau_step`, the budget rule's) and at the
end; the *flat window* (every validation point within ``--eps`` of that minimum), the
headline's range there and its mean change from one validation point to the next; the headline of the selected checkpoints (min ``val_loss``, the
benchmark's rule) and the max over the history (the anchors' rule; a diagnostic only).
Writes ``{task}__capability.png`` per task (:func:`rexbench.benchmark.figures.capability_png`).
Every file is read through :func:`rexbench.benchmark.results.load_result`, so its curve
has been checked against its own scored counts.

    python scripts/capability_curves.py runs/long --figures runs/long/figures
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from rexbench.baselines.budgets import plateau_step
from rexbench.benchmark.figures import capability_png
from rexbench.benchmark.fileio import atomic_write_bytes
from rexbench.benchmark.results import load_result
from rexbench.tasks import get_split, get_task

HEADLINE = "ood_rule_extrapolation"


def flat_window(mean_excess: np.ndarray, eps: float) -> np.ndarray:
    """Indices of every validation point whose mean excess val loss is within ``eps`` of the
    run's minimum: the checkpoints the loss cannot tell apart at that tolerance."""
    return np.flatnonzero(mean_excess <= mean_excess.min() + eps)


def step_to_step(head_SP: np.ndarray, window: np.ndarray) -> float:
    """Mean |headline change| between consecutive validation points inside ``window``
    (consecutive in the run, both in the window), over seeds: how much one checkpoint's
    headline differs from its neighbour's 50 steps away."""
    pairs = [i for i in window[:-1] if i + 1 in set(window.tolist())]
    if not pairs:
        return float("nan")
    return float(np.mean([np.abs(head_SP[:, i + 1] - head_SP[:, i]).mean() for i in pairs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--figures", type=Path, default=None, help="where to write the PNGs (default: STORE/figures)")
    parser.add_argument("--eps", type=float, default=1e-3, help="plateau tolerance, nats/token (default 0.001)")
    args = parser.parse_args()

    runs: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(args.store.glob("*__seed*.json")):
        if path.name.endswith(".samples.jsonl"):
            continue
        result = load_result(path)
        if "capability_curve" in result.get("training", {}):
            runs[result["task"]][result["model"]].append(result)
    figures = args.figures or args.store / "figures"
    print(f"| task | model | seeds | steps | plateau step (eps {args.eps}) | excess val: min, at plateau → end | "
          "headline at plateau → end (mean) | flat window (steps) | headline range in it (mean) | "
          "step-to-step change in it | selected steps | headline at selected (mean) | max over history (mean; diagnostic) |")
    print("|---|---|--:|--:|--:|---|---|---|---|--:|---|--:|--:|")
    for task_name, by_model in sorted(runs.items()):
        s, c = get_task(task_name).nll_sum_count(get_split(task_name, "val").words)
        optimal = s / c
        for model, results in sorted(by_model.items()):
            steps = np.array([st for st, _ in results[0]["training"]["val_curve"]])
            excess = np.array([[v - optimal for _, v in r["training"]["val_curve"]] for r in results])
            head = np.array([[p[HEADLINE][0] / p[HEADLINE][1] for _, p in r["training"]["capability_curve"]]
                             for r in results])
            mean_ex, mean_head = excess.mean(axis=0), head.mean(axis=0)
            i = int(np.flatnonzero(steps == plateau_step(steps.tolist(), mean_ex.tolist(), args.eps))[0])
            selected = [r["training"]["best_step"] for r in results]
            at_sel = np.mean([r["metrics"][HEADLINE] for r in results])
            window = flat_window(mean_ex, args.eps)
            print(f"| {task_name} | {model} | {len(results)} | {steps[-1]} | {steps[i]} | "
                  f"{mean_ex.min():.4f}, {mean_ex[i]:.4f} → {mean_ex[-1]:.4f} | "
                  f"{mean_head[i]:.3f} → {mean_head[-1]:.3f} | {steps[window[0]]}–{steps[window[-1]]} "
                  f"({window.size} points) | {mean_head[window].min():.3f}–{mean_head[window].max():.3f} | "
                  f"{step_to_step(head, window):.3f} | {', '.join(map(str, selected))} | "
                  f"{at_sel:.3f} | {head.max(axis=1).mean():.3f} |")
        figures.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(figures / f"{task_name}__capability.png", capability_png(task_name, by_model, optimal))


if __name__ == "__main__":
    main()
