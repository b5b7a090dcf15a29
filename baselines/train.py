"""Training: every seed of one (model, task, regime) at once, in compiled code.

One run trains ``S`` seeds together: the parameters and optimizer states of all seeds
are stacked on a leading axis, and one compiled program serves all seeds. The loop lives
in compiled code: one call of the compiled *chunk* runs, for every seed,
``Recipe.eval_every`` (K) updates with ``jax.lax.scan`` (the batch row indices of those K
steps are the scan inputs; the training array stays resident on the device), then the
loss on the whole ``val`` split, then keeps (``jnp.where`` over the parameter tree, inside
the program) the parameters of the lowest ``val_loss`` seen so far. The per-seed program
is applied to the stacked seeds with ``jax.lax.map`` (default on CPU, where it measured
faster) or ``jax.vmap`` (default on accelerators; ``seed_axis`` chooses). The host only
prepares the next S x K x 128 indices and updates the progress bar. With several local
devices, the stacked seeds are split over them (``devices``; :mod:`rexbench.baselines.sharding`).

Determinism: seed ``s`` initialises from ``jax.random.fold_in(jax.random.key(s), 0)``
and draws its batch order from ``numpy.random.default_rng(s)`` (a regime's extra batches
from ``default_rng([s, 1])``); a model with dropout draws the masks of its update at
0-based step ``t`` from ``fold_in(fold_in(key(s), 2), t)`` (:func:`step_dropout_key`;
unused by a model without dropout, whose numbers are unchanged by it); nothing else is random, and no global state is used. A
seed's numbers do not depend on which other seeds it is trained with (up to float
reassociation, ~1e-6), nor on how many devices trained it (bit-identical with ``lax.map``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from rexbench.baselines.data import BatchStream, TaskData, load_task_data, pad_to_multiple
from rexbench.baselines.models.dropout import active_dropout
from rexbench.baselines.models.registry import count_params, init_states
from rexbench.baselines.packing import layout, packed_targets_mask, plan_steps, rows_needed, sequence_lengths
from rexbench.baselines.recipe import CHECKPOINT_RULE, DEFAULT, Recipe, steps_for
from rexbench.baselines.regimes import RegimeData, check_regime, regime_data
from rexbench.baselines.sharding import SeedMesh
from rexbench.baselines.snapshot import Snapshot, data_digest, load_snapshot, plan_of, save_snapshot
from rexbench.benchmark.loss import token_nll
from rexbench.tasks import PAD, Task, get_task

PyTree = Any
INIT_STREAM = 0  # fold_in index of the init key
REGIME_STREAM = 1  # second entry of the regime batch-order seed
DROPOUT_STREAM = 2  # fold_in index of the dropout key (then folded with the step)
SNAPSHOT_EVERY = 60.0  # seconds between training snapshots, about (a few MB each; rexbench.baselines.snapshot)
VAL_BATCH = 250  # val rows per forward pass inside the eval (divides the 1,000 val rows)


# --------------------------------------------------------------------------- keys
def init_key(seed: int) -> jax.Array:
    return jax.random.fold_in(jax.random.key(seed), INIT_STREAM)


def dropout_key(seed: int) -> jax.Array:
    """Raw (uint32) data of seed ``seed``'s dropout key; raw so that it crosses jit,
    ``lax.map`` and ``shard_map`` as a plain array."""
    return jax.random.key_data(jax.random.fold_in(jax.random.key(seed), DROPOUT_STREAM))


def step_dropout_key(key_data: jax.Array, step: jax.Array | int) -> jax.Array:
    """The key of the masks of the update at 0-based ``step``, from :func:`dropout_key`'s data."""
    return jax.random.fold_in(jax.random.wrap_key_data(key_data), step)


def init_params(model_name: str, vocab_size: int, seeds: Sequence[int], **hyper: Any) -> tuple[nnx.GraphDef, nnx.State]:
    """Stacked initial parameters ``[S, ...]`` of ``seeds`` (slice s = that seed alone)."""
    keys = jnp.stack([init_key(int(s)) for s in seeds])
    return init_states(model_name, vocab_size, keys, **hyper)


