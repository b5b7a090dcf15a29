"""Shared helpers for the harness tests (no tests here): tiny models and cached scorings."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rexbench.benchmark.loaders import load_model
from rexbench.benchmark.protocol import HostFunction, JaxFunction
from rexbench.benchmark.score import score_model
from rexbench.tasks import get_task


def bigram_table(vocab_size: int, seed: int = 0, scale: float = 2.0) -> np.ndarray:
    """A fixed random float32 bigram logit table ``[V, V]``."""
    return (scale * np.random.default_rng(seed).normal(size=(vocab_size, vocab_size))).astype(np.float32)


class Bigram(nnx.Module):
    """logits[t] = table[token t]; with the incremental interface."""

    def __init__(self, table_VV: np.ndarray) -> None:
        self.table = nnx.Param(jnp.asarray(table_VV))

    def __call__(self, tokens_BT: jax.Array) -> jax.Array:
        return self.table[...][tokens_BT]

    def init_cache(self, batch_size: int, max_len: int) -> jax.Array:
        return jnp.zeros((), jnp.int32)

    def decode_step(self, cache: jax.Array, tokens_B: jax.Array, position: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.table[...][tokens_B], cache


class BigramNoCache(nnx.Module):
    """The same function without ``init_cache``/``decode_step`` (full forward per decode step)."""

    def __init__(self, table_VV: np.ndarray) -> None:
        self.table = nnx.Param(jnp.asarray(table_VV))

    def __call__(self, tokens_BT: jax.Array) -> jax.Array:
        return self.table[...][tokens_BT]


def bigram_jax(table_VV: np.ndarray) -> JaxFunction:
    """The bigram as a pure JAX function, without incremental functions."""
    return JaxFunction(lambda params, tokens_BT: params[tokens_BT], jnp.asarray(table_VV))


def bigram_numpy(table_VV: np.ndarray) -> Any:
    """The bigram as a plain numpy callable."""
    return lambda tokens_BT: table_VV[tokens_BT]


def bigram_host_step(table_VV: np.ndarray) -> HostFunction:
    """The bigram as a host model with an incremental step."""
    return HostFunction(
        lambda tokens_BT: table_VV[tokens_BT],
        init_state_fn=lambda batch: None,
        step_fn=lambda state, tokens_B, position: (table_VV[tokens_B], state),
    )


@lru_cache(maxsize=None)
def scored_reference(task_name: str, model_name: str, seed: int = 0) -> dict:
    """``score_model`` of a reference model, cached for the test session."""
    task = get_task(task_name)
    loaded = load_model(model_name, task)
    return score_model(loaded.model, task, seed=seed, model_name=model_name, reference=loaded.reference)
