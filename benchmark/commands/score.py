"""``rexbench score --model SPEC --task TASK|all [--seed S] --out DIR``.

Scores one model on one task (or every task), prints a summary per task and writes one
result JSON per task into ``--out``. Every task is scored before anything is written,
so a refused model (SPEC §5) leaves the output directory untouched. Exit codes: 0 ok,
2 unknown model/task, 3 model refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.errors import ModelRefused, ResultError
from benchmark.loaders import UnknownModelError, load_model, valid_models_message
from benchmark.report import format_result
from benchmark.results import write_result
from benchmark.score import score_model
from tasks import TASK_NAMES, UnknownTaskError, get_task

EXIT_UNKNOWN = 2
EXIT_REFUSED = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score a model on a task: losses, capabilities, chance levels -> one JSON per task",
        description=f"Score a model. {valid_models_message()}.",
    )
    p.add_argument("--model", required=True, help="oracle-keep, oracle-break, uniform, or module.path:factory")
    p.add_argument("--task", required=True, help=f"one of: {', '.join(TASK_NAMES)}, or all")
    p.add_argument("--seed", type=int, default=0, help="run seed (decode/sampling keys); default 0")
    p.add_argument("--out", required=True, type=Path, help="directory for the result JSON files")
    p.set_defaults(func=cmd_score)


def _task_names(arg: str) -> list[str] | None:
    if arg == "all":
        return list(TASK_NAMES)
    try:
        get_task(arg)
    except UnknownTaskError as err:
        print(f"rexbench score: {err}, all", file=sys.stderr)
        return None
    return [arg]


def cmd_score(args: argparse.Namespace) -> int:
    names = _task_names(args.task)
    if names is None:
        return EXIT_UNKNOWN
    results = []
    for name in names:
        task = get_task(name)
        try:
            loaded = load_model(args.model, task)
        except UnknownModelError as err:
            print(f"rexbench score: {err}", file=sys.stderr)
            return EXIT_UNKNOWN
        try:
            result = score_model(
                loaded.model, task, seed=args.seed, model_name=loaded.name, checkpoint_rule=loaded.checkpoint_rule,
                train_steps=loaded.train_steps, train_seconds=loaded.train_seconds, parameters=loaded.parameters,
                reference=loaded.reference,
            )
        except ResultError as err:
            print(f"rexbench score: {err}", file=sys.stderr)
            return EXIT_UNKNOWN
        except ModelRefused as err:
            print(f"rexbench score: model {loaded.name!r} refused on task {name}: {err.reason}", file=sys.stderr)
            print("rexbench score: nothing was written", file=sys.stderr)
            return EXIT_REFUSED
        print(format_result(result), end="\n\n", flush=True)
        results.append(result)
    for result in results:
        print(f"wrote {write_result(result, args.out)}")
    return 0
