"""Capability over training, read from a store's results (``training.capability_curve``).

For each (task, model) with curves, prints the excess val loss and the headline of the
current parameters at the *plateau* (the first validation at which the mean excess val
loss over seeds is within ``--eps`` nats/token of its minimum over the run;
:func:`rexbench.benchmark.curves.plateau_step`, the budget rule's; on a thinned curve,
the first curve point at or after it) and at the end; the *flat window* (every validation point within ``--eps`` of that minimum), the
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

from rexbench.benchmark.capability_board import curve_array, optimal_val_loss, summarize_curves
from rexbench.benchmark.curves import EPS
from rexbench.benchmark.figures import capability_png
from rexbench.benchmark.fileio import atomic_write_bytes
from rexbench.benchmark.results import load_result


def flat_window(mean_excess: np.ndarray, eps: float) -> np.ndarray:
    """Indices of every validation point whose mean excess val loss is within ``eps`` of the
    run's minimum: the checkpoints the loss cannot tell apart at that tolerance."""
    return np.flatnonzero(mean_excess <= mean_excess.min() + eps)


def step_to_step(head_SC: np.ndarray, inside: np.ndarray) -> float:
    """Mean |headline change| between consecutive curve points that are both ``inside``
    (a boolean mask over the curve's points), over seeds: how much one checkpoint's headline
    differs from its neighbour's (50 steps away on an unthinned curve)."""
    pairs = [j for j in range(head_SC.shape[1] - 1) if inside[j] and inside[j + 1]]
    if not pairs:
        return float("nan")
    return float(np.mean([np.abs(head_SC[:, j + 1] - head_SC[:, j]).mean() for j in pairs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--figures", type=Path, default=None, help="where to write the PNGs (default: STORE/figures)")
    parser.add_argument("--eps", type=float, default=EPS, help=f"plateau tolerance, nats/token (default {EPS})")
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
        for model, results in sorted(by_model.items()):
            optimal = optimal_val_loss(results[0])
            summary = summarize_curves(results, optimal, args.eps)
            steps = np.array([st for st, _ in results[0]["training"]["val_curve"]])
            mean_ex = np.array([[v - optimal for _, v in r["training"]["val_curve"]] for r in results]).mean(axis=0)
            window = flat_window(mean_ex, args.eps)
            c_steps, head = curve_array(results)
            inside = np.isin(c_steps, steps[window])  # the curve's points inside the flat window
            in_range = f"{summary.flat_lo:.3f}–{summary.flat_hi:.3f}" if summary.flat_points else "—"
            print(f"| {task_name} | {model} | {len(results)} | {summary.steps} | {summary.plateau_step} | "
                  f"{summary.min_excess:.4f}, {summary.excess_at_plateau:.4f} → {summary.excess_at_end:.4f} | "
                  f"{summary.at_plateau:.3f} (step {summary.plateau_point}) → {summary.at_end:.3f} | "
                  f"{steps[window[0]]}–{steps[window[-1]]} "
                  f"({window.size} points) | {in_range} | {step_to_step(head, inside):.3f} | "
                  f"{', '.join(map(str, summary.selected_steps))} | {summary.at_selected:.3f} | "
                  f"{summary.max_history:.3f} |")
        figures.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(figures / f"{task_name}__capability.png", capability_png(task_name, by_model))


if __name__ == "__main__":
    main()
