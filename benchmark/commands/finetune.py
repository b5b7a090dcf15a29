"""``rexbench finetune --source CKPT [CKPT ...] --target TASK[:SIZE] --out DIR [--alphas ...]``.

Fine-tunes each source checkpoint and its exact rescaled twins (same function, same
loss, same capabilities; :mod:`rexbench.baselines.reparam`) on the target with one
protocol, and writes one JSON per (source, optimiser) with every twin's curve,
``steps_to_tau``, ``mean_excess`` and source retention
(:mod:`rexbench.baselines.finetune`), plus a figure of the curves. It prints the spread
of fine-tuning efficiency over the twins of each source (identical source loss) next to
the spread over the sources (different seeds, at matched loss).
"""

from __future__ import annotations

import argparse
import sys

from rexbench.benchmark.commands.common import output_dir, positive_int

OPTIMIZERS = ("adamw", "sgd")


def _alphas(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(v > 0 for v in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"invalid --alphas {text!r}: distinct positive numbers, e.g. 0.1,1,10")
    return values


def _target(text: str):
    from rexbench.tasks import UnknownTaskError, get_task

    name, _, size = text.partition(":")
    try:
        return get_task(name, int(size) if size else None)
    except (UnknownTaskError, ValueError) as err:
        raise argparse.ArgumentTypeError(f"invalid --target {text!r}: {err}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune checkpoints and their exact rescaled twins on a target task")
    p.add_argument("--source", nargs="+", required=True, help="checkpoint directories (ckpt:DIR or DIR)")
    p.add_argument("--target", required=True, type=_target, help="target task, e.g. anbn:64 (anbn at doubled N)")
    p.add_argument("--alphas", type=_alphas, default=[0.1, 1.0, 10.0], help="rescalings (default 0.1,1,10)")
    p.add_argument("--optimizers", nargs="+", choices=OPTIMIZERS, default=list(OPTIMIZERS))
    p.add_argument("--steps", type=positive_int, default=200, help="fine-tuning steps (default 200)")
    p.add_argument("--eval-every", type=positive_int, default=10)
    p.add_argument("--tau", type=float, default=0.01, help="target excess val loss to reach, nats/token (default 0.01)")
    p.add_argument("--out", required=True, type=output_dir, help="output directory")
    p.set_defaults(func=cmd_finetune)


def cmd_finetune(args: argparse.Namespace) -> int:
    from rexbench.baselines.checkpoint import CheckpointError, load_checkpoint, read_meta
    from rexbench.baselines.finetune import FinetuneConfig, finetune, spread
    from rexbench.baselines.reparam import RESCALABLE
    from rexbench.benchmark.fileio import atomic_write_json
    from rexbench.tasks import get_task

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
        source_task = get_task(meta["task"])
        if source_task.vocab_size != args.target.vocab_size:
            print(f"rexbench finetune: {path}: source {source_task.config} and target {args.target.config} "
                  "do not share the vocabulary", file=sys.stderr)
            return 2
        sources.append((path, meta, model, source_task))
    table = []
    for opt in args.optimizers:
        config = FinetuneConfig(optimizer=opt, steps=args.steps, eval_every=args.eval_every, tau=args.tau)
        per_source = []
        for path, meta, model, source_task in sources:
            runs = finetune(model, source_task, args.target, args.alphas, config)
            name = f"{meta.get('result_model', meta['model'])}-seed{meta['seed']}"
            record = {
                "benchmark": "rexbench", "kind": "finetune", "source": {"path": path, "task": source_task.config,
                                                                       "model": meta["model"], "seed": meta["seed"]},
                "target": args.target.config, "config": config.as_dict(),
                "runs": [{k: v for k, v in r.items() if k != "model"} for r in runs],
            }
            out = args.out / f"finetune__{name}__{args.target.name}{args.target.size}__{opt}.json"
            atomic_write_json(out, record)
            print(f"wrote {out}")
            per_source.append(record["runs"])
        twins = [spread([r["mean_excess"] for r in runs]) for runs in per_source]
        by_alpha = [spread([runs[i]["mean_excess"] for runs in per_source]) for i in range(len(args.alphas))]
        table.append((opt, twins, by_alpha))
    print(f"\nmean target excess over the run (nats/token; smaller = learnt faster), target {args.target.config}:")
    for opt, twins, by_alpha in table:
        twin_spreads = ", ".join(f"{t['max_minus_min']:.4f}" for t in twins)
        seed_spreads = ", ".join(f"{s['max_minus_min']:.4f}" for s in by_alpha)
        print(f"  {opt}: spread over twins (per source): {twin_spreads}; over sources (per alpha): {seed_spreads}")
    return 0
