"""Capability over training: what each trained row's headline did after its loss levelled off.

Every result the grid writes carries its capability curve (``training.capability_curve``:
the headline family of the seed's *current* parameters at validation steps, checked
against the scored counts by :func:`rexbench.benchmark.results.load_result`). A curve may
be thinned (every ``capability_curve_every``-th validation step and the last), so every
quantity below is read at the curve's own steps, while the loss side uses every
validation point of ``val_curve``.

Per row (the seeds of one (task, model)), with ``excess`` = val loss minus the exact
distribution's loss on the same ``val`` words, averaged over seeds:

* the **plateau step**: the first validation step whose mean excess is within ``EPS``
  (0.001 nats/token) of the run's minimum (:func:`rexbench.benchmark.curves.plateau_step`,
  which the budget rule uses too);
* the mean headline at the first curve point at or after the plateau, and at the last;
* the **range where the loss is flat**: min and max of the mean headline over the curve
  points whose mean excess is within ``EPS`` of the minimum (the *flat window*: checkpoints
  the loss cannot tell apart; a curve that overfits later leaves it);
* the headline at the selected checkpoints (min ``val_loss``, the benchmark's rule) and the
  mean over seeds of each seed's maximum over its history -- the curve's points and the
  scored checkpoint, which a thinned curve may not hold (the anchors' rule: a diagnostic of
  what selection on the OOD prompts alone would report, never a score).

Worked example: two seeds validated at steps 0, 50, 100, 150 with mean excess
``[0.4, 0.0015, 0.0004, 0.0002]`` have their plateau at step 100 (0.0004 <= 0.0002 +
0.001; 0.0015 is not). With curves at steps 50, 150 only, headline ``[0.2, 0.6]`` and
``[0.4, 0.2]``, the point "at the plateau" is step 150 (the first at or after 100): mean
0.4, which is also the end; the flat window is steps 100 and 150 (both within 0.001 of
0.0002), of which the curve holds 150, so the range is 0.4-0.4; with scored headlines 0.6
(at step 150) and 0.3 (at step 100, not on the curve) the max over history is
(max(0.2, 0.6, 0.6) + max(0.4, 0.2, 0.3)) / 2 = 0.5.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from rexbench.benchmark.curves import EPS, plateau_step

HEADLINE = "ood_rule_extrapolation"
GIVEN_FINISHED = "ood_rule_given_finished"


@dataclass(frozen=True)
class CurveSummary:
    seeds: int
    steps: int  # the run's last step
    plateau_step: int
    min_excess: float
    excess_at_plateau: float
    excess_at_end: float
    plateau_point: int  # the first curve step at or after the plateau
    at_plateau: float  # mean headline there
    at_end: float
    flat_lo: float  # min / max of the mean headline over the curve points in the flat window
    flat_hi: float
    flat_points: int
    selected_steps: tuple[int, ...]
    at_selected: float  # mean headline of the scored checkpoints
    max_history: float  # mean over seeds of each seed's max headline over its curve and scored checkpoint
    max_history_given_finished: float  # the same for ood_rule_given_finished (the anchors' aggregation)


def has_curves(results: list[dict[str, Any]]) -> bool:
    return bool(results) and all("capability_curve" in (r.get("training") or {}) for r in results)


def curve_array(results: list[dict[str, Any]], metric: str = HEADLINE) -> tuple[np.ndarray, np.ndarray]:
    """(curve steps [C], values [S, C]) of ``metric``; the seeds of one row share their steps
    (they were trained together), which is checked."""
    steps = [[int(s) for s, _ in r["training"]["capability_curve"]] for r in results]
    if any(s != steps[0] for s in steps):
        raise ValueError("the seeds of one row have capability curves at different steps")
    values = [[c[metric][0] / c[metric][1] if c[metric][1] else 0.0 for _, c in r["training"]["capability_curve"]]
              for r in results]
    return np.array(steps[0]), np.array(values, dtype=np.float64)


def summarize_curves(results: list[dict[str, Any]], optimal_val: float, eps: float = EPS) -> CurveSummary:
    """The quantities of the module docstring for one row's results (all with curves)."""
    val_steps = np.array([int(s) for s, _ in results[0]["training"]["val_curve"]])
    if any([int(s) for s, _ in r["training"]["val_curve"]] != val_steps.tolist() for r in results):
        raise ValueError("the seeds of one row have val curves at different steps")
    excess = np.array([[v - optimal_val for _, v in r["training"]["val_curve"]] for r in results]).mean(axis=0)
    plateau = plateau_step(val_steps.tolist(), excess.tolist(), eps)
    c_steps, head = curve_array(results)
    _, given = curve_array(results, GIVEN_FINISHED)
    mean_head = head.mean(axis=0)
    after = np.flatnonzero(c_steps >= plateau)  # never empty: the curve ends at the last validation step
    flat = np.isin(c_steps, val_steps[excess <= excess.min() + eps])
    if not flat.any():  # a thinned curve may hold no point of a short flat window: say nothing
        flat_lo = flat_hi = float("nan")
    else:
        flat_lo, flat_hi = float(mean_head[flat].min()), float(mean_head[flat].max())

    def best_ever(values_SC: np.ndarray, metric: str) -> float:
        # a ratio with no denominator (no finished completion: rule given finished is None) counts 0, as on the curve
        scored = np.array([float(r["metrics"][metric] or 0.0) for r in results])
        return float(np.maximum(values_SC.max(axis=1), scored).mean())

    return CurveSummary(
        seeds=len(results), steps=int(val_steps[-1]), plateau_step=plateau, min_excess=float(excess.min()),
        excess_at_plateau=float(excess[int(np.flatnonzero(val_steps == plateau)[0])]), excess_at_end=float(excess[-1]),
        plateau_point=int(c_steps[after[0]]), at_plateau=float(mean_head[after[0]]), at_end=float(mean_head[-1]),
        flat_lo=flat_lo, flat_hi=flat_hi, flat_points=int(flat.sum()),
        selected_steps=tuple(int(r["training"]["best_step"]) for r in results),
        at_selected=float(np.mean([r["metrics"][HEADLINE] for r in results])),
        max_history=best_ever(head, HEADLINE), max_history_given_finished=best_ever(given, GIVEN_FINISHED))


