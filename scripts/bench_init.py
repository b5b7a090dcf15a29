"""Eager parameter init of S seeds: ``init_state`` under ``jax.vmap`` vs one key at a time.

    .venv/bin/python scripts/bench_init.py [--models transformer lstm mamba xlstm] [--seeds 5] [--rounds 2]

The measurement behind ``rexbench.baselines.models.registry.init_states`` (which initialises
one key at a time and stacks): each side runs in its own fresh child process with JAX's
persistent compilation cache off, so both pay their compiles, as the first ``train`` of a
process does. A child times a first init of ``--seeds`` keys, then a second of a different
seed count (S + 1: what the vmapped init compiles again and the per-key init does not).
Sides alternate, ``--rounds`` times. Prints seconds (first / second init, min over rounds)
and whether both sides gave the same parameters bit for bit. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sides import emit, run_sides  # noqa: E402

SIDES = ("vmap", "per-key")


def child(side: str, model: str, seeds: int) -> dict[str, object]:
    import hashlib

    import jax
    import jax.numpy as jnp
    import numpy as np

    from rexbench.baselines.models.registry import init_state, init_states
    from rexbench.baselines.train import init_key

    def init(n: int) -> object:
        keys = jnp.stack([init_key(s) for s in range(n)])
        if side == "vmap":
            return jax.vmap(lambda k: init_state(model, 5, k)[1])(keys)
        return init_states(model, 5, keys)[1]

    times = []
    for n in (seeds, seeds + 1):
        t = time.perf_counter()
        state = jax.block_until_ready(init(n))
        times.append(time.perf_counter() - t)
    digest = hashlib.sha256(b"".join(np.asarray(x).tobytes() for x in jax.tree.leaves(state))).hexdigest()
    return {"first": times[0], "second": times[1], "digest": digest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["transformer", "lstm", "mamba", "xlstm"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--side", choices=SIDES, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        [model] = args.models
        emit(child(args.side, model, args.seeds))
        return
    env = dict(os.environ, JAX_PLATFORMS="cpu", REXBENCH_JAX_CACHE="off")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; S = {args.seeds}, then S + 1")
    print("| model | vmap first / second (s) | per key first / second (s) | first-init speed-up | bit-identical |")
    print("|---|--:|--:|--:|---|")
    for model in args.models:
        argv = [os.path.abspath(__file__), "--seeds", str(args.seeds), "--models", model]
        runs = {side: [out for [out] in per_round] for side, per_round in
                run_sides(argv, SIDES, args.rounds, env).items()}
        best = {side: (min(r["first"] for r in runs[side]), min(r["second"] for r in runs[side])) for side in SIDES}
        same = len({r["digest"] for side in SIDES for r in runs[side]}) == 1
        (vf, vs), (pf, ps) = best["vmap"], best["per-key"]
        print(f"| {model} | {vf:.2f} / {vs:.2f} | {pf:.2f} / {ps:.2f} | {vf / pf:.2f}x | {same} |", flush=True)


if __name__ == "__main__":
    main()
