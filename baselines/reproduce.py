"""Train -> select -> score -> write, for one run and for the whole grid (resumable).

:func:`train_and_score` is what ``rexbench train`` does: train every requested seed of one
(model, task, regime) together (:func:`rexbench.baselines.train.train`), take each seed's
checkpoint of lowest ``val_loss``, save it (:mod:`rexbench.baselines.checkpoint`), score it with
the harness (:func:`rexbench.benchmark.score.score_model`) and write its result file atomically
(:func:`rexbench.benchmark.results.write_result`) -- only after the run has completed.

:func:`reproduce` first scores the reference rows (:func:`score_references`: the oracles,
the trivial policies and the uniform model on every task of the grid, for every seed),
then runs a grid of such runs (:func:`full_grid`: the 6 tasks x the default grid's 3
baselines x seeds 0-4 at capped budgets, or with ``full`` x all 5 baselines at their rule
budgets, plus the ``oracle`` and ``adversarial`` regimes of the Transformer on ``anbn``;
:func:`quick_grid` for ``--quick``). Before each run it loads the result file
of every seed (:func:`rexbench.benchmark.results.load_result`: schema, suite version, split
digests) and checks that it is this run's (model name, ``train_steps`` = the planned
budget, ``checkpoint_rule``); seeds whose file passes are skipped, the others are trained
together. An interrupted grid therefore resumes where it stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rexbench.baselines.hosts import Hosts
from rexbench.baselines.recipe import BUDGETS, CHECKPOINT_RULE, DEFAULT, Recipe, grid_steps
from rexbench.baselines.regimes import result_model_name

DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
BASELINES: tuple[str, ...] = ("transformer", "lstm", "linear", "mamba", "xlstm")
# The default grid's baselines (`rexbench reproduce`): the ones whose capped grid fits the
# 2-hour target on the 2-core reference CPU. Mamba and xLSTM cost 2.6-3.0x the
# Transformer's seed-step there (SECONDS_PER_SEED_STEP), so with them even the capped grid
# takes ~3.5 hours; they train in the full grid (`rexbench reproduce --full`) at their rule
# budgets (docs/RECIPE.md, "The grid and its time budget").
DEFAULT_GRID_BASELINES: tuple[str, ...] = ("transformer", "lstm", "linear")
TASK_ORDER: tuple[str, ...] = ("anbn", "anbncn", "ban", "bban", "dyck", "csdyck")

# --quick: every baseline on anbn, 2 seeds, short budgets (see docs/RECIPE.md for the
# measured wall time); enough to exercise the whole pipeline and see the loss fall.
QUICK_TASKS: tuple[str, ...] = ("anbn",)
QUICK_SEEDS: tuple[int, ...] = (0, 1)
QUICK_STEPS: dict[str, int] = {"transformer": 200, "lstm": 200, "linear": 200, "mamba": 150, "xlstm": 100}


# Measured on the 2-core reference CPU (an Intel Xeon with AVX-512; docs/RECIPE.md): seconds
# per seed-step of training, packed where the model supports it, validation every 50
# steps included (`python scripts/bench_grid_step.py --models transformer lstm linear mamba
# xlstm`, 5 seeds x 100 steps on anbn, idle, 2026-12-07); seconds to score one trained seed on
# anbn (tasks with thousands of OOD prompts, dyck and csdyck, score ~1.5x slower) and
# seconds per seed and point of the capability curve on anbn (CURVE_TASK_FACTOR elsewhere):
# these two are the 2-core AMD EPYC's measurements times 2, the Intel/AMD ratio of the
# training steps (the grid's log prints the measured ones). Used only for the time
# estimate that `rexbench reproduce` prints and for splitting a grid over hosts.
SECONDS_PER_SEED_STEP: dict[str, float] = {"transformer": 0.0747, "lstm": 0.0650, "linear": 0.0031,
                                           "mamba": 0.1907, "xlstm": 0.2215}
SCORE_SECONDS_PER_SEED: dict[str, float] = {"transformer": 10.0, "lstm": 2.4, "linear": 1.8, "mamba": 6.0,
                                            "xlstm": 8.0}
SCORE_TASK_FACTOR: dict[str, float] = {"dyck": 1.5, "csdyck": 1.5}
CURVE_SECONDS_PER_SEED_POINT: dict[str, float] = {"transformer": 0.5, "lstm": 0.3, "linear": 0.3, "mamba": 0.6,
                                                  "xlstm": 0.8}
CURVE_TASK_FACTOR: dict[str, float] = {"dyck": 11.0, "csdyck": 11.0}
RUN_OVERHEAD_SECONDS = 2.0  # per run: process-side work outside the timed training and scoring


@dataclass(frozen=True)
class GridRun:
    """One (task, model, regime) of the grid; ``steps`` None = the grid's steps for it
    (:func:`rexbench.baselines.recipe.grid_steps`: the budget, capped unless ``full``)."""

    task: str
    model: str
    regime: str = "standard"
    steps: int | None = None
    full: bool = False

    @property
    def result_model(self) -> str:
        return result_model_name(self.model, self.regime)

    @property
    def planned_steps(self) -> int:
        return grid_steps(self.task, self.model, full=self.full) if self.steps is None else self.steps

    def label(self) -> str:
        return f"{self.result_model} on {self.task} ({self.planned_steps} steps)"


def full_grid(full: bool = False) -> list[GridRun]:
    """Model-major, fastest-to-publish first: every task of a baseline completes its
    leaderboard row before the next baseline starts; the regimes follow the Transformer.
    Default: :data:`DEFAULT_GRID_BASELINES` at budgets capped at ``STEPS[task]``; ``full``:
    all :data:`BASELINES` at their rule budgets (:data:`rexbench.baselines.recipe.BUDGETS`), uncapped."""
    models = BASELINES if full else DEFAULT_GRID_BASELINES
    runs = [GridRun(task, "transformer", full=full) for task in TASK_ORDER]
    runs += [GridRun("anbn", "transformer", regime, full=full) for regime in ("oracle", "adversarial")]
    runs += [GridRun(task, model, full=full) for model in models if model != "transformer" for task in TASK_ORDER]
    return runs


# The in-context-learning part (docs/ICL.md), run alone with `rexbench reproduce --icl`:
# the Transformer and the LSTM on the two arms and the control, and the Transformer's anti-ICL regime on arm B (where
# it can move the loss, by at most the bound of tasks/icl_bound.py) and on arm A (where it
# cannot). Budgets: recipe.STEPS (provisional, measured in docs/ICL.md).
ICL_TASKS: tuple[str, ...] = ("icl-single", "icl-rare", "icl-heavy")


def icl_grid() -> list[GridRun]:
    runs = [GridRun(task, model) for model in ("transformer", "lstm") for task in ICL_TASKS]
    return runs + [GridRun(task, "transformer", "anti-icl") for task in ("icl-rare", "icl-single")]


def quick_grid() -> list[GridRun]:
    runs = [GridRun(task, model, steps=QUICK_STEPS[model]) for task in QUICK_TASKS for model in BASELINES]
    runs += [GridRun("anbn", "transformer", regime, steps=QUICK_STEPS["transformer"]) for regime in ("oracle", "adversarial")]
    return runs


def select_grid(grid: Sequence[GridRun], models: Sequence[str] | None = None, tasks: Sequence[str] | None = None,
                steps: int | None = None) -> list[GridRun]:
    """The runs of ``grid`` of ``models`` on ``tasks`` (None: all), each for ``steps`` if given."""
    from dataclasses import replace

    return [run if steps is None else replace(run, steps=steps) for run in grid
            if (models is None or run.model in models) and (tasks is None or run.task in tasks)]


def estimate_seconds(grid: Sequence[GridRun], seeds: Sequence[int], curve: bool = False, from_step: int = 0) -> float:
    """Rough wall time of ``grid`` x ``seeds`` on the reference CPU (see the constants above),
    with the capability curves' points (:func:`curve_points`) if ``curve``; ``from_step``:
    training resumes there (a snapshot), so only the rest of the steps and curve points count."""
    total = 0.0
    for run in grid:
        n = len(seeds)
        left = max(0.0, 1 - from_step / run.planned_steps)
        extra = 1.1 if run.regime != "standard" else 1.0  # the regime batch
        total += n * run.planned_steps * left * SECONDS_PER_SEED_STEP.get(run.model, 0.3) * extra
        total += n * SCORE_SECONDS_PER_SEED.get(run.model, 10.0) * SCORE_TASK_FACTOR.get(run.task, 1.0)
        if curve:
            total += (n * curve_points(run.planned_steps) * left * CURVE_SECONDS_PER_SEED_POINT.get(run.model, 1.0)
                      * CURVE_TASK_FACTOR.get(run.task, 1.0))
        total += RUN_OVERHEAD_SECONDS
    return total


def curve_points(steps: int, eval_every: int = DEFAULT.eval_every) -> int:
    """How many capability-curve points the grid records on a ``steps``-step run: the
    validation steps that are multiples of :func:`~rexbench.baselines.capability_curve.curve_every`,
    and the last (``curve_points(300) == 6``, ``curve_points(1400) == 10``)."""
    from rexbench.baselines.capability_curve import curve_every

    every = curve_every(steps, eval_every)
    return steps // every + (steps % every != 0)


# --------------------------------------------------------------------------- one run
def checkpoint_dir(out: str | os.PathLike[str], task: str, result_model: str, seed: int) -> Path:
    from rexbench.baselines.checkpoint import checkpoint_dirname

    return Path(out) / "checkpoints" / checkpoint_dirname(task, result_model, seed)


def snapshot_dir(out: str | os.PathLike[str], task: str, result_model: str) -> Path:
    """Where a run's training snapshot lives until its results are written
    (:mod:`rexbench.baselines.snapshot`; under ``checkpoints/``, which is not published)."""
    return Path(out) / "checkpoints" / f"{task}__{result_model}__training"


def train_and_score(
    model: str,
    task: str,
    seeds: Sequence[int],
    out: str | os.PathLike[str],
    *,
    steps: int | None = None,
    regime: str = "standard",
    recipe: Recipe = DEFAULT,
    save_checkpoints: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = print,
    capability_curve: bool = False,
    devices: int | None = None,
    size: int | None = None,
    hyper: dict[str, Any] | None = None,
    train_set: str = "sampled",
    curve_every: int | None = None,
) -> list[dict[str, Any]]:
    """Trains ``seeds`` together (over ``devices`` local devices, None = all; a seed's
    numbers do not depend on it), then scores and writes one result per seed; returns them.
    A seed the harness refuses gets no result, the others still do, and then
    :class:`~rexbench.benchmark.errors.ModelRefused` names every refused seed.
    ``capability_curve``: also store the headline family at every validation point
    (``training.capability_curve``; :mod:`rexbench.baselines.capability_curve`), or with
    ``curve_every`` at every ``curve_every``-th step and the last. ``size``: the
    task's size parameter (None: the suite's); ``hyper``: model hyperparameters over the
    name's own; ``train_set``: :data:`rexbench.baselines.data.TRAIN_SETS` -- all three are
    recorded in the result (``task_config``, ``training.hyper``, ``training.train_set``)."""
    from rexbench.baselines.checkpoint import save_checkpoint
    from rexbench.baselines.snapshot import discard_snapshot
    from rexbench.baselines.train import train
    from rexbench.benchmark.errors import ModelRefused
    from rexbench.benchmark.progress import progress_bars
    from rexbench.benchmark.results import write_result
    from rexbench.benchmark.score import score_model
    from rexbench.tasks import SUITE_VERSION, get_task

    task_obj = get_task(task, size)
    name = result_model_name(model, regime)
    run = train(model, task_obj, seeds, steps=steps, regime=regime, recipe=recipe, progress=progress,
                capability_curve=capability_curve, devices=devices, hyper=hyper, train_set=train_set,
                curve_every=curve_every, snapshot=snapshot_dir(out, task, name), log=log)
    on = f" on {run.devices_used} devices" if run.devices_used > 1 else ""
    on += f", in {run.train_segments} processes (resumed)" if run.train_segments > 1 else ""
    log(f"trained {name} ({run.parameters:,} parameters) on {task_obj.config}: {run.steps} steps x {len(run.seeds)} seeds{on} "
        f"in {run.wall_seconds:.1f} s "
        f"({run.compile_seconds:.1f} s compiling)")
    results, refused = [], []
    for i, seed in enumerate(run.seeds):
        t0 = time.perf_counter()
        training = {
            "regime": regime,
            "train_set": train_set,
            "recipe": recipe.as_dict(),
            "hyper": run.hyper,
            "steps": run.steps,
            "best_step": int(run.best_step[i]),
            "best_val_loss_during_training": float(run.best_val_loss[i]),
            "eval_every": recipe.eval_every,
            "val_curve": [[step, vals[i]] for step, vals in run.val_curve],
            "seeds_trained_together": list(run.seeds),
            "train_seconds_note": "wall time of the joint run of all seeds_trained_together, compile included "
                                  "(when resumed from a snapshot: summed over the train_segments processes, "
                                  "each up to its last snapshot)",
            "train_segments": run.train_segments,
            "compile_seconds": round(run.compile_seconds, 3),
            # rows per packed step (rexbench.baselines.packing), None: one sequence per row
            "packed_rows": run.packed_rows,
        }
        if (task, model) in BUDGETS and size in (None, get_task(task).size) and train_set == "sampled":
            # the rule's budget of this (task, model): a result trained for fewer steps was capped
            training["rule_steps"] = BUDGETS[(task, model)]
        if run.capability_curve:
            training["capability_curve"] = [[step, per_seed[i]] for step, per_seed in run.capability_curve]
            training["capability_seconds_note"] = ("host time of the joint run's capability curve, all seeds "
                                                   "(summed over train_segments)")
            training["capability_curve_every"] = curve_every or recipe.eval_every
            training["capability_seconds"] = round(run.capability_seconds, 3)
        if save_checkpoints:
            ckpt = checkpoint_dir(out, task, name, seed)
            save_checkpoint(ckpt, run.params(i), {
                "model": model, "result_model": name, "hyper": run.hyper, "vocab_size": run.vocab_size,
                "task": task, "task_size": task_obj.size, "train_set": train_set, "seed": seed, "regime": regime, "steps": run.steps, "best_step": int(run.best_step[i]),
                "val_loss": float(run.best_val_loss[i]), "checkpoint_rule": CHECKPOINT_RULE,
                "train_seconds": round(run.wall_seconds, 3), "recipe": recipe.as_dict(), "suite_version": SUITE_VERSION,
            })
            training["checkpoint"] = os.fspath(ckpt)
        try:
            with progress_bars(progress):
                result = score_model(
                    run.model(i), task_obj, seed=seed, model_name=name, checkpoint_rule=CHECKPOINT_RULE,
                    train_steps=run.steps, train_seconds=round(run.wall_seconds, 3), parameters=run.parameters,
                )
        except ModelRefused as err:  # nothing written for this seed; the other seeds still are
            refused.append(f"seed {seed}: {err.reason}")
            log(f"  seed {seed}: refused by the harness, no result written: {err.reason}"
                + (f" (its checkpoint: {training['checkpoint']})" if save_checkpoints else ""))
            continue
        result["training"] = training
        path = write_result(result, out)
        m = result["metrics"]
        log(f"  seed {seed}: best step {training['best_step']}, val {m['val_loss']:.4f}, "
            f"excess {m['excess_loss']:.4f}, OOD rule extrapolation {_fmt(m['ood_rule_extrapolation'])} "
            f"(scored in {time.perf_counter() - t0:.1f} s) -> {path}")
        results.append(result)
    for path in run.snapshot_files:  # every seed is written (or refused): nothing left to resume
        discard_snapshot(path)
    if refused:
        raise ModelRefused(f"{name} on {task_obj.config}: " + "; ".join(refused))
    return results


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


# --------------------------------------------------------------------------- grid
def load_existing(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(the validated result at ``path``, "") or (None, "missing" / "invalid (why)"): the
    first test of every resumable plan (the grid, the ablation, the budget probes)."""
    from rexbench.benchmark.errors import ResultError
    from rexbench.benchmark.results import load_result

    if not path.exists():
        return None, "missing"
    try:
        return load_result(path), ""
    except ResultError as err:
        return None, f"invalid ({err})"


