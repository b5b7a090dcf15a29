"""Fine-tuning functionally identical twins (the fine-tunability case study, issue #16).

A source model and its exact rescalings (:func:`rexbench.baselines.reparam.rescale`)
have the same loss and the same behaviour on every prompt. :func:`finetune` trains each
on a target task with the same optimiser, learning rate, budget and data order, and
records how fast each learns it:

* ``curve``: ``[step, target excess val loss]`` every ``eval_every`` steps from step 0
  (excess = the model's val loss minus the target task's exact optimum on the same
  sequences, nats per token);
* ``steps_to_tau``: the first evaluated step with excess ≤ ``tau`` (null if never);
* ``mean_excess``: the area under the curve divided by the budget (trapezoids), in nats
  per token: one number for the whole run, smaller = learnt faster;
* ``source_val_loss_after``: the source task's val loss after fine-tuning (retention).

Target pairs share the vocabulary; the documented one is ``anbn`` → ``anbn`` at doubled
N (``anbn:64``): the same rules, words twice as long, which the source never saw.

Example::

    runs = finetune(model, get_task("anbn"), get_task("anbn", 64), alphas=(0.1, 1.0, 10.0),
                    config=FinetuneConfig(optimizer="adamw", steps=200))
    [r["steps_to_tau"] for r in runs]       # differs across twins of one function
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from rexbench.baselines.data import BatchStream, load_task_data, pad_to_multiple, sequence_width
from rexbench.baselines.reparam import rescale
from rexbench.baselines.train import sequence_loss, train_step
from rexbench.benchmark.loss import optimal_nll
from rexbench.tasks import Task, get_split

VAL_BATCH = 250


@dataclass(frozen=True)
class FinetuneConfig:
    """One fine-tuning protocol, shared by every twin."""

    optimizer: str = "adamw"  # "adamw" (weight decay 0.01, b2 0.98) or "sgd" (plain)
    lr: float | None = None  # default 1e-3 for adamw, 0.1 for sgd
    steps: int = 200
    eval_every: int = 10
    batch_size: int = 128
    tau: float = 0.01  # nats per token of target excess val loss
    clip_norm: float = 1.0
    data_seed: int = 0  # the order of the target batches (the same for every twin)

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (1e-3 if self.optimizer == "adamw" else 0.1)

    def tx(self) -> optax.GradientTransformation:
        return _tx(self.optimizer, self.learning_rate(), self.clip_norm)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lr": self.learning_rate()}


@lru_cache(maxsize=None)  # one object per protocol, so that the compiled steps are reused
def _tx(optimizer: str, lr: float, clip_norm: float) -> optax.GradientTransformation:
    if optimizer == "adamw":
        opt = optax.adamw(lr, b1=0.9, b2=0.98, eps=1e-8, weight_decay=0.01)
    elif optimizer == "sgd":
        opt = optax.sgd(lr)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: adamw, sgd")
    return optax.chain(optax.clip_by_global_norm(clip_norm), opt)


def _val_batches(val_NW: np.ndarray) -> jax.Array:
    return jnp.asarray(pad_to_multiple(val_NW, VAL_BATCH).reshape(-1, VAL_BATCH, val_NW.shape[1]))


def _val_loss(graphdef: nnx.GraphDef, params: nnx.State, val_CBW: jax.Array) -> jax.Array:
    def one(carry, tokens_BW):
        s, c = sequence_loss(graphdef, params, tokens_BW)
        return (carry[0] + s, carry[1] + c), None

    (s, c), _ = jax.lax.scan(one, (jnp.float32(0), jnp.int32(0)), val_CBW)
    return s / c


_val_loss_jit = jax.jit(_val_loss, static_argnums=0)


@partial(jax.jit, static_argnums=(0, 1))
def _chunk(graphdef: nnx.GraphDef, tx: optax.GradientTransformation, params: nnx.State, opt_state: Any,
           train_arr: jax.Array, idx_KB: jax.Array) -> tuple[nnx.State, Any]:
    """``len(idx_KB)`` updates, inside one compiled scan."""
    def body(carry, idx_B):
        p, o = carry
        p, o, _, _ = train_step(graphdef, tx, p, o, train_arr[idx_B])
        return (p, o), None

    (params, opt_state), _ = jax.lax.scan(body, (params, opt_state), idx_KB)
    return params, opt_state


def mean_excess(curve: Sequence[Sequence[float]]) -> float:
    """Trapezoid area under ``[[step, excess], ...]`` divided by the last step."""
    steps = np.array([p[0] for p in curve], dtype=np.float64)
    vals = np.array([p[1] for p in curve], dtype=np.float64)
    return float(np.sum((vals[1:] + vals[:-1]) / 2 * np.diff(steps)) / steps[-1])


def finetune(source_model: nnx.Module, source_task: Task, target_task: Task, alphas: Sequence[float],
             config: FinetuneConfig = FinetuneConfig()) -> list[dict[str, Any]]:
    """Fine-tunes ``rescale(source_model, alpha)`` for every alpha on ``target_task``; one
    record per alpha (see the module docstring), in the order of ``alphas``."""
    if target_task.vocab_size != source_task.vocab_size:
        raise ValueError(f"target {target_task.config} has V = {target_task.vocab_size}, the source "
                         f"{source_task.config} V = {source_task.vocab_size}: a target must share the vocabulary")
    if config.steps % config.eval_every:
        raise ValueError(f"steps {config.steps} must be a multiple of eval_every {config.eval_every}")
    width = max(sequence_width(target_task), sequence_width(source_task))  # one compiled width for both
    target = load_task_data(target_task, width)
    target_val = _val_batches(target.val)
    source_val = _val_batches(get_split(source_task, "val").tokens(width))
    optimum = optimal_nll(target_task, "val").mean
    stream = BatchStream(config.data_seed, len(target.train), config.batch_size)
    idx_CKB = jnp.asarray(stream.take(config.steps).reshape(-1, config.eval_every, config.batch_size))
    train_arr = jnp.asarray(target.train)
    tx = config.tx()
    graphdef, _ = nnx.split(source_model)

    def val_loss(params: nnx.State, val_CBW: jax.Array) -> jax.Array:
        return _val_loss_jit(graphdef, params, val_CBW)

    runs = []
    for alpha in alphas:
        _, params = nnx.split(rescale(source_model, alpha))
        opt_state = tx.init(params)
        curve = [[0, float(val_loss(params, target_val)) - optimum]]
        for c in range(idx_CKB.shape[0]):
            params, opt_state = _chunk(graphdef, tx, params, opt_state, train_arr, idx_CKB[c])
            curve.append([(c + 1) * config.eval_every, float(val_loss(params, target_val)) - optimum])
        if not all(math.isfinite(v) for _, v in curve):
            raise FloatingPointError(f"alpha {alpha}: the fine-tuning diverged (non-finite loss); lower --lr")
        reached = next((s for s, v in curve if v <= config.tau), None)
        runs.append({
            "alpha": float(alpha),
            "curve": curve,
            "steps_to_tau": reached,
            "mean_excess": mean_excess(curve),
            "final_excess": curve[-1][1],
            "source_val_loss_after": float(val_loss(params, source_val)),
            "model": nnx.merge(graphdef, params),
        })
    return runs


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """max − min and the (population) standard deviation; null if any value is null."""
    if not values or any(v is None for v in values):
        return {"max_minus_min": None, "std": None}
    arr = np.asarray(values, dtype=np.float64)
    return {"max_minus_min": float(arr.max() - arr.min()), "std": float(arr.std())}