def _range(s: CurveSummary) -> str:
    return "— (0)" if s.flat_points == 0 else f"{s.flat_lo:.3f}–{s.flat_hi:.3f} ({s.flat_points})"


def capability_table(rows: list[tuple[str, CurveSummary]]) -> list[str]:
    """Markdown table, one line per (label, summary)."""
    lines = ["| model | seeds | steps | plateau step | excess val at plateau → end | headline at plateau → end | "
             "range where the loss is flat (curve points) | headline at min val_loss (scored) | "
             "max over history (diagnostic) |",
             "|---|--:|--:|--:|---|---|---|--:|--:|"]
    for label, s in rows:
        lines.append(f"| {label} | {s.seeds} | {s.steps:,} | {s.plateau_step:,} | "
                     f"{s.excess_at_plateau:.4f} → {s.excess_at_end:.4f} | "
                     f"{s.at_plateau:.3f} (step {s.plateau_point:,}) → {s.at_end:.3f} | "
                     f"{_range(s)} | {s.at_selected:.3f} | "
                     f"{s.max_history:.3f} |")
    return lines


def optimal_val_loss(result: dict[str, Any]) -> float:
    """The exact distribution's loss (nats/token) on the ``val`` split of the result's task
    at its size: what ``training.val_curve`` is read against."""
    config = result["task_config"]
    return _optimal_val_loss(config["name"], config["size"])


@functools.lru_cache(maxsize=None)
def _optimal_val_loss(name: str, size: int) -> float:
    # one exact pass over the val split per (task, size): the leaderboard asks for it per
    # row, in the markdown, the page, the anchors' section and the figure
    from rexbench.tasks import get_split, get_task

    task = get_task(name, size)
    s, c = task.nll_sum_count(get_split(task, "val").words)
    return s / c


def curve_rows(rows: list[Any]) -> list[Any]:
    """The leaderboard rows (:class:`rexbench.benchmark.leaderboard.Row`) whose every seed has a curve."""
    return [row for row in rows if has_curves(row.results)]