def existing_result(out: str | os.PathLike[str], run: GridRun, seed: int, curve: bool = False) -> tuple[bool, str]:
    """(is the result of (run, seed) already there and valid (with a capability curve if
    ``curve``)?, why not)."""
    from rexbench.benchmark.results import result_filename

    result, why = load_existing(Path(out) / result_filename(run.task, run.result_model, seed))
    if result is None:
        return False, why
    if result["model"] != run.result_model or result["task"] != run.task or result["seed"] != seed:
        return False, "belongs to another run"
    if result["manifest"]["train_steps"] != run.planned_steps:
        return False, f"trained for {result['manifest']['train_steps']} steps, the plan is {run.planned_steps}"
    if result["checkpoint_rule"] != CHECKPOINT_RULE:
        return False, f"checkpoint rule {result['checkpoint_rule']!r}"
    if curve and "capability_curve" not in result.get("training", {}):
        return False, "has no capability curve"
    return True, "done"


def grid_status(out: str | os.PathLike[str], grid: Sequence[GridRun], seeds: Sequence[int],
                curve: bool = False) -> list[dict[int, tuple[bool, str]]]:
    """Per run of ``grid``: seed -> :func:`existing_result` (each result file is read once)."""
    return [{seed: existing_result(out, run, seed, curve) for seed in seeds} for run in grid]


