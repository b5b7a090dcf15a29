"""``rexbench train`` (one model on one task, all seeds at once) and ``rexbench reproduce``.

Both use JAX's persistent compilation cache (``~/.cache/rexbench/jax``, or
``$REXBENCH_JAX_CACHE``; set it to ``off`` to disable), so a second run skips most
compilation. Registering this module also registers the checkpoint loaders of
``rexbench score --model ckpt:PATH`` and ``--model PATH`` (a checkpoint directory).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rexbench.benchmark.commands.common import output_dir, output_dir_problem, positive_int, seed_list, task_spec
from rexbench.benchmark.commands.scaleout import add_devices_argument, add_grid_filters, add_host_arguments, start

CACHE_ENV = "REXBENCH_JAX_CACHE"
# checked against the registry at run time; the -rulex names are the rule-extrapolation code's
# configurations (rexbench.baselines.models.registry.CONFIGS), not part of the reproduce grid
GRID_NAMES = ("transformer", "lstm", "linear", "mamba", "xlstm")  # `reproduce --models` filters
BASELINE_NAMES = (*GRID_NAMES, "transformer-rulex", "lstm-rulex", "mamba-rulex", "xlstm-rulex",
                  "transformer-dropout", "transformer-rulex-nodropout", "transformer-l1024")


def enable_compilation_cache() -> str | None:
    """Turns on JAX's persistent compilation cache; returns its directory (None if off)."""
    where = os.environ.get(CACHE_ENV, "")
    if where.lower() in ("off", "0", "none", "false"):
        return None
    import jax

    path = Path(where).expanduser() if where else Path.home() / ".cache" / "rexbench" / "jax"
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", os.fspath(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return os.fspath(path)


# Checkpoint loaders of `rexbench score --model` (ckpt:PATH, and PATH itself); module-level
# so that registering twice is a no-op, and importing flax happens on use only.
def _checkpoint_scheme(rest, task, *, allow_task_mismatch=False):
    from rexbench.baselines.checkpoint import loaded_model

    return loaded_model(rest, task, allow_task_mismatch=allow_task_mismatch)


def _checkpoint_path(spec, task, *, allow_task_mismatch=False):
    from rexbench.baselines.checkpoint import load_if_checkpoint

    return load_if_checkpoint(spec, task, allow_task_mismatch=allow_task_mismatch)


def register_checkpoint_loaders() -> None:
    from rexbench.benchmark import loaders

    loaders.MODEL_SCHEMES.setdefault("ckpt", _checkpoint_scheme)
    if _checkpoint_path not in loaders.PATH_LOADERS:
        loaders.PATH_LOADERS.append(_checkpoint_path)


CURVE_HELP = ("also score the headline family of every seed's current parameters at every validation point "
              "(training.capability_curve; costs a greedy and an EOS-withheld decode per seed and point)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a baseline on a task (all seeds at once), select on val, score, write results")
    p.add_argument("--model", required=True, help=f"one of: {', '.join(BASELINE_NAMES)}")
    p.add_argument("--task", required=True, type=task_spec,
                   help="a task name (see `rexbench tasks`), or NAME:SIZE for another size parameter, e.g. anbn:128")
    p.add_argument("--train-set", choices=("sampled", "support"), default="sampled",
                   help="sampled: the task's 10,000 train words (default); support: every word of the language once "
                        "(the rule-extrapolation code's setting; only where the support is small, e.g. anbn:128)")
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2, 3, 4], help="e.g. 0-4 (default) or 0,3")
    p.add_argument("--out", required=True, type=output_dir,
                   help="results directory (checked before any work; the published store results/ only if named)")
    p.add_argument("--steps", type=positive_int, default=None, help="training steps (default: the task's budget in rexbench.baselines.recipe.STEPS)")
    p.add_argument("--regime", default="standard", help="standard (default), oracle, adversarial or anti-icl (ICL tasks)")
    p.add_argument("--no-checkpoints", action="store_true", help="do not save the selected parameters")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--capability-curve", action="store_true", help=CURVE_HELP)
    add_devices_argument(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("reproduce", help="train and score the whole baseline grid, skipping results already present")
    p.add_argument("--quick", action="store_true", help="the reduced grid (anbn, 2 seeds, short budgets; measured 3.4 min on 2 CPU cores)")
    p.add_argument("--out", type=output_dir, default=None,
                   help="results directory (default: runs/grid/, or runs/quick/ with --quick; "
                        "--out results/ regenerates the published store)")
    p.add_argument("--icl", action="store_true", help="only the in-context-learning part (docs/ICL.md; default out runs/icl/)")
    p.add_argument("--ablation", action="store_true",
                   help="only the anbn ablation towards the anchors' setting (docs/ABLATION.md; default out runs/ablation/, "
                        "one sub-store per factor)")
    p.add_argument("--full", action="store_true",
                   help="every grid run at its rule budget, uncapped (the default grid caps runs to fit 2 hours on a "
                        "2-core CPU; docs/RECIPE.md); with --ablation: also the factors too slow for a 2-core CPU")
    p.add_argument("--seeds", type=seed_list, default=None, help="override the grid's seeds")
    p.add_argument("--dry-run", action="store_true", help="list the runs still to do and exit")
    p.add_argument("--no-checkpoints", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-capability-curve", action="store_true",
                   help="do not record capability curves (the grid records one per result, at up to "
                        "~12 validation points per run: rexbench.baselines.capability_curve.curve_every)")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="every run's budget (smoke tests; default: the grid's; results record their budget)")
    add_grid_filters(p, GRID_NAMES)
    add_devices_argument(p)
    add_host_arguments(p)
    p.set_defaults(func=cmd_reproduce)
    register_checkpoint_loaders()


