"""Timing of the scoring harness on a ~100k-parameter Transformer (prints figures, asserts nothing).

    .venv/bin/python scripts/bench_score.py [--task anbn] [--model transformer]
    .venv/bin/python scripts/bench_score.py --checks-only --tasks anbn anbncn ban bban dyck csdyck

``--checks-only``: per task, the warm time of the SPEC §5 refusal checks
(``rexbench.benchmark.checks.check_model``) against the warm time of the whole ``score_model``
(checks included), i.e. the share of a task's scoring time the checks cost. The checks
inside the compiled loss and decode programs (one finiteness flag per batch / step) are
part of the rest of scoring in both figures.

Reports: one-off task setup (splits, chance levels), the first ``score_model`` call
(compilation included), a second call (after compilation), the compile time (their
difference), a per-stage breakdown of a warm run, and decoding throughput: greedy
prompts/s over the ID+OOD+length prompts, sampled rows/s (OOD samples and generations).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from rexbench.benchmark.capabilities import generations, greedy_split, sampled_ood  # noqa: E402
from rexbench.benchmark.chance import chance_levels  # noqa: E402
from rexbench.benchmark.checks import check_model  # noqa: E402
from rexbench.benchmark.decoding import decode_width  # noqa: E402
from rexbench.benchmark.loss import split_nll  # noqa: E402
from rexbench.benchmark.protocol import as_model  # noqa: E402
from rexbench.benchmark.score import score_model  # noqa: E402
from rexbench.tasks import SPLIT_NAMES, get_split, get_task, split_digests  # noqa: E402

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def timed_cpu(fn: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, process CPU seconds): CPU time shows contention on a shared machine."""
    cpu = time.process_time()
    out, wall = timed(fn)
    return out, wall, time.process_time() - cpu


def build_model(name: str, vocab_size: int) -> Any:
    try:
        from rexbench.baselines.models.registry import make_model
    except ImportError:  # baselines not available: a small stand-in is not worth timing
        sys.exit("rexbench.baselines.models.registry is not available")
    return make_model(name, vocab_size, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="anbn")
    parser.add_argument("--model", default="transformer", help="a baselines registry name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checks-only", action="store_true", help="only the cost of the checks, per task")
    parser.add_argument("--tasks", nargs="+", default=None, help="tasks for --checks-only (default: --task)")
    args = parser.parse_args()
    if args.checks_only:
        checks_cost(args.model, args.tasks or [args.task], args.seed)
        return

    task = get_task(args.task)
    module = build_model(args.model, task.vocab_size)
    model = as_model(module, task.vocab_size)
    print(f"{args.model} on {task.config}: {model.parameters:,} parameters; "
          f"jax {jax.__version__} on {jax.devices()[0].platform} ({platform.machine()}, "
          f"{__import__('os').cpu_count()} CPUs)")

    _, t_setup = timed(lambda: ([get_split(task, s) for s in SPLIT_NAMES], split_digests(task), chance_levels(task)))
    print(f"task setup (splits, digests, chance levels; once per process): {t_setup:6.2f} s")

    _, t_cold, c_cold = timed_cpu(lambda: score_model(module, task, seed=args.seed, model_name=args.model))
    _, t_warm, c_warm = timed_cpu(lambda: score_model(module, task, seed=args.seed, model_name=args.model))
    print(f"score_model, first call (with compilation): {t_cold:6.2f} s wall  {c_cold:6.2f} s CPU")
    print(f"score_model, after compilation:             {t_warm:6.2f} s wall  {c_warm:6.2f} s CPU  (target < 5 s)")
    print(f"compile time (difference):                  {t_cold - t_warm:6.2f} s wall  {c_cold - c_warm:6.2f} s CPU")
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average (1, 5, 15 min): {load}")
    except OSError:
        pass

    print("\nwarm breakdown:")
    width = decode_width(task)
    _, t = timed(lambda: check_model(model, task))
    print(f"  checks                         {t:6.2f} s")
    for split in ("test", "val"):
        _, t = timed(lambda: split_nll(model, task, split))
        print(f"  loss on {split:<5} ({len(get_split(task, split)):>5} seqs)   {t:6.2f} s")
    greedy_rows, greedy_time = 0, 0.0
    for split in ("id_prompts", "ood_prompts", "length_prompts"):
        comps, t = timed(lambda: greedy_split(model, task, split, args.seed))
        greedy_rows, greedy_time = greedy_rows + len(comps), greedy_time + t
        print(f"  greedy {split:<15} {len(comps):>5} rows  {t:6.2f} s  ({len(comps) / t:8.1f} prompts/s, "
              f"{comps.finished_N.mean():.0%} finished)")
    (_, comps), t_sampled = timed(lambda: sampled_ood(model, task, args.seed, width))
    print(f"  sampled OOD              {len(comps):>5} rows  {t_sampled:6.2f} s  ({len(comps) / t_sampled:8.1f} rows/s)")
    gen, t_gen = timed(lambda: generations(model, args.seed, width))
    print(f"  generation from SOS      {len(gen):>5} rows  {t_gen:6.2f} s  ({len(gen) / t_gen:8.1f} rows/s)")

    print(f"\ngreedy decoding:  {greedy_rows / greedy_time:8.1f} prompts/s ({greedy_rows} prompts)")
    sampled_rows = len(comps) + len(gen)
    print(f"sampled decoding: {sampled_rows / (t_sampled + t_gen):8.1f} rows/s ({sampled_rows} samples)")


def checks_cost(model_name: str, tasks: list[str], seed: int) -> None:
    print(f"{model_name}; jax {jax.__version__} on {jax.devices()[0].platform} ({platform.machine()}, "
          f"{os.cpu_count()} CPUs); warm times (second call), seconds")
    print("| task | score_model | of which checks | checks' share |")
    print("|---|--:|--:|--:|")
    for name in tasks:
        task = get_task(name)
        module = build_model(model_name, task.vocab_size)
        model = as_model(module, task.vocab_size)
        chance_levels(task)
        score_model(module, task, seed=seed, model_name=model_name)  # compile
        _, t_score = timed(lambda: score_model(module, task, seed=seed, model_name=model_name))
        _, t_check = timed(lambda: check_model(model, task))
        print(f"| {name} | {t_score:.2f} | {t_check:.2f} | {t_check / t_score:.0%} |", flush=True)


if __name__ == "__main__":
    main()
