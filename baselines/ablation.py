"""The aⁿbⁿ ablation (issue #13): from rexbench's setting towards the anchors', one factor at a time.

rexbench's Transformer on ``anbn`` and the rule-extrapolation code's differ in several
ways at once (architecture, N and data, dropout, optimiser, budget, checkpoint rule). Each
:class:`Factor` below is rexbench's setting with exactly one of them moved to the anchors'
value; :data:`FACTORS` trains each on :data:`SEEDS` (with capability curves) into its own
store ``OUT/<factor name>/``, and the leaderboard's ablation section
(:mod:`rexbench.benchmark.ablation_board`) compares every factor with the ``rexbench`` row.
Checkpoint selection is not a factor of its own: every row is scored at its checkpoint of
lowest ``val_loss`` (the benchmark's rule), and its capability curve also gives the last
checkpoint and the maximum over the history (the anchors' rule, a diagnostic only).

    rexbench reproduce --ablation --out results/ablation          # the factors that fit a 2-core CPU
    rexbench reproduce --ablation --full --out results/ablation   # also the anchors' whole setting

Worked example: the ``data`` factor is ``rexbench train --model transformer-l1024 --task
anbn:128 --train-set support --seeds 0-4 --steps 300 --capability-curve``: the suite's
Transformer (with a 1,024-row position table, since at N = 128 the harness feeds rows of
up to 592 tokens), trained on the 128 words of aⁿbⁿ at N = 128 -- every batch of 128 is
the whole set, in a fresh order -- and scored by the harness on anbn(N=128)'s splits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rexbench.baselines.recipe import CHECKPOINT_RULE, DEFAULT, RULEX, Recipe

TASK = "anbn"
SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
BASE_STEPS = 300  # recipe.STEPS["anbn"]: the grid's budget


@dataclass(frozen=True)
class Factor:
    """One run of the ablation: rexbench's setting with ``changes`` applied."""

    name: str  # its store directory
    changes: str  # what moved towards the anchors, in words
    model: str = "transformer"
    size: int | None = None  # the task's N (None: the suite's, 32)
    train_set: str = "sampled"
    recipe: Recipe = DEFAULT
    steps: int = BASE_STEPS
    full_only: bool = False  # too slow for the 2-core CPU; run with --full


FACTORS: tuple[Factor, ...] = (
    Factor("rexbench", "none: the suite's Transformer, N = 32 (10,000 sampled words), lr 0.003, 300 steps"),
    Factor("dropout", "dropout 0.1 at nn.TransformerEncoderLayer's sites", model="transformer-dropout"),
    Factor("optimizer", "peak learning rate 0.002 (the anchors'), same warm-up and inverse-sqrt decay", recipe=RULEX),
    Factor("architecture", "the anchors' Transformer (d 10, 5 heads, MLP 1024, 7 layers, post-LN, sinusoidal), "
           "without its dropout", model="transformer-rulex-nodropout"),
    Factor("data", "N = 128 trained on its 128 words (the position table grown to 1,024 rows to fit)",
           model="transformer-l1024", size=128, train_set="support"),
    Factor("budget", "3,000 steps (10x)", steps=3000),
    Factor("anchors", "all of them: transformer-rulex (with dropout), N = 128 on its 128 words, lr 0.002, "
           "3,000 steps", model="transformer-rulex", size=128, train_set="support", recipe=RULEX, steps=3000,
           full_only=True),
)
FACTOR_NAMES: tuple[str, ...] = tuple(f.name for f in FACTORS)


def factors(full: bool = False) -> list[Factor]:
    return [f for f in FACTORS if full or not f.full_only]


def existing(out: str | os.PathLike[str], factor: Factor, seed: int) -> tuple[bool, str]:
    """(is ``factor``'s result for ``seed`` already in ``out/<factor>/`` and this plan's?, why not)."""
    from rexbench.baselines.reproduce import load_existing
    from rexbench.benchmark.results import result_filename
    from rexbench.tasks import get_task

    result, why = load_existing(Path(out) / factor.name / result_filename(TASK, factor.model, seed))
    if result is None:
        return False, why
    training = result.get("training", {})
    expected = {
        "model": (result["model"], factor.model),
        "N": (result["task_config"]["size"], get_task(TASK, factor.size).size),
        "train_steps": (result["manifest"]["train_steps"], factor.steps),
        "checkpoint rule": (result["checkpoint_rule"], CHECKPOINT_RULE),
        "training set": (training.get("train_set", "sampled"), factor.train_set),
        "recipe": (training.get("recipe"), factor.recipe.as_dict()),
        "capability curve": ("capability_curve" in training, True),
    }
    for what, (got, want) in expected.items():
        if got != want:
            return False, f"{what} is {got!r}, the plan's is {want!r}"
    return True, "done"


def estimate_seconds(factor: Factor, seeds: Sequence[int]) -> float:
    """Rough wall time on the 2-core reference CPU: training per seed-step as measured by
    each factor's store (compile and capability curves included; docs/ABLATION.md), plus
    scoring per seed. ``transformer-rulex`` is an estimate (``architecture``'s 0.44 s at
    4x the row length, with dropout), not a measurement."""
    per_seed_step = {"transformer": 0.07, "transformer-dropout": 0.17, "transformer-l1024": 0.53,
                     "transformer-rulex-nodropout": 0.44, "transformer-rulex": 3.0}[factor.model]
    return len(seeds) * (factor.steps * per_seed_step + (60.0 if factor.size else 20.0))


def run_ablation(out: str | os.PathLike[str], *, full: bool = False, seeds: Sequence[int] = SEEDS,
                 only: Sequence[str] | None = None, progress: bool = True, save_checkpoints: bool = False,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Trains and scores every factor's seeds not already in ``out`` (resumable, like the grid).

    A seed the harness refuses gets no result file; like the grid, the ablation goes on with
    the other seeds and factors and lists every refusal in ``summary["refused"]``."""
    from rexbench.baselines.reproduce import train_and_score
    from rexbench.benchmark.errors import ModelRefused

    summary: dict[str, Any] = {"trained": [], "skipped": [], "refused": []}
    plan = [f for f in factors(full) if only is None or f.name in only]
    for factor in plan:
        status = {seed: existing(out, factor, seed) for seed in seeds}
        todo = [seed for seed, (ok, _) in status.items() if not ok]
        for seed, (ok, why) in status.items():
            if not ok and why != "missing":
                log(f"ablation {factor.name} seed {seed}: redoing, existing result {why}")
        if not todo:
            log(f"ablation {factor.name}: all {len(seeds)} seeds done, skipped")
            summary["skipped"].append(factor.name)
            continue
        log(f"ablation {factor.name} ({factor.changes}): seeds {todo}, about "
            f"{estimate_seconds(factor, todo) / 60:.0f} min")
        try:
            train_and_score(factor.model, TASK, todo, Path(out) / factor.name, steps=factor.steps,
                            recipe=factor.recipe, size=factor.size, train_set=factor.train_set,
                            capability_curve=True, save_checkpoints=save_checkpoints, progress=progress, log=log)
        except ModelRefused as err:  # the other factors still run; the caller reports every refusal
            summary["refused"].append(f"ablation {factor.name}: {err.reason}")
        summary["trained"].append(factor.name)
    return summary
