"""``rexbench finetune --source CKPT [CKPT ...] --target TASK[:SIZE] --out DIR [--alphas ...]``.

Fine-tunes each source checkpoint and its exact rescaled twins (same function, same
loss, same capabilities; :mod:`rexbench.baselines.reparam`) on the target with one
protocol, and writes one JSON per (source, optimiser) with every twin's curve,
``steps_to_tau``, ``mean_excess``, the target's headline family and source retention
(:mod:`rexbench.benchmark.finetune_records`). It prints the spread of fine-tuning
efficiency over the twins of each source (identical source loss) next to the spread over
the sources (different seeds, at matched loss). Records written into ``<store>/finetune``
(``--out results/finetune``) join the leaderboard's fine-tunability section and figure.
"""

from __future__ import annotations

import argparse
import sys
import time

from rexbench.benchmark.commands.common import output_dir, positive_int, task_spec

OPTIMIZERS = ("adamw", "sgd")


def _alphas(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(v > 0 for v in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"invalid --alphas {text!r}: distinct positive numbers, e.g. 0.1,1,10")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune checkpoints and their exact rescaled twins on a target task")
    p.add_argument("--source", nargs="+", required=True, help="checkpoint directories (ckpt:DIR or DIR)")
    p.add_argument("--target", required=True, type=task_spec, help="target task, e.g. anbn:64 (anbn at doubled N)")
    p.add_argument("--alphas", type=_alphas, default=[0.1, 1.0, 10.0], help="rescalings (default 0.1,1,10)")
    p.add_argument("--optimizers", nargs="+", choices=OPTIMIZERS, default=list(OPTIMIZERS))
    p.add_argument("--steps", type=positive_int, default=200, help="fine-tuning steps (default 200)")
    p.add_argument("--eval-every", type=positive_int, default=10)
    p.add_argument("--tau", type=float, default=0.01, help="target excess val loss to reach, nats/token (default 0.01)")
    p.add_argument("--out", type=output_dir, default="runs/finetune",
                   help="output directory (default runs/finetune; results/finetune adds to the store)")
    p.set_defaults(func=cmd_finetune)


def cmd_finetune(args: argparse.Namespace) -> int:
    import jax

    from rexbench.baselines.checkpoint import CheckpointError, load_checkpoint, read_meta
    from rexbench.baselines.finetune import FinetuneConfig, finetune
    from rexbench.baselines.reparam import RESCALABLE
    from rexbench.benchmark import __version__
    from rexbench.benchmark.fileio import atomic_write_json
    from rexbench.benchmark.finetune_records import record_name, summarise
    from rexbench.benchmark.manifest import device_description, utc_now
    from rexbench.tasks import SUITE_VERSION, get_task

    if args.steps % args.eval_every:
        print(f"rexbench finetune: --steps {args.steps} must be a multiple of --eval-every {args.eval_every}",
              file=sys.stderr)
        return 2
    sources = []
    for spec in args.source:  # every source is loaded and checked before any training
        path = spec.removeprefix("ckpt:")
        try:
            meta = read_meta(path)
            model = load_checkpoint(path)
        except CheckpointError as err:
            print(f"rexbench finetune: {err}", file=sys.stderr)
            return 2
        if meta["model"] not in RESCALABLE:
            print(f"rexbench finetune: {path}: model {meta['model']!r} has no exact rescaling; "
                  f"valid: {', '.join(RESCALABLE)}", file=sys.stderr)
            return 2
        source_task = get_task(meta["task"], meta.get("task_size"))
        if source_task.vocab_size != args.target.vocab_size:
            print(f"rexbench finetune: {path}: source {source_task.config} and target {args.target.config} "
                  "do not share the vocabulary", file=sys.stderr)
            return 2
        sources.append((path, meta, model, source_task))
    records = []
    for opt in args.optimizers:
        config = FinetuneConfig(optimizer=opt, steps=args.steps, eval_every=args.eval_every, tau=args.tau)
        for path, meta, model, source_task in sources:
            started = time.perf_counter()
            runs = finetune(model, source_task, args.target, args.alphas, config, score_seed=int(meta["seed"]))
            record = {
                "benchmark": "rexbench", "kind": "finetune", "suite_version": SUITE_VERSION,
                "source": {"checkpoint": str(path), "task": source_task.name, "task_config": source_task.config, "model": meta.get("result_model", meta["model"]),
                           "architecture": meta["model"], "seed": int(meta["seed"]), "train_steps": meta.get("steps")},
                "target": {"name": args.target.name, "size": args.target.size, "config": args.target.config},
                "config": config.as_dict(),
                "runs": [{k: v for k, v in r.items() if k != "model"} for r in runs],
                "manifest": {"rexbench_version": __version__, "jax": jax.__version__, "device": device_description(),
                             "seconds": round(time.perf_counter() - started, 1), "created": utc_now()},
            }
            out = args.out / record_name(record)
            atomic_write_json(out, record)
            print(f"wrote {out} ({record['manifest']['seconds']} s)")
            records.append(record)
    print(f"\nmean target excess over the run (nats/token; smaller = learnt faster), target {args.target.config}:")
    for row in summarise(records):
        print("  " + summary_line(row))
    return 0


def summary_line(row: dict) -> str:
    """``twins`` = max − min of ``mean_excess`` over one source's rescalings (mean over
    sources); ``seeds`` = max − min over the sources at α = 1 (or the first α)."""
    def fmt(x: float | None) -> str:
        return "diverged" if x is None else f"{x:.4f}"

    twin = [t["max_minus_min"] for t in row["twin_spread"]]
    twin_mean = None if any(t is None for t in twin) else sum(twin) / len(twin)
    alpha = 1.0 if 1.0 in row["alphas"] else row["alphas"][0]
    seed = row["seed_spread"][alpha]["max_minus_min"]
    matched = "matched" if row["seeds_matched"] else f"NOT matched (range {row['seed_source_loss_range']:.4f})"
    return (f"{row['model']} {row['optimizer']}: spread over twins {fmt(twin_mean)} (mean over {len(twin)} sources); "
            f"over seeds at alpha {alpha:g} {fmt(seed)} (source losses {matched})")
