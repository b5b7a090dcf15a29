"""xLSTM's full-sequence path vs the token-by-token one, side by side (issue #12).

Times one loss-and-gradient evaluation of the default xLSTM on a recipe batch (128 anbn
train sequences, 66 tokens) two ways in one process, alternating: ``model(tokens)`` (block
by block: projections over all tokens, parallel mLSTM memory, a scan for sLSTM only) and a
``jax.lax.scan`` of the decode cell ``model._step`` over the tokens (every layer inside the
scan: the path the model had before 2026-12-04). Prints min/median/max ms and the ratio,
and the largest loss/gradient difference between the two.

    python scripts/bench_xlstm.py [--repeats 7] [--layout msm]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax
import jax.numpy as jnp
from flax import nnx

from rexbench.baselines.models.xlstm import XLSTM
from rexbench.tasks import get_split


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--layout", default="msm")
    args = ap.parse_args()
    tokens_BW = jnp.asarray(get_split("anbn", "train").tokens(66)[:128])
    graphdef, params = nnx.split(XLSTM(5, rngs=nnx.Rngs(0), layout=args.layout))

    def stepwise(model: XLSTM, tokens_BT: jax.Array) -> jax.Array:
        x_TBD = jnp.swapaxes(model.embed(tokens_BT), 0, 1)
        _, logits_TBV = jax.lax.scan(model._step, model.init_cache(tokens_BT.shape[0], 0), x_TBD)
        return jnp.swapaxes(logits_TBV, 0, 1)

    def make(forward):
        def loss(p):
            logits = forward(nnx.merge(graphdef, p), tokens_BW[:, :-1])
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), tokens_BW[:, 1:, None], -1))
        return jax.jit(jax.value_and_grad(loss))

    fns = {"sequence (model(tokens))": make(lambda m, t: m(t)), "token by token (scan of _step)": make(stepwise)}
    outs = {name: jax.block_until_ready(f(params)) for name, f in fns.items()}  # compile
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.repeats):
        for name, f in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(params))
            times[name].append(1000 * (time.perf_counter() - t0))
    print(f"machine: {cpu_name()}, jax {jax.__version__}, {jax.device_count()} "
          f"{jax.default_backend()} device(s); xLSTM layout {args.layout}, batch 128 x 65 tokens")
    for name, ts in times.items():
        print(f"{name}: ms per loss+grad min {min(ts):.0f} median {statistics.median(ts):.0f} max {max(ts):.0f}")
    (new, old) = (statistics.median(ts) for ts in times.values())
    print(f"speed-up of the sequence path (median): {old / new:.2f}x")
    (la, ga), (lb, gb) = outs.values()
    diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(ga), jax.tree.leaves(gb), strict=True))
    print(f"loss {float(la):.7f} vs {float(lb):.7f}; largest gradient difference {diff:.2e}")


if __name__ == "__main__":
    main()