def reference_names(task: str) -> list[str]:
    """The reference rows scored on ``task``: every task's, plus the ICL pair on a task with
    ICL probes (:mod:`rexbench.benchmark.icl_reference`)."""
    from rexbench.benchmark.icl_reference import ICL_REFERENCE_MODELS
    from rexbench.benchmark.reference import REFERENCE_MODELS
    from rexbench.tasks import get_task
    from rexbench.tasks.probes import probe_set

    names = list(REFERENCE_MODELS)
    return names + list(ICL_REFERENCE_MODELS) if probe_set(get_task(task)) is not None else names


def reference_status(out: str | os.PathLike[str], tasks: Sequence[str], seeds: Sequence[int]) -> dict[tuple[str, str, int], bool]:
    """(task, reference model, seed) -> is its result already in ``out`` and valid?"""
    from rexbench.benchmark.errors import ResultError
    from rexbench.benchmark.results import load_result, result_filename

    status = {}
    for task in tasks:
        for name in reference_names(task):
            for seed in seeds:
                path = Path(out) / result_filename(task, name, seed)
                try:
                    ok = path.exists() and load_result(path)["model"] == name
                except ResultError:
                    ok = False
                status[(task, name, seed)] = bool(ok)
    return status


def score_references(out: str | os.PathLike[str], tasks: Sequence[str], seeds: Sequence[int], *,
                     log: Callable[[str], None] = print, share: tuple[int, int] = (0, 1)) -> int:
    """Scores every reference row (oracles, trivial policies, uniform) of ``tasks`` x ``seeds``
    whose result is not in ``out`` yet; returns how many were scored. ``share`` = (i, P):
    only every P-th row from the i-th, in a fixed order (process i of P)."""
    from rexbench.benchmark.loaders import load_model
    from rexbench.benchmark.results import write_result
    from rexbench.benchmark.score import score_model
    from rexbench.tasks import get_task

    i, num = share
    todo = [key for n, (key, ok) in enumerate(reference_status(out, tasks, seeds).items()) if n % num == i and not ok]
    for task, name, seed in todo:
        t0 = time.perf_counter()
        loaded = load_model(name, get_task(task))
        result = score_model(loaded.model, task, seed=seed, model_name=name, reference=loaded.reference)
        path = write_result(result, out)
        log(f"reference {name} on {task} seed {seed}: headline {_fmt(result['metrics']['ood_rule_extrapolation'])} "
            f"({time.perf_counter() - t0:.1f} s) -> {path}")
    return len(todo)


