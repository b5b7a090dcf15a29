"""One seed's packed training step on one CPU device vs its rows split over N virtual devices.

    .venv/bin/python scripts/bench_row_split.py [--devices 2] [--models transformer lstm] [--steps 20] [--repeats 5]

A measurement behind docs/RECIPE.md (issue #12), not a feature: can a second XLA:CPU
device win what the one-device step leaves of the machine? The one-device side is the
trainer's step (``rexbench.baselines.train.sequence_loss``, AdamW, clipping) inside one
compiled ``lax.scan`` on the packed rows of a 1000-step run (as ``scripts/bench_vs_torch.py``).
The split side runs the same scan under ``jax.shard_map`` over N virtual CPU devices
(``--xla_force_host_platform_device_count``, set here before JAX starts): each device
takes R/N of the packed rows, its loss is its rows' NLL sum over the *global* target count
(one ``psum``), and the gradients are summed (``psum``) before the same optimizer update
on every device: the same update up to float reassociation (the script prints the largest
parameter difference after the scan). Timed alternately, ``--repeats`` times, after a
warm-up; prints ms per step min/median/max and the speed-up. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

N = int(sys.argv[sys.argv.index("--devices") + 1]) if "--devices" in sys.argv else 2
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={N}").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh, PartitionSpec  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_vs_torch import packed_batches  # noqa: E402  (the same packed steps as the PyTorch comparison)

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["transformer", "lstm"])
    ap.add_argument("--task", default="anbn")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    task = get_task(args.task)
    data = load_task_data(task)
    idx = BatchStream(0, len(data.train), DEFAULT.batch_size).take(args.steps)
    tokens, segments, rows = packed_batches(data, idx)
    extra = -rows % N  # empty rows (PAD, segment 0: no target) so that every device gets as many
    tokens = np.pad(tokens, ((0, 0), (0, extra), (0, 0)), constant_values=PAD)
    segments = np.pad(segments, ((0, 0), (0, extra), (0, 0)))
    tokens, segments = jnp.asarray(tokens), jnp.asarray(segments)
    mesh = Mesh(np.asarray(jax.devices()[:N]), (AXIS,))
    rows_spec = PartitionSpec(None, AXIS)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__}; "
          f"task {task.config}; packed {rows} rows (+{extra} empty) x {data.width}; {args.steps} steps x "
          f"{args.repeats} repeats; 1 device vs rows over {N} virtual devices")
    print(f"| model | 1 device ms/step min | median | max | {N} devices min | median | max | speed-up (median) "
          "| max param difference |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for model in args.models:
        graphdef, params = init_params(model, task.vocab_size, [0])
        params = jax.tree.map(lambda x: x[0], params)
        tx = DEFAULT.optimizer()
        state = (params, tx.init(params))
        one = jax.jit(scan_fn(graphdef, tx, False)).lower(*state, tokens, segments).compile()
        split = jax.jit(jax.shard_map(scan_fn(graphdef, tx, True), mesh=mesh,
                                      in_specs=(PartitionSpec(), PartitionSpec(), rows_spec, rows_spec),
                                      out_specs=(PartitionSpec(), PartitionSpec()), check_vma=False))
        split = split.lower(*state, tokens, segments).compile()
        (p1, _), _ = jax.block_until_ready(one(*state, tokens, segments))
        (p2, _), _ = jax.block_until_ready(split(*state, tokens, segments))
        diff = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2), strict=True))
        times: dict[str, list[float]] = {"one": [], "split": []}
        for _ in range(args.repeats):
            for name, fn in (("one", one), ("split", split)):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(*state, tokens, segments))
                times[name].append((time.perf_counter() - t0) / args.steps * 1e3)
        a, b = times["one"], times["split"]
        print(f"| {model} | {min(a):.1f} | {statistics.median(a):.1f} | {max(a):.1f} | {min(b):.1f} | "
              f"{statistics.median(b):.1f} | {max(b):.1f} | {statistics.median(a) / statistics.median(b):.2f}x | "
              f"{diff:.1e} |")


if __name__ == "__main__":
    main()