def capability_section(rows: list[Any], figure: str | None = None) -> list[str]:
    """The task section's "capability over training" part (empty when no row has curves)."""
    with_curves = curve_rows(rows)
    if not with_curves:
        return []
    lines = [
        "Capability over training (each seed's current parameters at its capability curve's points; the "
        "columns are defined under \"How to read it\" above):",
        "",
        *capability_table([(row.label, summarize_curves(row.results, optimal_val_loss(row.results[0])))
                           for row in with_curves]),
    ]
    if figure:
        lines += ["", f"![capability over training on {rows[0].results[0]['task']}]({figure})"]
    return lines


# The rule-extrapolation code's own numbers (issue #13): OOD R1, mean over its runs, read
# from its per-run logs as its notebooks aggregate them -- R1 among *finished* completions,
# maximised over the whole validation history (up to 50,000 epochs); its aⁿbⁿ is N = 128
# trained on all 128 words. Task names are rexbench's (bⁿa²ᵐ is `bban`).
ANCHORS_R1: dict[str, dict[str, float]] = {
    "anbn": {"transformer": 0.657, "lstm": 0.376, "mamba": 0.296, "xlstm": 0.438},
    "anbncn": {"transformer": 0.187, "lstm": 0.068, "mamba": 0.099, "xlstm": 0.116},
    "bban": {"transformer": 0.105, "lstm": 1.000, "mamba": 0.973, "xlstm": 1.000},
    "dyck": {"transformer": 0.980, "lstm": 0.543, "mamba": 0.644, "xlstm": 0.689},
}


def anchors_section(grouped: dict[str, list[Any]]) -> list[str]:
    """The anchors' table next to the same aggregation of rexbench's rows (from their
    capability curves) and rexbench's own headline; [] when no anchored row has curves."""
    lines = []
    for task, by_model in ANCHORS_R1.items():
        rows = {row.model: row for row in grouped.get(task, []) if has_curves(row.results)}
        for model, anchor in by_model.items():
            row = rows.get(model)
            if row is None:
                lines.append(f"| {task} | {model} | {anchor:.3f} | not run with curves | — | — |")
                continue
            s = summarize_curves(row.results, optimal_val_loss(row.results[0]))
            lines.append(f"| {task} | {model} | {anchor:.3f} | {s.max_history_given_finished:.3f} | "
                         f"{s.at_selected:.3f} | {s.steps:,} |")
    if all("not run with curves" in line for line in lines):
        return []
    return [
        "## Against the rule-extrapolation code's published numbers",
        "",
        "The anchors' number is OOD R1 as their notebooks aggregate it: the rule among *finished* completions, "
        "maximised over the whole validation history (up to 50,000 epochs; their aⁿbⁿ is N = 128 trained on all "
        "128 words). The next column applies that aggregation to rexbench's rows as far as their curves allow "
        "(each seed's maximum of `ood_rule_given_finished` over its curve's points and its scored checkpoint, "
        "mean over seeds: at most 13 evaluations, not every validation); the last is rexbench's headline at "
        "the checkpoint of lowest `val_loss`. What moves the gap on anbn: the ablation section and docs/ABLATION.md.",
        "",
        "| task | model | anchors (R1 given finished, max over history) | rexbench, same aggregation | "
        "rexbench headline (min val_loss) | rexbench steps |",
        "|---|---|--:|--:|--:|--:|",
        *lines,
    ]


READING = (
    "**Capability over training.** A trained row whose results carry capability curves (every row of "
    "`rexbench reproduce`) also gets a table and a figure of its headline over training, read from each seed's "
    "*current* parameters at the curve's validation points (`rexbench.benchmark.capability_board`). The "
    f"*plateau step* is where the mean excess val loss first comes within {EPS} nats/token of its minimum; the "
    "*flat window* is every validation point within that of the minimum, where the loss no longer tells "
    "checkpoints apart, and the range there says how far the headline still moves while the loss cannot. The "
    "*max over history* picks each seed's best point (of its curve and its scored checkpoint) *by its OOD "
    "score*, as the rule-extrapolation code's notebooks do: a diagnostic of what selection alone can report, "
    "never a score."
)