# --------------------------------------------------------------------------- loss
def nll_sum_count(logits_BTV: jax.Array, targets_BT: jax.Array, mask_BT: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(sum of nats over masked targets, number of masked targets), in float32; the
    per-token loss is the harness's (:func:`rexbench.benchmark.loss.token_nll`)."""
    nll_BT = jnp.where(mask_BT, token_nll(logits_BTV, targets_BT), 0.0)
    return nll_BT.sum(), mask_BT.sum(dtype=jnp.int32)


def sequence_loss(graphdef: nnx.GraphDef, params: nnx.State, tokens_BW: jax.Array, mask_BT: jax.Array | None = None,
                  rngs: nnx.Rngs | None = None, segments_BW: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """(sum, count) of the NLL of ``tokens_BW`` (inputs ``[:, :-1]``, targets ``[:, 1:]``).

    Default mask: every target that is not PAD (i.e. every token after SOS through EOS).
    ``rngs``: dropout on (train mode) for a model that has any; None = deterministic.
    ``segments_BW``: packed rows (:mod:`rexbench.baselines.packing`); the mask is then every
    target in the same segment as its input, which is the same set of targets.
    """
    inputs_BT, targets_BT = tokens_BW[:, :-1], tokens_BW[:, 1:]
    model = nnx.merge(graphdef, params)
    kw: dict[str, Any] = {}
    # only a model with dropout sites takes the keyword (trace-time check, not traced)
    if rngs is not None and active_dropout(model):
        kw["rngs"] = rngs
    if segments_BW is None:
        mask_BT = targets_BT != PAD if mask_BT is None else mask_BT
    else:
        mask_BT = packed_targets_mask(segments_BW)
        kw["segments_BT"] = segments_BW[:, :-1]
    return nll_sum_count(model(inputs_BT, **kw), targets_BT, mask_BT)


def _mean(s: jax.Array, c: jax.Array) -> jax.Array:
    return s / jnp.maximum(c, 1).astype(jnp.float32)


def training_loss(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    tokens_BW: jax.Array,
    extra_tokens: jax.Array | None = None,
    extra_mask: jax.Array | None = None,
    regime_weight: float = 1.0,
    key: jax.Array | None = None,
    segments_BW: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """(objective, mean train NLL): mean NLL of the batch, plus ``regime_weight`` x the mean
    NLL over the completion positions of the regime's extra batch (when given). ``key``:
    the step's dropout key (:func:`step_dropout_key`); None = no dropout. ``segments_BW``:
    the batch is packed (:mod:`rexbench.baselines.packing`)."""
    rngs = None if key is None else nnx.Rngs(dropout=key)  # one stream: every mask of the step differs
    main = _mean(*sequence_loss(graphdef, params, tokens_BW, rngs=rngs, segments_BW=segments_BW))
    loss = main
    if extra_tokens is not None:
        loss = loss + regime_weight * _mean(*sequence_loss(graphdef, params, extra_tokens, extra_mask, rngs))
    return loss, main


def train_step(
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    params: nnx.State,
    opt_state: PyTree,
    tokens_BW: jax.Array,
    extra_tokens: jax.Array | None = None,
    extra_mask: jax.Array | None = None,
    regime_weight: float = 1.0,
    key: jax.Array | None = None,
    segments_BW: jax.Array | None = None,
) -> tuple[nnx.State, PyTree, jax.Array, jax.Array]:
    """One update of one seed: returns (params, opt_state, objective, gradient global norm
    before clipping). ``key``: the step's dropout key (None = no dropout); ``segments_BW``:
    packed rows (None = one sequence per row)."""
    grad_fn = jax.value_and_grad(training_loss, argnums=1, has_aux=True)
    (loss, _), grads = grad_fn(graphdef, params, tokens_BW, extra_tokens, extra_mask, regime_weight, key, segments_BW)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, optax.tree.norm(grads)


def first_step_stats(model_name: str, vocab_size: int, tokens_BW: np.ndarray, seed: int = 0, recipe: Recipe = DEFAULT, **hyper: Any) -> tuple[float, float]:
    """(loss, gradient global norm) of the first update of ``seed`` on ``tokens_BW``:
    the golden values of the regression tests."""
    graphdef, params = init_params(model_name, vocab_size, [seed], **hyper)
    params = jax.tree.map(lambda x: x[0], params)
    tx = recipe.optimizer()
    fn = jax.jit(partial(train_step, graphdef, tx))
    _, _, loss, gnorm = fn(params, tx.init(params), jnp.asarray(tokens_BW))
    return float(loss), float(gnorm)


# --------------------------------------------------------------------------- compiled chunk
def _val_loss(graphdef: nnx.GraphDef, params: nnx.State, val_CBW: jax.Array) -> jax.Array:
    """Mean NLL of one seed on the whole val split, given as ``[chunks, VAL_BATCH, W]``."""
    sums, counts = jax.lax.map(lambda tok: sequence_loss(graphdef, params, tok), val_CBW)
    return sums.sum() / counts.sum().astype(jnp.float32)


SEED_AXES: tuple[str, ...] = ("auto", "map", "vmap")


def supports_packing(graphdef: nnx.GraphDef) -> bool:
    """Whether the model's ``__call__`` takes ``segments_BT`` (its class says so)."""
    return bool(getattr(graphdef.nodes[0].type, "supports_packing", False))  # nodes[0]: the root module


def resolve_seed_axis(seed_axis: str) -> str:
    """``"auto"``: ``"map"`` on CPU (measured faster there), ``"vmap"`` on accelerators."""
    if seed_axis not in SEED_AXES:
        raise ValueError(f"seed_axis must be one of {SEED_AXES}, got {seed_axis!r}")
    if seed_axis == "auto":
        return "map" if jax.default_backend() == "cpu" else "vmap"
    return seed_axis


def make_chunk_fn(graphdef: nnx.GraphDef, tx: optax.GradientTransformation, regime_weight: float, has_extra: bool,
                  seed_axis: str = "auto", seed_mesh: SeedMesh | None = None, packed: bool = False):
    """The compiled unit, for S stacked seeds: K updates (``lax.scan``), the val loss, and
    the best-parameters update (``jnp.where``), all in one program.

    ``seed_axis`` says how the per-seed program is applied to the stacked seeds:
    ``"vmap"`` (``jax.vmap``: batched matmuls over seeds) or ``"map"`` (``jax.lax.map``: the
    seeds one after another inside the same program, with plain matmuls). Both give one
    compiled program for all seeds; on the 2-core CPU ``"map"`` measured 5-30% faster per
    seed-step than ``"vmap"`` (scripts/bench_train.py), so ``"auto"`` picks it there and
    ``"vmap"`` on accelerators.

    With a ``seed_mesh`` of several devices the same program runs under ``jax.shard_map``,
    each device on its block of seeds (:mod:`rexbench.baselines.sharding`).
    """
    seed_axis = resolve_seed_axis(seed_axis)

    def chunk(params, opt_state, best_params, best_val, best_step, step_end, train, idx_SKB, extra_tokens, extra_mask, eidx_SKB, val_CBW, dkey_S):
        def one_seed(args):
            p, o, bp, bv, bs, idx_KB, eidx_KB, dkey = args
            K = idx_KB.shape[0]
            step_K = step_end - K + jnp.arange(K, dtype=jnp.int32)  # 0-based index of each update

            def body(carry, xs):
                p, o = carry
                idx_B, eidx_B, step = xs
                key = step_dropout_key(dkey, step)  # dead code for a model without dropout
                if packed:  # idx_B is the step's layout [R, W, 2] and train the flat tokens + PAD
                    tokens, segments = train[idx_B[..., 0]], idx_B[..., 1]
                else:
                    tokens, segments = train[idx_B], None
                if has_extra:
                    p, o, loss, gnorm = train_step(graphdef, tx, p, o, tokens, extra_tokens[eidx_B], extra_mask[eidx_B],
                                                   regime_weight, key, segments)
                else:
                    p, o, loss, gnorm = train_step(graphdef, tx, p, o, tokens, key=key, segments_BW=segments)
                return (p, o), (loss, gnorm)

            (p, o), (loss_K, gnorm_K) = jax.lax.scan(body, (p, o), (idx_KB, eidx_KB, step_K))
            val = _val_loss(graphdef, p, val_CBW)
            better = val < bv  # NaN is never better
            bp = jax.tree.map(lambda n, b: jnp.where(better, n, b), p, bp)
            return p, o, bp, jnp.where(better, val, bv), jnp.where(better, step_end, bs), loss_K, gnorm_K, val

        stacked = (params, opt_state, best_params, best_val, best_step, idx_SKB, eidx_SKB, dkey_S)
        if seed_axis == "vmap":
            return jax.vmap(one_seed)(stacked)
        return jax.lax.map(one_seed, stacked)

    if seed_mesh is not None and seed_mesh.sharded:
        chunk = seed_mesh.shard(chunk, CHUNK_STACKED)
    return jax.jit(chunk, donate_argnums=(0, 1, 2))


# Which arguments of the chunk carry the seed axis (the others are replicated on every device).
CHUNK_STACKED = (True, True, True, True, True, False, False, True, False, False, True, False, True)


# --------------------------------------------------------------------------- result
@dataclass
class TrainResult:
    """What one run returns: per-seed best parameters and the curves that chose them."""

    model_name: str
    task: str
    regime: str
    seeds: tuple[int, ...]
    hyper: dict[str, Any]
    recipe: Recipe
    graphdef: nnx.GraphDef
    best_params: nnx.State  # leaves [S, ...]
    best_val_loss: np.ndarray  # [S]
    best_step: np.ndarray  # [S]
    steps: int
    wall_seconds: float
    compile_seconds: float
    parameters: int
    vocab_size: int
    val_curve: list[tuple[int, list[float]]] = field(default_factory=list)  # (step, val per seed)
    train_curve: list[tuple[int, list[float]]] = field(default_factory=list)  # (step, mean objective over the chunk)
    # (step, per seed {metric: [successes, count]}): see rexbench.baselines.capability_curve
    capability_curve: list[tuple[int, list[dict[str, list[int]]]]] = field(default_factory=list)
    capability_seconds: float = 0.0  # host time spent on capability_curve (inside wall_seconds)
    packed_rows: int | None = None  # rows per packed step (rexbench.baselines.packing); None = one sequence per row
    checkpoint_rule: str = CHECKPOINT_RULE
    devices_used: int = 1  # local devices the seeds were split over (the numbers do not depend on it)
    train_segments: int = 1  # processes that trained the run (> 1: resumed from a snapshot; wall_seconds sums them)
    snapshot_files: tuple[str, ...] = ()  # the snapshots this run wrote or resumed from (to discard once it is scored)

    def params(self, i: int) -> nnx.State:
        return jax.tree.map(lambda x: x[i], self.best_params)

    def model(self, i: int) -> nnx.Module:
        """The selected checkpoint of the ``i``-th seed as an NNX module."""
        return nnx.merge(self.graphdef, self.params(i))

    def models(self) -> list[nnx.Module]:
        return [self.model(i) for i in range(len(self.seeds))]


# --------------------------------------------------------------------------- driver
def train(
    model_name: str,
    task: Task | str,
    seeds: Sequence[int] = (0,),
    *,
    steps: int | None = None,
    regime: str = "standard",
    recipe: Recipe = DEFAULT,
    hyper: dict[str, Any] | None = None,
    progress: bool = True,
    data: TaskData | None = None,
    seed_axis: str = "auto",
    capability_curve: bool = False,
    devices: int | None = None,
    train_set: str = "sampled",
    curve_every: int | None = None,
    snapshot: str | os.PathLike[str] | None = None,
    snapshot_every: float = SNAPSHOT_EVERY,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Trains ``seeds`` of ``model_name`` on ``task`` together; see the module docstring.

    ``steps`` defaults to the task's budget (:data:`rexbench.baselines.recipe.STEPS`). Validation
    runs after every ``recipe.eval_every`` steps and after the last one. ``seed_axis``:
    see :func:`make_chunk_fn`. ``devices``: how many local devices share the seeds (None:
    all of them; see :mod:`rexbench.baselines.sharding`); a seed's numbers do not depend on it
    -- bit for bit with ``lax.map`` when ``XLA_FLAGS`` holds
    :data:`rexbench.baselines.sharding.SPMD_FLAG` before JAX starts (the CLI sets it).
    ``capability_curve``: also score every seed's current parameters at every validation
    point with the headline family (:mod:`rexbench.baselines.capability_curve`; host-side
    greedy decodes, not compiled into the chunk); ``curve_every``: only at the validation
    points whose step is a multiple of it, and at the last (None: at every one). ``train_set``: the training rows,
    :data:`rexbench.baselines.data.TRAIN_SETS` (ignored when ``data`` is given).
    ``snapshot``: a folder for the run's training snapshots (:mod:`rexbench.baselines.snapshot`):
    resume from one of this plan (or of a superset of its seeds) if it holds one, and write
    one after the chunk that ends about ``snapshot_every`` seconds after the last (every
    chunk if a chunk takes longer) and after the last chunk (None: no snapshots). ``log``:
    where the resume lines go.
    """
    t_start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    check_regime(regime)
    hyper = dict(hyper or {})
    seeds = tuple(int(s) for s in seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
    steps = steps_for(task.name, model_name) if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if curve_every is not None and (curve_every < 1 or curve_every % recipe.eval_every):
        raise ValueError(f"curve_every must be a positive multiple of eval_every ({recipe.eval_every}), got {curve_every}")

    seed_mesh = SeedMesh(len(seeds), devices)
    data = load_task_data(task, train_set=train_set) if data is None else data
    extra: RegimeData | None = regime_data(task, regime)
    graphdef, params = init_params(model_name, task.vocab_size, seeds, **hyper)
    tx = recipe.optimizer()
    opt_state = jax.vmap(tx.init)(params)
    best_params = jax.tree.map(jnp.copy, params)
    S = len(seeds)
    best_val = jnp.full((S,), jnp.inf, jnp.float32)
    best_step = jnp.zeros((S,), jnp.int32)
    dkeys = jnp.stack([dropout_key(s) for s in seeds])
    done, prior, snapshot_files = 0, None, []
    if snapshot is not None:
        plan = plan_of(model=model_name, hyper=hyper, task=task.name, size=task.size, regime=regime, seeds=seeds,
                       steps=steps, recipe=recipe.as_dict(), train_set=train_set, data=data_digest(data),
                       capability_curve=capability_curve, curve_every=curve_every,
                       seed_axis=resolve_seed_axis(seed_axis))
        found = load_snapshot(snapshot, plan, (params, opt_state, best_params, best_val, best_step), log=log)
        if found is not None:
            prior, path = found
            params, opt_state, best_params, best_val, best_step = jax.tree.map(jnp.asarray, prior.state)
            done = prior.done
            snapshot_files.append(str(path))
            log(f"resuming from step {done} of {steps} ({path}; delete it to start over)")

    val_dev = jnp.asarray(pad_to_multiple(data.val, VAL_BATCH).reshape(-1, VAL_BATCH, data.width))
    streams = [BatchStream(s, len(data.train), recipe.batch_size) for s in seeds]
    packed = recipe.pack and supports_packing(graphdef)
    if packed:  # the whole run's batches up front: one packed row count R for every step and seed
        lengths = sequence_lengths(data.train)
        run_idx = [st.take(steps) for st in streams]
        run_plans = [plan_steps(i, lengths, data.width) for i in run_idx]
        packed_rows = rows_needed(run_plans)
        train_dev = jnp.asarray(np.append(data.train.reshape(-1), PAD).astype(np.int32))
    else:
        packed_rows = None
        train_dev = jnp.asarray(data.train)
        for st in streams if done else ():  # resumed: replay the batch orders to the step reached
            st.take(done)
    if extra is not None:
        extra_tokens, extra_mask = jnp.asarray(extra.tokens), jnp.asarray(extra.mask)
        extra_streams = [BatchStream([s, REGIME_STREAM], len(extra.tokens), recipe.regime_batch) for s in seeds]
        for st in extra_streams if done else ():
            st.take(done)
    else:
        extra_tokens = extra_mask = None
        extra_streams = []

    if seed_mesh.sharded:  # the seed-stacked state split over the mesh, the data on every device
        params, opt_state, best_params, best_val, best_step, dkeys = seed_mesh.put_stacked(
            (params, opt_state, best_params, best_val, best_step, dkeys))
        train_dev, val_dev, extra_tokens, extra_mask = seed_mesh.put_replicated(
            (train_dev, val_dev, extra_tokens, extra_mask))
    chunk_jit = make_chunk_fn(graphdef, tx, recipe.regime_weight, extra is not None, seed_axis, seed_mesh, packed)
    compiled: dict[int, Any] = {}
    compile_seconds = 0.0 if prior is None else prior.compile_seconds
    val_curve: list[tuple[int, list[float]]] = [] if prior is None else prior.val_curve
    train_curve: list[tuple[int, list[float]]] = [] if prior is None else prior.train_curve
    cap_curve: list[tuple[int, list[dict[str, list[int]]]]] = [] if prior is None else prior.capability_curve
    cap_seconds = 0.0 if prior is None else prior.capability_seconds
    # this process counts as a segment if it trains (a snapshot of the last step leaves nothing to train)
    earlier_seconds, segments = (0.0, 1) if prior is None else (prior.train_seconds, prior.segments + (done < steps))
    last_save = chunk_start = time.perf_counter()

    bar = None
    if progress:
        from tqdm.auto import tqdm

        label = model_name if regime == "standard" else f"{model_name}-{regime}"
        bar = tqdm(total=steps, initial=done, desc=f"{label}/{task.name} x{S} seeds", unit="step",
                   dynamic_ncols=True, leave=True)

    try:
        while done < steps:
            k = min(recipe.eval_every, steps - done)
            if packed:
                idx = jnp.asarray(np.stack([layout(i[done:done + k], pl[done:done + k], lengths, data.width, packed_rows)
                                            for i, pl in zip(run_idx, run_plans, strict=True)]))
            else:
                idx = jnp.asarray(np.stack([st.take(k) for st in streams]))
            eidx = jnp.asarray(np.stack([st.take(k) for st in extra_streams])) if extra_streams else None
            if seed_mesh.sharded:
                idx, eidx = seed_mesh.put_stacked((idx, eidx))
            args = (params, opt_state, best_params, best_val, best_step, jnp.int32(done + k), train_dev, idx,
                    extra_tokens, extra_mask, eidx, val_dev, dkeys)
            if k not in compiled:
                t0 = time.perf_counter()
                compiled[k] = chunk_jit.lower(*args).compile()
                compile_seconds += time.perf_counter() - t0
            params, opt_state, best_params, best_val, best_step, loss_SK, _, val_S = compiled[k](*args)
            done += k
            val_np = np.asarray(seed_mesh.unpad(val_S), dtype=np.float64)
            loss_np = np.asarray(seed_mesh.unpad(loss_SK), dtype=np.float64)
            val_curve.append((done, val_np.tolist()))
            train_curve.append((done, loss_np.mean(axis=1).tolist()))
            if capability_curve and (curve_every is None or done % curve_every == 0 or done == steps):
                from rexbench.baselines.capability_curve import capability_point

                t0 = time.perf_counter()
                cap_curve.append((done, capability_point(graphdef, seed_mesh.unpad(params), task, seeds)))
                cap_seconds += time.perf_counter() - t0
            if bar is not None:
                bar.set_postfix(loss=f"{loss_np[:, -1].mean():.4f}", val=f"{val_np.mean():.4f}",
                                best=f"{np.asarray(seed_mesh.unpad(best_val)).mean():.4f}", refresh=False)
                bar.update(k)
            now, chunk_seconds = time.perf_counter(), time.perf_counter() - chunk_start
            # save if waiting for the next chunk would overshoot snapshot_every
            if snapshot is not None and (done == steps or now - last_save + chunk_seconds >= snapshot_every):
                host = jax.tree.map(np.asarray, seed_mesh.unpad((params, opt_state, best_params, best_val, best_step)))
                try:
                    path = save_snapshot(snapshot, plan, Snapshot(
                        done, host, val_curve, train_curve, cap_curve, cap_seconds,
                        earlier_seconds + now - t_start, compile_seconds, segments))
                except Exception as err:  # noqa: BLE001 -- a full disk must not cost the run: go on without
                    log(f"could not write a training snapshot in {snapshot} ({err}); training goes on without")
                    snapshot = None
                else:
                    if str(path) not in snapshot_files:
                        snapshot_files.append(str(path))
                last_save = time.perf_counter()
            chunk_start = time.perf_counter()
    finally:
        if bar is not None:
            bar.close()

    # the padding lanes dropped, the parameters gathered on one device (as an unsharded run's)
    best_params, best_val, best_step = seed_mesh.unpad((best_params, best_val, best_step))
    if seed_mesh.sharded:
        best_params = jax.device_put(best_params, jax.local_devices()[0])
    best_params = jax.block_until_ready(best_params)
    return TrainResult(
        model_name=model_name,
        task=task.name,
        regime=regime,
        seeds=seeds,
        hyper=hyper,
        recipe=recipe,
        graphdef=graphdef,
        best_params=best_params,
        best_val_loss=np.asarray(best_val, dtype=np.float64),
        best_step=np.asarray(best_step, dtype=np.int64),
        steps=done,
        wall_seconds=earlier_seconds + time.perf_counter() - t_start,
        train_segments=segments,
        snapshot_files=tuple(snapshot_files),
        compile_seconds=compile_seconds,
        parameters=count_params(jax.tree.map(lambda x: x[0], best_params)),
        vocab_size=task.vocab_size,
        val_curve=val_curve,
        train_curve=train_curve,
        capability_curve=cap_curve,
        capability_seconds=cap_seconds,
        devices_used=seed_mesh.layout.used,
        packed_rows=packed_rows,
    )
