"""``rexbench score --model SPEC --task TASK|all [--seed S] --out DIR [--timeout S] [--no-progress]``.

Scores one model on one task (or every task), prints a summary per task and writes one
result JSON per task into ``--out``. Every task is scored before anything is written,
so a refused model (SPEC §5) leaves the output directory untouched. Each phase is
reported on stderr as it starts, with the elapsed time (``--no-progress``: quiet).
``--timeout S`` bounds the whole scoring: past S seconds (checked whenever control is
in Python, i.e. between model calls and between the compiled loops' batches) the model is
refused and nothing is written. Exit codes: 0 ok, 2 bad input (unknown model or task, a
checkpoint that cannot be loaded, a bad name), 3 model refused.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rexbench.benchmark.commands.common import model_name, output_dir, positive_int, seed
from rexbench.benchmark.errors import ModelLoadError, ModelRefused, ResultError
from rexbench.benchmark.loaders import UnknownModelError, load_model, valid_models_message
from rexbench.benchmark.progress import progress_bars
from rexbench.benchmark.report import format_result
from rexbench.benchmark.results import write_result
from rexbench.benchmark.run_files import write_run_summary, write_samples
from rexbench.benchmark.score import score_loaded
from rexbench.tasks import TASK_NAMES, UnknownTaskError, get_task

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
    p.add_argument("--seed", type=seed, default=0, help="run seed in [0, 2^31) (decode/sampling keys); default 0")
    p.add_argument("--out", required=True, type=output_dir, help="directory for the result JSON files (checked before any work)")
    p.add_argument("--timeout", type=float, default=None, help="refuse the model if scoring takes longer (seconds)")
    p.add_argument("--name", type=model_name, default=None,
                   help="the model's name in the result (default: the loader's name, e.g. the spec)")
    p.add_argument("--allow-task-mismatch", action="store_true",
                   help="score a checkpoint on a task it was not trained on (recorded in the result)")
    p.add_argument("--limit", type=positive_int, default=None,
                   help="smoke test: only the first N prompts of each split and N test/val sequences "
                        "(the results are marked and never accepted by the leaderboard)")
    p.add_argument("--log-samples", action="store_true",
                   help="also write every decoded row as JSON Lines ({task}__{model}__seed{s}.samples.jsonl)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or phase lines on stderr")
    p.set_defaults(func=cmd_score)


class ScoringTimeout(BaseException):
    """Not an ``Exception``: it must pass through the harness's model-error handling."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raises :class:`ScoringTimeout` in the main thread after ``seconds`` (SIGALRM)."""
    if seconds is None:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise ScoringTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
    if args.timeout is not None and not args.timeout > 0:
        print(f"rexbench score: --timeout must be a positive number of seconds, got {args.timeout}", file=sys.stderr)
        return EXIT_UNKNOWN
    t0 = time.perf_counter()

    def progress(message: str) -> None:
        if not args.no_progress:
            print(f"[{time.perf_counter() - t0:7.1f} s] {message}", file=sys.stderr, flush=True)

    try:
        with time_limit(args.timeout), progress_bars(not args.no_progress):
            return _score_tasks(args, names, progress)
    except ScoringTimeout:
        print(f"rexbench score: model {args.model!r} refused: scoring took longer than --timeout {args.timeout:g} s",
              file=sys.stderr)
        print("rexbench score: nothing was written", file=sys.stderr)
        return EXIT_REFUSED


def _score_tasks(args: argparse.Namespace, names: list[str], progress) -> int:
    results = []
    for name in names:
        task = get_task(name)
        try:
            loaded = load_model(args.model, task, allow_task_mismatch=args.allow_task_mismatch)
        except (UnknownModelError, ModelLoadError) as err:
            print(f"rexbench score: {err}", file=sys.stderr)
            return EXIT_UNKNOWN
        try:
            result = score_loaded(loaded, task, seed=args.seed, model_name=args.name, limit=args.limit,
                                  progress=progress)
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
        if args.log_samples:
            print(f"wrote {write_samples(result, args.out)}")
    print(f"wrote {write_run_summary(results, args.out)}")
    return 0
