"""Fine-tuning functionally identical twins (the fine-tunability case study).

A source model and its exact rescalings (:func:`rexbench.baselines.reparam.rescale`)
have the same loss and the same behaviour on every prompt. :func:`finetune` trains each
on a target task with the same optimiser, learning rate, budget and data order, and
records how fast each learns it, and what it keeps of the source — the fields of
:mod:`rexbench.benchmark.finetune_records` (which also defines and checks the derived
numbers): the target excess-loss curve, ``steps_to_tau``, ``mean_excess`` (area under the
curve over the budget), the headline family on the target at the end, and the source val
loss and headline family before and after.

Target pairs share the vocabulary; the documented one is ``anbn`` → ``anbn`` at doubled
N (``anbn:64``): the same rules, words twice as long, which the source never saw.

Example::

    runs = finetune(model, get_task("anbn"), get_task("anbn", 64), alphas=(0.1, 1.0, 10.0),
                    config=FinetuneConfig(optimizer="adamw", steps=200))
    [r["steps_to_tau"] for r in runs]       # differs across twins of one function

A run whose loss stops being finite (a large learning rate on a badly scaled twin) is
kept, not raised: its curve holds null from there and ``mean_excess`` is null — that
twin did not fine-tune, which is a finding, not an error.
"""

from __future__ import annotations

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
from rexbench.benchmark.finetune_records import finite_or_none, mean_excess, steps_to_tau
from rexbench.benchmark.headline import headline_metrics
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


def finetune(source_model: nnx.Module, source_task: Task, target_task: Task, alphas: Sequence[float],
             config: FinetuneConfig = FinetuneConfig(), score_seed: int = 0,
             capabilities: bool = True) -> list[dict[str, Any]]:
    """Fine-tunes ``rescale(source_model, alpha)`` for every alpha on ``target_task``; one
    record per alpha (see the module docstring), in the order of ``alphas``. The headline
    family is scored with the run seed ``score_seed`` (pass the source's training seed, so
    that ``source_capabilities_before`` equals the source's own result); ``capabilities=False``
    skips those decodes (and their three fields), for a test of the curves alone."""
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

    def pairs(model: nnx.Module, task: Task) -> dict[str, list[int]] | None:
        if not capabilities:
            return None
        return {k: [r.successes, r.count] for k, r in headline_metrics(model, task, score_seed).items()}

    runs = []
    for alpha in alphas:
        twin = rescale(source_model, alpha)
        _, params = nnx.split(twin)
        source_before = float(val_loss(params, source_val))
        caps_before = pairs(twin, source_task)
        opt_state = tx.init(params)
        curve = [[0, finite_or_none(float(val_loss(params, target_val)) - optimum)]]
        for c in range(idx_CKB.shape[0]):
            params, opt_state = _chunk(graphdef, tx, params, opt_state, train_arr, idx_CKB[c])
            curve.append([(c + 1) * config.eval_every, finite_or_none(float(val_loss(params, target_val)) - optimum)])
        tuned = nnx.merge(graphdef, params)
        runs.append({
            "alpha": float(alpha),
            "curve": curve,
            "steps_to_tau": steps_to_tau(curve, config.tau),
            "mean_excess": mean_excess(curve),
            "final_excess": curve[-1][1],
            "source_val_loss_before": source_before,
            "source_val_loss_after": finite_or_none(float(val_loss(params, source_val))),
            "source_capabilities_before": caps_before,
            "source_capabilities_after": pairs(tuned, source_task),
            "target_capabilities": pairs(tuned, target_task),
            "model": tuned,
        })
    return runs
