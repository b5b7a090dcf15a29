"""Capability-over-training curves in a result file: their format and their check.

Training (``rexbench.baselines.capability_curve``) may store, next to the val curve,
``training.capability_curve = [[step, {metric: [successes, count], ...}], ...]``: the
headline family of the seed's *current* parameters at validation points (every one, or
every ``training.capability_curve_every``-th and the last). The curve
is a diagnostic (nothing is ranked by it), but a figure is drawn from it, so the
leaderboard checks it like every other number: see :func:`check_capability_curve`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rexbench.benchmark.errors import ResultError

CURVE_METRICS: tuple[str, ...] = ("ood_rule_extrapolation", "ood_finished", "ood_rule_given_finished", "ood_stop_rule")

EPS = 1e-3  # nats/token: the "levelled off" tolerance of plateau_step


def plateau_step(steps: Sequence[int], excess: Sequence[float], eps: float = EPS) -> int:
    """Where a loss curve has levelled off: the first step whose excess is within ``eps`` of
    the curve's minimum (a curve that later rises keeps its first arrival). The budget rule
    (:mod:`rexbench.baselines.budgets`) and the leaderboard's capability section
    (:mod:`rexbench.benchmark.capability_board`) share this one definition."""
    if len(steps) != len(excess) or not steps:
        raise ValueError(f"a curve needs as many steps as values, and at least one (got {len(steps)}, {len(excess)})")
    floor = min(excess) + eps
    return int(next(s for s, e in zip(steps, excess, strict=True) if e <= floor))


def check_capability_curve(result: dict[str, Any]) -> None:
    """Checks ``result["training"]["capability_curve"]`` when present: its steps are
    validation steps of the val curve (all of them, or every ``curve_every``-th and the
    last), ascending, each point is well-formed counts obeying headline = finished x
    rule-given-finished, and the point at ``best_step``, where there is one, equals the
    result's own counts."""
    training = result.get("training")
    if not isinstance(training, dict) or "capability_curve" not in training:
        return
    curve = training["capability_curve"]
    val_steps = [p[0] for p in training.get("val_curve", [])]
    steps = [p[0] if isinstance(p, list) and p else None for p in curve] if isinstance(curve, list) else None
    if not steps or not val_steps or steps[-1] != val_steps[-1] or any(s not in val_steps for s in steps) \
            or any(a >= b for a, b in zip(steps, steps[1:])):
        raise ResultError("training.capability_curve: its steps are not ascending validation steps ending at the last")
    for step, counts in curve:
        if not isinstance(counts, dict) or set(counts) != set(CURVE_METRICS):
            raise ResultError(f"training.capability_curve at step {step}: needs exactly {', '.join(CURVE_METRICS)}")
        for k, pair in counts.items():
            if not (isinstance(pair, list) and len(pair) == 2 and all(type(x) is int for x in pair)
                    and 0 <= pair[0] <= pair[1]):
                raise ResultError(f"training.capability_curve at step {step}: {k} must be [successes, count]")
        keep, fin, given = counts["ood_rule_extrapolation"], counts["ood_finished"], counts["ood_rule_given_finished"]
        if keep[0] != given[0] or given[1] != fin[0] or keep[1] != fin[1]:
            raise ResultError(f"training.capability_curve at step {step}: headline != finished x rule_given_finished")
    at_best = dict(curve).get(training.get("best_step"))
    if at_best is not None:
        stored = result.get("counts", {})
        for k in CURVE_METRICS:
            want = stored.get(k, {})
            if [want.get("successes"), want.get("count")] != at_best[k]:
                raise ResultError(f"training.capability_curve at the selected step {training['best_step']}: {k} is "
                                 f"{at_best[k]}, the result's own counts are {[want.get('successes'), want.get('count')]}")