def reproduce(
    out: str | os.PathLike[str],
    grid: Sequence[GridRun],
    seeds: Sequence[int] = DEFAULT_SEEDS,
    *,
    recipe: Recipe = DEFAULT,
    progress: bool = True,
    save_checkpoints: bool = True,
    log: Callable[[str], None] = print,
    capability_curve: bool = True,
    devices: int | None = None,
    hosts: Hosts | None = None,
) -> dict[str, Any]:
    """Runs every (run, seed) of ``grid`` x ``seeds`` whose result is not already in ``out``
    (with ``progress``: a bar over the grid's runs and the scoring's bars), each run's seeds
    over ``devices`` local devices (None = all). With ``hosts``, only this process's share
    of the grid (:mod:`rexbench.baselines.hosts`), after checking that every process has the
    same plan, and a barrier at the end (both when ``hosts.distributed``)."""
    from rexbench.baselines.hosts import barrier, check_same_plan
    from rexbench.benchmark.progress import progress_bars

    if hosts is not None and hosts.distributed:
        check_same_plan(hosts, plan_digest_of(grid, seeds, recipe, hosts.num_processes, capability_curve))
    with progress_bars(progress):
        summary = _reproduce(out, grid, seeds, recipe=recipe, progress=progress, save_checkpoints=save_checkpoints,
                             log=log, capability_curve=capability_curve, devices=devices, hosts=hosts)
    if hosts is not None and hosts.distributed:
        log(f"process {hosts.process_id}: share done; waiting for the other processes")
        barrier(hosts, "grid-done")
        if hosts.process_id == 0:
            log(f"all {hosts.num_processes} processes done. Unless {os.fspath(out)} is one shared directory, copy "
                f"every host's results into it (e.g. rsync -a HOST:{os.fspath(out)}/ {os.fspath(out)}/), then: "
                f"rexbench leaderboard --results {os.fspath(out)} --out {os.fspath(Path(out) / 'leaderboard.md')}")
    return summary


