"""Training throughput of the baselines on this machine (prints, asserts nothing).

For each model, at batch 128 on one task's fixed width (default anbn: 66 tokens):

* compile time and steps/s of the fused training loop for a single seed (one compiled
  ``lax.scan`` over ``--steps`` updates, exactly the code of ``rexbench.baselines.train``, without
  the validation pass);
* the same for ``--seeds`` seeds in one program, with the seeds applied by ``jax.vmap``
  and by ``jax.lax.map`` (the CPU default of ``rexbench.baselines.train``), and the speed-up of each
  over training the seeds one after another (per step, and including compilation: the
  sequential runs pay one compile per run, as separate ``rexbench train`` calls would);
* the cost of one full ``val`` evaluation (1,000 sequences) per seed.

``--devices N`` instead times ``--seeds`` seeds on 1 local device and split over ``N``
(``jax.shard_map`` over the seed axis, as ``rexbench train --devices N``); on CPU the N
devices are virtual (``--xla_force_host_platform_device_count=N``), i.e. N XLA CPU
clients sharing this machine's cores. Each side runs in its own child process, the
1-device side **without** the virtual-device flag (a process started with N virtual
devices runs its one-device programs slower, which flattered the split in an earlier
version of this script that timed both sides in one flagged process); the children
alternate, ``--rounds`` times, and the table gives the medians over rounds. With
``--recipe-run`` each side times ``rexbench.baselines.train.train`` itself (packed rows where
the model supports them, as the grid trains; wall time minus compile time, which includes
one validation pass at the end) instead of the fused unpacked loop.

``--rulex`` instead times the rule-extrapolation code's Transformer configuration
(``transformer-rulex``) at its batch and sequence length: one seed, batch 128 x 66 tokens
of anbn (words <= 64 symbols, plus SOS and EOS), dropout on (the run's step keys), the
median per-step time of ``--steps`` compiled fused updates (``REPEATS`` timings); and one
validation pass, defined as a greedy decode of every prompt split (``id_prompts``,
``ood_prompts``, ``length_prompts``, the harness's ``greedy_split``, eval mode), timed
cold (compiles included) and warm (median of ``REPEATS``). To hold against the original
PyTorch code's 1.83 s per step and 19.8 s per validation pass on the 2-core reference CPU.

``--curves`` instead runs the recipe (vmapped seeds, validation every K steps) for
``--curve-steps`` steps and prints excess val loss (val_loss - optimal val loss) per
checkpoint: the measurements behind ``rexbench.baselines.recipe.STEPS`` (docs/RECIPE.md).

    python scripts/bench_train.py                      # all four models
    python scripts/bench_train.py --models transformer lstm --steps 20
    python scripts/bench_train.py --models mamba --seeds 1 --hyper d_state=16 d_model=64
    python scripts/bench_train.py --curves --models lstm --tasks anbn dyck --seeds 3 --curve-steps 2000
    python scripts/bench_train.py --devices 2 --models transformer lstm linear --seeds 4
    python scripts/bench_train.py --rulex --steps 10
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
SIDE = sys.argv[sys.argv.index("--side") + 1] if "--side" in sys.argv else None  # a --devices child's side
if SIDE is not None:  # XLA flags are read once, when JAX starts its backends
    from rexbench.baselines.sharding import SPMD_FLAG, add_xla_flags, host_device_flag

    # both sides as the CLI runs them (SPMD_FLAG always); only the split side gets N devices
    n_devices = int(sys.argv[sys.argv.index("--devices") + 1]) if SIDE == "split" else 1
    add_xla_flags(*([host_device_flag(n_devices)] if SIDE == "split" else []), SPMD_FLAG)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from rexbench.baselines.data import BatchStream, load_task_data, pad_to_multiple  # noqa: E402
from rexbench.baselines.models.registry import MODEL_NAMES, count_params, make_model  # noqa: E402
from rexbench.baselines.recipe import DEFAULT  # noqa: E402
from rexbench.baselines.sharding import SeedMesh  # noqa: E402
from rexbench.baselines.train import (  # noqa: E402
    VAL_BATCH,
    _val_loss,
    dropout_key,
    init_params,
    step_dropout_key,
    train,
    train_step,
)
from rexbench.tasks import get_split, get_task  # noqa: E402

REPEATS = 3  # timings are the median of this many runs (this VM's speed fluctuates)


def fused_loop(graphdef, tx, seed_axis: str, mesh: SeedMesh | None = None):
    """Single-program training loop over S stacked seeds (no validation), as in rexbench.baselines.train;
    with a ``mesh`` of several devices, under ``shard_map`` over the seed axis."""

    def run(params, opt_state, train_arr, idx_SKB):
        def one_seed(args):
            p, o, idx_KB = args

            def body(carry, idx_B):
                p, o = carry
                p, o, loss, _ = train_step(graphdef, tx, p, o, train_arr[idx_B])
                return (p, o), loss

            return jax.lax.scan(body, (p, o), idx_KB)

        stacked = (params, opt_state, idx_SKB)
        return jax.vmap(one_seed)(stacked) if seed_axis == "vmap" else jax.lax.map(one_seed, stacked)

    if mesh is not None and mesh.sharded:
        run = mesh.shard(run, (True, True, False, True))
    return jax.jit(run)


def time_seeds(name: str, data, seeds: list[int], steps: int, seed_axis: str = "map", devices: int = 1,
               **hyper) -> tuple[float, float]:
    """(compile seconds, seconds per step) of ``seeds`` trained together over ``devices``."""
    graphdef, params = init_params(name, data.vocab_size, seeds, **hyper)
    tx = DEFAULT.optimizer()
    opt_state = jax.vmap(tx.init)(params)
    streams = [BatchStream(s, len(data.train), DEFAULT.batch_size) for s in seeds]
    idx = jnp.asarray(np.stack([s.take(steps) for s in streams]))
    train_arr = jnp.asarray(data.train)
    mesh = SeedMesh(len(seeds), devices)
    if mesh.sharded:
        params, opt_state, idx = mesh.put_stacked((params, opt_state, idx))
        train_arr = mesh.put_replicated(train_arr)
    run = fused_loop(graphdef, tx, seed_axis, mesh)
    t0 = time.perf_counter()
    compiled = run.lower(params, opt_state, train_arr, idx).compile()
    t_compile = time.perf_counter() - t0
    jax.block_until_ready(compiled(params, opt_state, train_arr, idx))  # warm-up
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(params, opt_state, train_arr, idx))
        times.append(time.perf_counter() - t0)
    return t_compile, float(np.median(times)) / steps


def time_eval(name: str, data, **hyper) -> float:
    graphdef, params = init_params(name, data.vocab_size, [0], **hyper)
    params = jax.tree.map(lambda x: x[0], params)
    val = jnp.asarray(pad_to_multiple(data.val, VAL_BATCH).reshape(-1, VAL_BATCH, data.width))
    fn = jax.jit(lambda p, v: _val_loss(graphdef, p, v))
    jax.block_until_ready(fn(params, val))
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(params, val))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench(args: argparse.Namespace) -> None:
    task = get_task(args.task)
    data = load_task_data(task)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}, {os.cpu_count()} CPUs; task {task.name}, "
          f"width {data.width} tokens, batch {DEFAULT.batch_size}, {args.steps} fused steps"
          f"{f', model overrides {args.hyper}' if args.hyper else ''}\n")
    S = args.seeds
    header = ("model", "compile", "ms/step (1 seed)", "steps/s", f"ms/seed-step x{S} map", f"x{S} map speed-up",
              f"ms/seed-step x{S} vmap", f"x{S} vmap speed-up", "val eval/seed", "load avg")
    print(" | ".join(header))
    print(" | ".join("-" * len(h) for h in header))
    for name in args.models:
        load0 = os.getloadavg()[0]
        c1, s1 = time_seeds(name, data, [0], args.steps, **args.hyper)
        cm, sm = time_seeds(name, data, list(range(S)), args.steps, "map", **args.hyper)
        cv, sv = time_seeds(name, data, list(range(S)), args.steps, "vmap", **args.hyper)
        ev = time_eval(name, data, **args.hyper)
        n = args.budget_steps  # speed-up including compilation, for a run of this many steps
        sequential = S * (c1 + s1 * n)

        def speedup(c: float, s_: float) -> str:
            return f"{S * s1 / s_:.2f}x ({sequential / (c + s_ * n):.2f}x incl. compile)"

        print(f"{name} | {c1:.1f} s | {s1 * 1e3:.1f} | {1 / s1:.2f} | {sm / S * 1e3:.1f} | {speedup(cm, sm)} | "
              f"{sv / S * 1e3:.1f} | {speedup(cv, sv)} | {ev:.2f} s | {load0:.1f}-{os.getloadavg()[0]:.1f}", flush=True)
    print(f"\n'incl. compile': {S} sequential runs of {args.budget_steps} steps, one compile each, vs one joint run")


def scaling_side(args: argparse.Namespace) -> None:
    """A ``--devices`` child: one result per model, ms per seed-step of its side."""
    from sides import emit

    data = load_task_data(get_task(args.task))
    devices = n_devices  # set with the XLA flags at the top, before JAX started
    if jax.local_device_count() != devices:
        raise SystemExit(f"--side {SIDE}: {jax.local_device_count()} local devices, expected {devices}")
    for name in args.models:
        if args.recipe_run:  # the trainer itself: packed rows where the model supports them, one val pass at the end
            from rexbench.baselines.train import train

            run = train(name, args.task, list(range(args.seeds)), steps=args.steps, hyper=args.hyper, progress=False,
                        recipe=DEFAULT.replace(eval_every=args.steps), devices=devices, seed_axis="map")
            per_step = (run.wall_seconds - run.compile_seconds) / args.steps
        else:
            _, per_step = time_seeds(name, data, list(range(args.seeds)), args.steps, "map", devices, **args.hyper)
        emit({"model": name, "ms": per_step / args.seeds * 1e3})


def scaling(args: argparse.Namespace) -> None:
    import statistics

    from sides import run_sides

    S, N = args.seeds, args.devices
    what = ("rexbench.baselines.train.train (packed where supported; wall minus compile, one val pass, per step)"
            if args.recipe_run else "fused unpacked steps")
    print(f"jax {jax.__version__}, {os.cpu_count()} CPUs; task {args.task}, {S} seeds (lax.map), batch "
          f"{DEFAULT.batch_size}, {args.steps} {what}; each side in its own process, {args.rounds} rounds\n")
    argv = [os.path.abspath(__file__), "--devices", str(N), "--seeds", str(S), "--steps",
            str(args.steps), "--task", args.task, "--models", *args.models,
            *(["--hyper", *(f"{k}={v}" for k, v in args.hyper.items())] if args.hyper else []),
            *(["--recipe-run"] if args.recipe_run else [])]
    ms: dict[str, dict[str, list[float]]] = {side: {m: [] for m in args.models} for side in ("one", "split")}
    load0 = os.getloadavg()[0]
    for side, per_round in run_sides(argv, ("one", "split"), args.rounds).items():
        for row in (row for rows in per_round for row in rows):
            ms[side][row["model"]].append(row["ms"])
    header = ("model", "ms/seed-step, 1 device", f"ms/seed-step, {N} devices", "speed-up", "load avg")
    print(" | ".join(header))
    print(" | ".join("-" * len(h) for h in header))
    for name in args.models:
        one, many = statistics.median(ms["one"][name]), statistics.median(ms["split"][name])
        print(f"{name} | {one:.1f} | {many:.1f} | {one / many:.2f}x | {load0:.1f}-{os.getloadavg()[0]:.1f}")


def rulex(args: argparse.Namespace) -> None:
    """The ``--rulex`` timings (see the module docstring)."""
    from rexbench.benchmark.capabilities import greedy_split
    from rexbench.benchmark.protocol import as_model
    from rexbench.tasks.splits import PROMPT_SPLITS

    name, task = "transformer-rulex", get_task("anbn")
    data = load_task_data(task)
    load0 = os.getloadavg()
    graphdef, params = init_params(name, data.vocab_size, [0])
    params = jax.tree.map(lambda x: x[0], params)
    tx = DEFAULT.optimizer()
    idx = jnp.asarray(BatchStream(0, len(data.train), DEFAULT.batch_size).take(args.steps))
    train_arr, dkey = jnp.asarray(data.train), dropout_key(0)

    @jax.jit
    def run(p, o, idx_KB):
        def body(carry, xs):
            idx_B, step = xs
            p, o, loss, _ = train_step(graphdef, tx, *carry, train_arr[idx_B], key=step_dropout_key(dkey, step))
            return (p, o), loss
        return jax.lax.scan(body, (p, o), (idx_KB, jnp.arange(idx_KB.shape[0])))

    opt = tx.init(params)
    t0 = time.perf_counter()
    compiled = run.lower(params, opt, idx).compile()
    t_compile = time.perf_counter() - t0
    jax.block_until_ready(compiled(params, opt, idx))
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(params, opt, idx))
        times.append((time.perf_counter() - t0) / args.steps)
    model = as_model(make_model(name, task.vocab_size, seed=0), task.vocab_size)
    sizes = {s: len(get_split(task, s)) for s in PROMPT_SPLITS}

    def validation() -> float:
        t0 = time.perf_counter()
        for split in PROMPT_SPLITS:
            greedy_split(model, task, split, 0)
        return time.perf_counter() - t0

    cold = validation()
    warm = float(np.median([validation() for _ in range(REPEATS)]))
    print(f"jax {jax.__version__}, {os.cpu_count()} CPUs; {name} ({count_params(make_model(name, task.vocab_size)):,} "
          f"parameters), anbn width {data.width}, batch {DEFAULT.batch_size}, dropout on")
    print(f"train step: {float(np.median(times)):.4f} s median per step ({args.steps} fused steps x {REPEATS}; "
          f"all {[round(t, 4) for t in times]}), compile {t_compile:.1f} s   [original: 1.83 s]")
    print(f"validation pass (greedy decode of {sizes}): {warm:.2f} s warm (median of {REPEATS}), "
          f"{cold:.2f} s cold incl. compiles   [original: 19.8 s]")
    print(f"load average (1, 5, 15 min): before {tuple(round(x, 2) for x in load0)}, "
          f"after {tuple(round(x, 2) for x in os.getloadavg())}")


def curves(args: argparse.Namespace) -> None:
    seeds = list(range(args.seeds))
    for task_name in args.tasks:
        task = get_task(task_name)
        s, c = task.nll_sum_count(get_split(task, "val").words)
        opt = s / c
        for name in args.models:
            r = train(name, task, seeds, steps=args.curve_steps, progress=not args.quiet)
            print(f"\n{name} on {task_name}: optimal val {opt:.5f}; {r.wall_seconds:.0f} s wall "
                  f"({r.compile_seconds:.1f} s compile), {len(seeds)} seeds; best steps {r.best_step.tolist()}")
            print("step | excess val (mean over seeds) | min | max")
            for step, vals in r.val_curve:
                ex = np.asarray(vals) - opt
                print(f"{step} | {ex.mean():.4f} | {ex.min():.4f} | {ex.max():.4f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["transformer", "lstm", "linear", "mamba", "xlstm"],
                   choices=list(MODEL_NAMES))
    p.add_argument("--task", default="anbn")
    p.add_argument("--steps", type=int, default=20, help="fused steps per timing")
    p.add_argument("--budget-steps", type=int, default=250, help="run length for the speed-up incl. compile")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--curves", action="store_true", help="print validation curves instead of timings")
    p.add_argument("--rulex", action="store_true", help="time transformer-rulex: a train step at 128 x 66 and a validation pass")
    p.add_argument("--tasks", nargs="+", default=["anbn", "dyck"])
    p.add_argument("--curve-steps", type=int, default=2000)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--devices", type=int, default=None, help="time --seeds seeds on 1 vs this many local devices")
    p.add_argument("--rounds", type=int, default=2, help="with --devices: alternating child processes per side")
    p.add_argument("--side", choices=["one", "split"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--recipe-run", action="store_true",
                   help="with --devices: time train() itself (packed rows, as the grid trains) instead of the fused loop")
    p.add_argument("--hyper", nargs="*", default=[], metavar="KEY=INT",
                   help="model constructor overrides, e.g. --models mamba --hyper d_state=16 d_model=64")
    args = p.parse_args()
    try:
        args.hyper = {k: int(v) for k, v in (kv.split("=", 1) for kv in args.hyper)}
    except ValueError:
        p.error(f"--hyper takes KEY=INT pairs, got {args.hyper}")
    if args.devices is not None and args.devices < 2:
        p.error(f"--devices {args.devices}: compares 1 device with N >= 2")
    if args.steps < 1 or args.rounds < 1:
        p.error(f"--steps and --rounds must be >= 1, got {args.steps}, {args.rounds}")
    if args.side:
        scaling_side(args)
    else:
        curves(args) if args.curves else rulex(args) if args.rulex else scaling(args) if args.devices else bench(args)


if __name__ == "__main__":
    main()
