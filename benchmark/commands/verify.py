"""``rexbench verify RESULT [RESULT ...] --model SPEC [--loss-tolerance X] [--no-progress]``.

Re-scores the model of each result file (with the file's task, seed and limit, under its
model name) and compares every stored number and per-prompt record
(:mod:`rexbench.benchmark.verify`). Exit codes: 0 every file reproduced, 1 a difference
(each printed, one per line, with both values), 2 bad input (unreadable or invalid file,
unknown model), 3 the model was refused.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rexbench.benchmark.errors import ModelLoadError, ModelRefused, ResultError
from rexbench.benchmark.loaders import UnknownModelError, load_model
from rexbench.benchmark.progress import progress_bars
from rexbench.benchmark.results import load_result
from rexbench.benchmark.score import score_loaded
from rexbench.benchmark.verify import compare
from rexbench.tasks import get_task

SHOWN = 20  # differences printed per file


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"invalid --loss-tolerance {text!r}: nats per token in [0, 1)")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="re-score a result's model and compare every stored number and record")
    p.add_argument("results", nargs="+", type=Path, help="result JSON file(s)")
    p.add_argument("--model", required=True, help="the model spec, as given to `rexbench score --model`")
    p.add_argument("--loss-tolerance", type=_tolerance, default=0.0,
                   help="losses may differ by this many nats per token (another machine's float rounding); "
                        "default 0: exact")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or phase lines on stderr")
    p.set_defaults(func=cmd_verify)
    from rexbench.benchmark.commands.train import register_checkpoint_loaders

    register_checkpoint_loaders()


def cmd_verify(args: argparse.Namespace) -> int:
    stored = []
    for path in args.results:  # every file is read and validated before any scoring
        try:
            stored.append((path, load_result(path, allow_limited=True)))
        except ResultError as err:
            print(f"rexbench verify: {err}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()

    def say(message: str) -> None:
        if not args.no_progress:
            print(f"[{time.perf_counter() - t0:7.1f} s] {message}", file=sys.stderr, flush=True)

    failed = 0
    for path, res in stored:
        task = get_task(res["task"], res["task_config"]["size"])
        try:
            loaded = load_model(args.model, task, allow_task_mismatch=res.get("trained_on_task") is not None)
        except (UnknownModelError, ModelLoadError) as err:
            print(f"rexbench verify: {err}", file=sys.stderr)
            return 2
        try:
            with progress_bars(not args.no_progress):
                fresh = score_loaded(loaded, task, seed=res["seed"], model_name=res["model"],
                                     limit=res.get("limit"), progress=say)
        except ModelRefused as err:
            print(f"rexbench verify: model {args.model!r} refused on task {task.name}: {err.reason}", file=sys.stderr)
            return 3
        diffs = compare(res, fresh, args.loss_tolerance)
        if diffs:
            failed += 1
            print(f"{path}: DIFFERS in {len(diffs)} place(s) from a re-scoring of {args.model!r}:")
            for d in diffs[:SHOWN]:
                print(f"  {d}")
            if len(diffs) > SHOWN:
                print(f"  ... and {len(diffs) - SHOWN} more")
        else:
            exact = "exactly" if args.loss_tolerance == 0 else f"(losses within {args.loss_tolerance:g} nats/token)"
            print(f"{path}: verified {exact}: every metric, count, chance level and per-prompt record reproduced")
    return 1 if failed else 0