def _check_names(model: str, task, regime: str, train_set: str = "sampled") -> str | None:
    """Everything about (model, task, regime, training set) that can fail, checked before any work."""
    from rexbench.baselines.models.registry import MODEL_NAMES, position_limit
    from rexbench.baselines.regimes import REGIMES
    from rexbench.benchmark.checks import harness_widths

    if model not in MODEL_NAMES:
        return f"unknown model {model!r}; valid models: {', '.join(MODEL_NAMES)}"
    if regime not in REGIMES:
        return f"unknown regime {regime!r}; valid regimes: {', '.join(REGIMES)}"
    if regime != "standard" and model != "transformer":
        return f"regime {regime!r} is defined for the transformer only"
    if train_set == "support":
        try:
            task.support()
        except ValueError as err:
            return f"--train-set support: {err}"
    limit = position_limit(model)
    widest = max(harness_widths(task).values())
    if limit is not None and widest > limit:
        return (f"{model}'s position table has {limit} rows, but the harness feeds rows of up to {widest} tokens "
                f"on {task.config}; use a model without one, or transformer-l1024")
    return None


def cmd_train(args: argparse.Namespace) -> int:
    error = _check_names(args.model, args.task, args.regime, args.train_set)
    if error is None and args.steps is not None and args.steps < 1:
        error = f"--steps must be >= 1, got {args.steps}"
    if error:
        print(f"rexbench train: {error}", file=sys.stderr)
        return 2
    error, _ = start("train", args.devices)
    if error:
        print(error, file=sys.stderr)
        return 2
    enable_compilation_cache()
    from rexbench.baselines.reproduce import train_and_score
    from rexbench.benchmark.errors import ModelRefused

    try:
        train_and_score(args.model, args.task.name, args.seeds, args.out, steps=args.steps, regime=args.regime,
                        size=args.task.size, train_set=args.train_set,
                        save_checkpoints=not args.no_checkpoints, progress=not args.no_progress,
                        capability_curve=args.capability_curve, devices=args.devices)
    except ModelRefused as err:
        print(f"rexbench train: the harness refused the trained model: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_ablation(args: argparse.Namespace) -> int:
    """``reproduce --ablation``: the factors of rexbench.baselines.ablation, resumable."""
    from rexbench.baselines.ablation import SEEDS, estimate_seconds, existing, factors, run_ablation

    if args.icl or args.quick or args.models or args.tasks or args.steps or args.coordinator is not None:
        print("rexbench reproduce: --ablation takes only --out, --seeds, --full, --dry-run, --no-progress, "
              "--no-checkpoints", file=sys.stderr)
        return 2
    seeds = args.seeds or list(SEEDS)
    out = args.out or Path("runs") / "ablation"
    problem = output_dir_problem(out)
    if problem:
        print(f"rexbench reproduce: --out {out}: {problem}", file=sys.stderr)
        return 2
    plan = factors(args.full)
    if args.dry_run:
        print(f"store: {out.as_posix()} (one directory per factor)")
        total = 0.0
        for f in plan:
            todo = [seed for seed in seeds if not existing(out, f, seed)[0]]
            total += estimate_seconds(f, todo)
            print(f"{f.name}: {f.changes}; {f.model} on anbn(N={f.size or 32}), {f.steps} steps: "
                  + (f"to do: seeds {','.join(map(str, todo))}" if todo else "done"))
        print(f"still to do: about {total / 60:.0f} min on the 2-core reference CPU")
        return 0
    enable_compilation_cache()
    from tqdm.auto import tqdm

    summary = run_ablation(out, full=args.full, seeds=seeds, progress=not args.no_progress,
                           save_checkpoints=not args.no_checkpoints, log=print if args.no_progress else tqdm.write)
    for reason in summary["refused"]:  # the other factors and seeds were written; rerunning redoes only these
        print(f"rexbench reproduce: the harness refused a trained model: {reason}", file=sys.stderr)
    return 1 if summary["refused"] else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    if args.ablation:
        return cmd_ablation(args)
    if args.full and (args.quick or args.icl):
        print("rexbench reproduce: --full applies to the main grid and --ablation, not to --quick or --icl", file=sys.stderr)
        return 2
    from rexbench.baselines.reproduce import (
        DEFAULT_SEEDS,
        QUICK_SEEDS,
        estimate_seconds,
        full_grid,
        grid_status,
        icl_grid,
        quick_grid,
        reproduce,
        result_model_name,
        select_grid,
        snapshot_dir,
    )
    from rexbench.baselines.snapshot import snapshot_progress

    grid = select_grid(icl_grid() if args.icl else quick_grid() if args.quick else full_grid(args.full), args.models, args.tasks, args.steps)
    if not grid:
        print("rexbench reproduce: no run of the grid has those --models and --tasks", file=sys.stderr)
        return 2
    seeds = args.seeds or (QUICK_SEEDS if args.quick else DEFAULT_SEEDS)
    out = args.out or Path("runs") / ("icl" if args.icl else "quick" if args.quick else "grid-full" if args.full else "grid")
    problem = output_dir_problem(out)
    if problem:
        print(f"rexbench reproduce: --out {out}: {problem}", file=sys.stderr)
        return 2
    if args.dry_run:
        from rexbench.baselines.hosts import HostError, resolve, split

        try:
            hosts = resolve(args.coordinator, args.num_processes, args.process_id)
        except HostError as err:
            print(f"rexbench reproduce: {err}", file=sys.stderr)
            return 2
        owner = {}
        if hosts is not None:  # which process of P takes each run (the same split as the real run)
            costs = [estimate_seconds([run], seeds, not args.no_capability_curve) for run in grid]
            for p, share in enumerate(split(costs, hosts.num_processes)):
                owner.update({i: f" [process {p}]" for i in share})
        print(f"store: {out.as_posix()}")
        left = 0.0  # the estimate of only the seeds still to train, next to the whole grid's
        for i, (run, status) in enumerate(zip(grid, grid_status(out, grid, seeds, curve=not args.no_capability_curve))):
            todo = [seed for seed, (ok, _) in status.items() if not ok]
            snap = snapshot_progress(snapshot_dir(out, run.task, result_model_name(run.model, run.regime)),
                                     run.planned_steps, todo) if todo else None
            # with a snapshot, only the steps left count (at about the whole run's rate)
            cost = estimate_seconds([run], todo, not args.no_capability_curve, from_step=snap or 0) if todo else 0.0
            resumes = f"; a training snapshot at step {snap}" if snap is not None else ""
            left += cost
            print(f"{run.label()}{owner.get(i, '')}: "
                  + (f"to do: seeds {','.join(map(str, todo))} (about {cost / 60:.0f} min{resumes})" if todo else "done"))
        print(f"still to do: about {left / 60:.0f} min; whole grid: about "
              f"{estimate_seconds(grid, seeds, not args.no_capability_curve) / 60:.0f} min on the 2-core reference CPU")
        return 0
    error, hosts = start("reproduce", args.devices, {
        "coordinator": args.coordinator, "num_processes": args.num_processes, "process_id": args.process_id})
    if error:
        print(error, file=sys.stderr)
        return 2
    enable_compilation_cache()
    from tqdm.auto import tqdm

    from rexbench.baselines.hosts import HostError

    try:
        summary = reproduce(out, grid, seeds, progress=not args.no_progress, save_checkpoints=not args.no_checkpoints,
                            log=print if args.no_progress else tqdm.write, capability_curve=not args.no_capability_curve,
                            devices=args.devices, hosts=hosts)
    except HostError as err:
        print(f"rexbench reproduce: {err}", file=sys.stderr)
        if hosts is not None and hosts.distributed:
            # A failed peer makes the runtime's client abort this process at exit with a
            # C++ stack trace; results are written atomically, so leave now, message last.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(2)
        return 2
    for reason in summary["refused"]:  # the other runs and seeds were written; rerunning redoes only these
        print(f"rexbench reproduce: the harness refused a trained model: {reason}", file=sys.stderr)
    return 1 if summary["refused"] else 0
