"""Capability-over-training curves in a result file: their format and their check.

Training (``rexbench.baselines.capability_curve``) may store, next to the val curve,
``training.capability_curve = [[step, {metric: [successes, count], ...}], ...]``: the
headline family of the seed's *current* parameters at validation points (every one, or
every ``training.capability_curve_every``-th and the last). The curve
is a diagnostic (nothing is ranked by it), but a figure is drawn from it, so the
leaderboard checks it like every other number: see :func:`check_capability_curve`.
"""

from __future__ import annotations

import math
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


def expected_val_steps(every: int, last: int) -> list[int]:
    """The validation steps of a ``last``-step run validated every ``every`` steps: every
    multiple of ``every`` and the last step (``expected_val_steps(50, 120) == [50, 100, 120]``)."""
    return list(range(every, last + 1, every)) + ([last] if last % every else [])


def check_val_curve(result: dict[str, Any]) -> None:
    """Checks ``result["training"]["val_curve"]`` when present: ``[[step, loss], ...]`` at
    exactly :func:`expected_val_steps` of ``training.eval_every`` and ``manifest.train_steps``,
    finite losses, and ``training.best_step`` a step of it whose loss is the curve's minimum
    (the min-``val_loss`` rule; the curve is what every loss-over-training number is read from)."""
    training = result.get("training")
    if not isinstance(training, dict) or "val_curve" not in training:
        return
    curve, every, last = training["val_curve"], training.get("eval_every"), result.get("manifest", {}).get("train_steps")
    if type(every) is not int or every < 1 or type(last) is not int or last < 1:
        raise ResultError("training: eval_every and manifest.train_steps must be positive integers")
    if not (isinstance(curve, list) and all(isinstance(p, list) and len(p) == 2 and type(p[0]) is int
                                            and isinstance(p[1], (int, float)) and math.isfinite(p[1]) for p in curve)):
        raise ResultError("training.val_curve must be [[step, finite loss], ...]")
    steps, losses = [p[0] for p in curve], [float(p[1]) for p in curve]
    if steps != expected_val_steps(every, last):
        raise ResultError(f"training.val_curve: its steps are not every {every}th of {last} and the last")
    best = training.get("best_step")
    if best not in steps or losses[steps.index(best)] != min(losses):
        raise ResultError(f"training.best_step {best!r} is not a step of the val curve with its lowest loss")


def check_capability_curve(result: dict[str, Any]) -> None:
    """Checks ``result["training"]["capability_curve"]`` when present: its steps are exactly
    the val curve's (or, with ``training.capability_curve_every``, its steps that are
    multiples of that, and the last), each point is well-formed counts obeying headline =
    finished x rule-given-finished, and the point at ``best_step``, where there is one, equals
    the result's own counts. (:func:`check_val_curve` runs first.)"""
    training = result.get("training")
    if not isinstance(training, dict) or "capability_curve" not in training:
        return
    curve = training["capability_curve"]
    val_steps = [p[0] for p in training.get("val_curve", [])]
    every = training.get("capability_curve_every")
    if every is not None and (type(every) is not int or every < 1 or every % training.get("eval_every", 0)):
        raise ResultError("training.capability_curve_every must be a positive multiple of eval_every")
    want = val_steps if every is None else [s for s in val_steps if s % every == 0 or s == val_steps[-1]]
    steps = [p[0] if isinstance(p, list) and p else None for p in curve] if isinstance(curve, list) else None
    if not steps or not val_steps or steps != want or any(not (isinstance(p, list) and len(p) == 2) for p in curve):
        raise ResultError("training.capability_curve: its steps are not "
                          + ("the val curve's" if every is None else f"the validation steps that are multiples of {every} "
                             "and the last"))
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
