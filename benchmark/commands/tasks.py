"""``rexbench tasks``, ``rexbench describe TASK`` and ``rexbench export TASK --out DIR``."""

from __future__ import annotations

import argparse
import sys

from rexbench.benchmark.commands.common import output_dir, positive_int
from rexbench.benchmark.fileio import atomic_write_bytes, atomic_write_json
from rexbench.tasks import SPLIT_NAMES, SUITE_VERSION, UnknownTaskError, get_split, get_task
from rexbench.tasks.registry import TASK_NAMES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="table of the tasks of the suite")
    p.set_defaults(func=cmd_tasks)
    p = sub.add_parser("describe", help="rules, distribution, examples and split sizes of a task")
    p.add_argument("task", help=f"one of: {', '.join(TASK_NAMES)}")
    p.add_argument("--size", type=positive_int, default=None, help="the task's size (N), default the suite size")
    p.set_defaults(func=cmd_describe)
    p = sub.add_parser("export", help="write every split of a task as JSON Lines, plus splits.json")
    p.add_argument("task", help=f"one of: {', '.join(TASK_NAMES)}")
    p.add_argument("--out", required=True, type=output_dir, help="output directory")
    p.add_argument("--size", type=positive_int, default=None, help="the task's size (N), default the suite size")
    p.set_defaults(func=cmd_export)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cmd_tasks(args: argparse.Namespace) -> int:
    rows = [["task", "class", "symbols", "size", "prompt len", "keep", "break", "ID", "OOD", "rules"]]
    for name in TASK_NAMES:
        task = get_task(name)
        rows.append([
            name, type(task).__name__, " ".join(task.symbols), f"{task.size_name}={task.size}",
            str(task.prompt_length), task.keep_rule, task.break_rule,
            str(len(get_split(task, "id_prompts"))), str(len(get_split(task, "ood_prompts"))),
            "; ".join(f"{r.name}: {r.description}" for r in task.rules.values()),
        ])
    print(f"rexbench suite v{SUITE_VERSION}\n")
    print(_table(rows))
    return 0


def _resolve(name: str, size: int | None = None):
    try:
        return get_task(name, size)
    except (UnknownTaskError, ValueError) as err:
        print(f"rexbench: {err}", file=sys.stderr)
        return None


def cmd_describe(args: argparse.Namespace) -> int:
    task = _resolve(args.task, args.size)
    if task is None:
        return 2
    test = get_split(task, "test")
    nll, count = task.nll_sum_count(test.words)
    ood = get_split(task, "ood_prompts")
    examples = list(dict.fromkeys(get_split(task, "train").words))[:4]
    print(f"{task.config}  (suite v{SUITE_VERSION}, vocabulary size {task.vocab_size}: "
          f"SOS=0 EOS=1 PAD=2 " + " ".join(f"{s}={3 + i}" for i, s in enumerate(task.symbols)) + ")")
    print(f"\nLanguage: {task.language_doc}")
    print("Rules:")
    for line in task.describe_rules():
        print(f"  {line}")
    print(f"\nDistribution: {task.distribution_doc}")
    print(f"\nExample words (train): {', '.join(examples)}")
    print(f"Optimal loss on test: {nll / count:.6f} nats per target token ({count} targets)")
    print(f"Prompt length: {task.prompt_length} symbols")
    print("\nSplits:")
    for name in SPLIT_NAMES:
        split = get_split(task, name)
        extra = ""
        if split.completable is not None:
            extra = "  completable: " + ", ".join(f"{r}={int(v.sum())}" for r, v in split.completable.items())
        print(f"  {name:<15} {len(split):>6}  sha256 {split.sha256[:16]}…{extra}")
    keep = ood.completable[task.keep_rule]
    held = keep & ~ood.regime
    print(f"\nHeadline prompts (OOD, keep rule {task.keep_rule} completable): {int(keep.sum())}; "
          f"regime half {int((keep & ood.regime).sum())} (the only ones a regime trains on), held-out half {int(held.sum())}")
    lengths = get_split(task, "length_prompts").lengths - 1
    print(f"Length prompts: {len(lengths)} prefixes of {lengths.min()}..{lengths.max()} symbols, positive probability "
          f"under {task.resized(2 * task.size).config}, probability zero under {task.config}")
    print("Trivial policies: stop-now scores "
          f"{sum(task.rules[task.keep_rule].holds(p) for p, k in zip(ood.words, keep) if k) / int(keep.sum()):.3f} on the "
          f"headline; best-constant {_best_constant_line(task)}")
    from rexbench.benchmark.icl_describe import icl_lines  # ICL tasks only (empty otherwise)

    for line in icl_lines(task):
        print(line)
    return 0


def _best_constant_line(task) -> str:
    from rexbench.benchmark.reference import best_constant

    c, hits, n = best_constant(task)
    return f"(completion {c or 'ε'!r}, then EOS) {hits}/{n} = {hits / n:.3f}"


def cmd_export(args: argparse.Namespace) -> int:
    task = _resolve(args.task, args.size)
    if task is None:
        return 2
    index = {}
    for name in SPLIT_NAMES:
        split = get_split(task, name)
        atomic_write_bytes(args.out / f"{name}.jsonl", split.jsonl())
        index[name] = {"sha256": split.sha256, "size": len(split)}
    atomic_write_json(args.out / "splits.json", {"suite_version": SUITE_VERSION, "task": task.config, "splits": index})
    print(f"wrote {len(index)} splits of {task.config} to {args.out}")
    return 0
