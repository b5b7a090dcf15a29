"""``rexbench demo``: the README's main job, a short real demonstration on a laptop CPU.

It trains the Transformer and the LSTM on ``anbn`` (a few seeds together, the official
recipe with a short step budget), scores them with the fixed harness next to the two
oracles, the trivial policies (``stop-now``, ``best-constant``: they set the bar a trained
row must beat) and the uniform-random model, prints the loss-and-capability table and writes
the result files, ``leaderboard.md`` and the figure into ``--out``.
"""

from __future__ import annotations

import argparse

from rexbench.benchmark.commands.common import output_dir, positive_int, seed_list, task_name
from rexbench.benchmark.commands.train import enable_compilation_cache

DEMO_TASK = "anbn"
DEMO_MODELS = ("transformer", "lstm")
# every reference row: without the trivial policies the bar would be chance alone, and a
# model that merely stops at once would look as if it beat it
REFERENCES = ("oracle-keep", "oracle-break", "stop-now", "best-constant", "uniform")
DEMO_STEPS = 400


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train Transformer + LSTM on anbn, score them with the oracles and chance, print the table")
    p.add_argument("--out", type=output_dir, default="demo", help="output folder (default: demo/)")
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2], help="seeds trained together (default 0-2)")
    p.add_argument("--steps", type=positive_int, default=DEMO_STEPS, help=f"training steps per model (default {DEMO_STEPS})")
    p.add_argument("--task", default=DEMO_TASK, type=task_name, help=f"task (default {DEMO_TASK})")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    enable_compilation_cache()
    from tqdm.auto import tqdm

    from rexbench.baselines.reproduce import train_and_score
    from rexbench.benchmark.commands.leaderboard import write_leaderboard
    from rexbench.benchmark.leaderboard import group_rows, load_stores, task_table
    from rexbench.benchmark.loaders import load_model
    from rexbench.benchmark.results import write_result
    from rexbench.benchmark.score import score_model
    from rexbench.tasks import get_task

    task = get_task(args.task)  # unknown names raise with the valid list
    store, board = args.out / "results", args.out / "leaderboard.md"
    print(f"rexbench demo: {', '.join(DEMO_MODELS)} on {task.config}, seeds {args.seeds}, {args.steps} steps each\n")
    for model in DEMO_MODELS:
        train_and_score(model, task.name, args.seeds, store, steps=args.steps, save_checkpoints=False)
    refs = [(name, seed) for name in REFERENCES for seed in args.seeds]
    for name, seed in tqdm(refs, desc="scoring reference models", unit="run"):
        loaded = load_model(name, task)
        write_result(score_model(loaded.model, task, seed=seed, model_name=loaded.name), store)

    results, paths = load_stores([store])
    results = [r for r in results if r["task"] == task.name]
    write_leaderboard(results, paths, board, board.with_suffix(".html"), store / "figures", ["results/"])
    grouped = group_rows(results)
    print("\n" + "\n".join(task_table(grouped[task.name])))
    print(
        "\nSame test loss, different behaviour: the two oracles are both Bayes-optimal (excess_loss 0) yet "
        "extrapolate the kept rule perfectly vs never. Where do the trained models land?"
    )
    print(f"\nwrote {len(results)} result files to {store}, the table to {board} (and the page "
          f"{board.with_suffix('.html')}), the figure to {store / 'figures'}")
    return 0
