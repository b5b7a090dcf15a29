"""One seed's packed training step on one CPU device vs its rows split over N virtual devices.

    .venv/bin/python scripts/bench_row_split.py [--devices 2] [--models transformer lstm] [--steps 20] [--repeats 5] [--rounds 2]

A measurement behind docs/RECIPE.md (issue #12), not a feature: can a second XLA:CPU
device win what the one-device step leaves of the machine? The one-device side is the
trainer's step (``rexbench.baselines.train.sequence_loss``, AdamW, clipping) inside one
compiled ``lax.scan`` on the packed rows of a 1000-step run (as ``scripts/bench_vs_torch.py``).
The split side runs the same scan under ``jax.shard_map`` over N virtual CPU devices
(``--xla_force_host_platform_device_count``, set here before JAX starts): each device
takes R/N of the packed rows, its loss is its rows' NLL sum over the *global* target count
(one ``psum``), and the gradients are summed (``psum``) before the same optimizer update
on every device: the same update up to float reassociation (the script prints the largest
parameter difference after the scan). Each side runs in its own child process, the
one-device side **without** the virtual-device flag (a process with N virtual devices may
give its first device fewer threads, which would flatter the split); the children
alternate, ``--rounds`` times each, and each times ``--repeats`` scans after a warm-up.
Prints ms per step min/median/max over all timings and the speed-up. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

N = int(sys.argv[sys.argv.index("--devices") + 1]) if "--devices" in sys.argv else 2
SIDE = sys.argv[sys.argv.index("--side") + 1] if "--side" in sys.argv else None  # a child's side
if SIDE == "split":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={N}").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh, PartitionSpec  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_vs_torch import packed_batches  # noqa: E402  (the same packed steps as the PyTorch comparison)
from sides import emit, run_sides  # noqa: E402

from rexbench.baselines.data import BatchStream, load_task_data  # noqa: E402
from rexbench.baselines.recipe import DEFAULT  # noqa: E402
from rexbench.baselines.train import init_params, sequence_loss  # noqa: E402
from rexbench.tasks import PAD, get_task  # noqa: E402

AXIS = "rows"


def scan_fn(graphdef, tx, split: bool):
    """K packed updates of one seed; with ``split``, this device's rows of each step."""

    def step(carry, xs):
        params, opt_state = carry
        tokens_RW, segments_RW = xs

        def loss(p):
            total, count = sequence_loss(graphdef, p, tokens_RW, segments_BW=segments_RW)
            if split:
                count = jax.lax.psum(count, AXIS)
            return total / count.astype(jnp.float32)

        value, grads = jax.value_and_grad(loss)(params)
        if split:
            value, grads = jax.lax.psum((value, grads), AXIS)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    return lambda params, opt_state, tokens, segments: jax.lax.scan(step, (params, opt_state), (tokens, segments))


def child(args: argparse.Namespace) -> None:
    """Times one side for each model; prints one JSON line: {model: [ms per step, ...],
    f"{model}_params": [every parameter after the scan], and the batch shape}."""
    task = get_task(args.task)
    data = load_task_data(task)
    idx = BatchStream(0, len(data.train), DEFAULT.batch_size).take(args.steps)
    tokens, segments, rows = packed_batches(data, idx)
    extra = -rows % N  # empty rows (PAD, segment 0: no target) so that every device gets as many
    tokens = jnp.asarray(np.pad(tokens, ((0, 0), (0, extra), (0, 0)), constant_values=PAD))
    segments = jnp.asarray(np.pad(segments, ((0, 0), (0, extra), (0, 0))))
    out: dict[str, object] = {"rows": rows, "extra": extra, "width": data.width, "task": task.config}
    for model in args.models:
        graphdef, params = init_params(model, task.vocab_size, [0])
        params = jax.tree.map(lambda x: x[0], params)
        tx = DEFAULT.optimizer()
        state = (params, tx.init(params))
        if SIDE == "split":
            mesh = Mesh(np.asarray(jax.devices()[:N]), (AXIS,))
            rows_spec = PartitionSpec(None, AXIS)
            fn = jax.jit(jax.shard_map(scan_fn(graphdef, tx, True), mesh=mesh,
                                       in_specs=(PartitionSpec(), PartitionSpec(), rows_spec, rows_spec),
                                       out_specs=(PartitionSpec(), PartitionSpec()), check_vma=False))
        else:
            fn = jax.jit(scan_fn(graphdef, tx, False))
        compiled = fn.lower(*state, tokens, segments).compile()
        (p, _), _ = jax.block_until_ready(compiled(*state, tokens, segments))
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(*state, tokens, segments))
            times.append((time.perf_counter() - t0) / args.steps * 1e3)
        out[model] = times
        out[f"{model}_params"] = [np.asarray(x).ravel().tolist() for x in jax.tree.leaves(p)]
    emit(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--side", choices=("one", "split"), default=None, help=argparse.SUPPRESS)
    ap.add_argument("--models", nargs="+", default=["transformer", "lstm"])
    ap.add_argument("--task", default="anbn")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if args.side:
        return child(args)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    runs = {side: [out for [out] in per_round] for side, per_round in
            run_sides([os.path.abspath(__file__), *sys.argv[1:]], ("one", "split"), args.rounds, env).items()}
    info = runs["one"][0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__}; "
          f"task {info['task']}; packed {info['rows']} rows (+{info['extra']} empty) x {info['width']}; "
          f"{args.steps} steps x {args.repeats} repeats x {args.rounds} rounds per side, alternating processes; "
          f"1 device (no flag) vs rows over {N} virtual devices")
    print(f"| model | 1 device ms/step min | median | max | {N} devices min | median | max | speed-up (median) "
          "| max param difference |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for model in args.models:
        a = [t for r in runs["one"] for t in r[model]]
        b = [t for r in runs["split"] for t in r[model]]
        diff = max(float(np.abs(np.asarray(x) - np.asarray(y)).max()) for x, y in
                   zip(runs["one"][0][f"{model}_params"], runs["split"][0][f"{model}_params"], strict=True))
        print(f"| {model} | {min(a):.1f} | {statistics.median(a):.1f} | {max(a):.1f} | {min(b):.1f} | "
              f"{statistics.median(b):.1f} | {max(b):.1f} | {statistics.median(a) / statistics.median(b):.2f}x | "
              f"{diff:.1e} |")


if __name__ == "__main__":
    main()