def plan_digest_of(grid: Sequence[GridRun], seeds: Sequence[int], recipe: Recipe, num_processes: int,
                   curve: bool = True) -> str:
    """What every process of a many-host grid must agree on, hashed (``curve``: whether the
    results carry capability curves, which also weighs the split of the runs)."""
    from rexbench.baselines.hosts import plan_digest
    from rexbench.benchmark import __version__
    from rexbench.tasks import SUITE_VERSION

    return plan_digest({
        "suite": SUITE_VERSION, "harness": __version__, "processes": num_processes, "seeds": list(seeds),
        "recipe": recipe.as_dict(), "runs": [[r.task, r.model, r.regime, r.planned_steps] for r in grid],
        "capability_curve": curve,
    })


def grid_share(grid: Sequence[GridRun], seeds: Sequence[int], hosts: Hosts | None, curve: bool = True) -> list[GridRun]:
    """This process's runs: :func:`rexbench.baselines.hosts.split` of the estimated times
    (with the capability curves' cost if ``curve``)."""
    if hosts is None:
        return list(grid)
    from rexbench.baselines.hosts import split

    shares = split([estimate_seconds([run], seeds, curve) for run in grid], hosts.num_processes)
    return [grid[i] for i in shares[hosts.process_id]]


def _reproduce(out: str | os.PathLike[str], grid: Sequence[GridRun], seeds: Sequence[int], *, recipe: Recipe,
               progress: bool, save_checkpoints: bool, log: Callable[[str], None],
               capability_curve: bool = True, devices: int | None = None,
               hosts: Hosts | None = None) -> dict[str, Any]:
    from rexbench.baselines.capability_curve import curve_every
    from rexbench.benchmark.errors import ModelRefused
    from rexbench.benchmark.progress import bar

    t0 = time.perf_counter()
    summary: dict[str, Any] = {"trained": [], "skipped": [], "refused": []}
    tasks = sorted({run.task for run in grid}, key=lambda t: TASK_ORDER.index(t) if t in TASK_ORDER else len(TASK_ORDER))
    share = (0, 1) if hosts is None else (hosts.process_id, hosts.num_processes)
    summary["references"] = score_references(out, tasks, seeds, log=log, share=share)
    mine = grid_share(grid, seeds, hosts, capability_curve)
    if hosts is not None:
        log(f"process {hosts.process_id} of {hosts.num_processes}: {len(mine)} of {len(grid)} runs, about "
            f"{estimate_seconds(mine, seeds, capability_curve) / 60:.0f} of "
            f"{estimate_seconds(grid, seeds, capability_curve) / 60:.0f} min of the grid: "
            + ", ".join(run.label() for run in mine))
    grid = mine
    status = grid_status(out, grid, seeds, curve=capability_curve)
    todo_runs = [run for run, st in zip(grid, status) if not all(ok for ok, _ in st.values())]
    log(f"{len(todo_runs)} of {len(grid)} runs to do; estimated {estimate_seconds(todo_runs, seeds, capability_curve) / 60:.0f} min "
        f"on the 2-core reference CPU (fewer if some seeds are done)")
    grid_bar = bar(len(todo_runs), "grid", "run")
    for n, (run, st) in enumerate(zip(grid, status), 1):
        todo = []
        for seed, (ok, why) in st.items():
            if ok:
                summary["skipped"].append((run.label(), seed))
                continue
            todo.append(seed)
            if why != "missing":
                log(f"[{n}/{len(grid)}] {run.label()} seed {seed}: redoing, existing result {why}")
        if not todo:
            log(f"[{n}/{len(grid)}] {run.label()}: all {len(seeds)} seeds done, skipped")
            continue
        log(f"[{n}/{len(grid)}] {run.label()}: seeds {todo}")
        try:
            train_and_score(run.model, run.task, todo, out, steps=run.planned_steps, regime=run.regime, recipe=recipe,
                            save_checkpoints=save_checkpoints, progress=progress, log=log,
                            capability_curve=capability_curve, devices=devices,
                            curve_every=curve_every(run.planned_steps, recipe.eval_every) if capability_curve else None)
        except ModelRefused as err:  # a long grid goes on; the caller reports every refusal at the end
            summary["refused"].append(err.reason)
        summary["trained"].append((run.label(), todo))
        grid_bar.update(1)
    grid_bar.close()
    summary["seconds"] = time.perf_counter() - t0
    log(f"grid done in {summary['seconds'] / 60:.1f} min: {len(summary['trained'])} runs trained, "
        f"{len(summary['skipped'])} (run, seed) results already present"
        + (f", {len(summary['refused'])} runs with seeds the harness refused" if summary["refused"] else ""))
    return summary
