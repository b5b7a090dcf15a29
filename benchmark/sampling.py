"""Token choice and PRNG keys: the only source of randomness of a scored run.

Keys. A run's seed ``s`` gives ``jax.random.key(s)``; every decode *purpose*
(``"greedy/ood_prompts"``, ``"sampled/ood_prompts"``, ``"sampled/generation"`` …) folds in
a 31-bit integer taken from the SHA-256 of its name, and every **row** folds in its
row index and the position of the token being generated. So each row's randomness
depends only on (seed, purpose, row, position): never on batch size, padding, early
exit or whether the model is a JAX or a host model. Same model + same seed → identical
completions.

Greedy decoding is the argmax of the logits; **exact ties are broken uniformly at random
with the row's key** (not by lowest token id). A model with several equal maxima is
therefore decoded as the random choice among them; the uniform model decodes as a
uniformly random model, which is what its chance level assumes.

Sampling is at temperature 1: a categorical draw from ``softmax(logits)``.
"""

from __future__ import annotations

import hashlib
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


def purpose_id(purpose: str) -> int:
    """A stable 31-bit integer for a purpose name (first 4 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:4], "big") & 0x7FFFFFFF


def derive_key(seed: int, purpose: str) -> jax.Array:
    """The key of one decode purpose of a run: ``fold_in(key(seed), purpose_id(purpose))``."""
    return jax.random.fold_in(jax.random.key(seed), purpose_id(purpose))


def row_keys(key: jax.Array, row_ids_B: jax.Array, position: jax.Array) -> jax.Array:
    """Per-row keys ``fold_in(fold_in(key, row), position)`` for one generated position."""
    return jax.vmap(lambda r: jax.random.fold_in(jax.random.fold_in(key, r), position))(row_ids_B)


def choose_tokens(
    logits_BV: jax.Array, key: jax.Array, row_ids_B: jax.Array, position: jax.Array, greedy: jax.Array
) -> jax.Array:
    """Next tokens int32 ``[B]``: greedy (random tie-break) or a temperature-1 sample.

    ``position`` is the index the chosen token will occupy; ``greedy`` a bool scalar.
    """
    logits_BV = logits_BV.astype(jnp.float32)
    keys_B = row_keys(key, row_ids_B, position)

    def greedy_choice() -> jax.Array:
        is_max_BV = logits_BV == jnp.max(logits_BV, axis=-1, keepdims=True)
        u_BV = jax.vmap(lambda k: jax.random.uniform(k, logits_BV.shape[-1:]))(keys_B)
        return jnp.argmax(jnp.where(is_max_BV, u_BV, -1.0), axis=-1).astype(jnp.int32)

    def sampled_choice() -> jax.Array:
        return jax.vmap(jax.random.categorical)(keys_B, logits_BV).astype(jnp.int32)

    return jax.lax.cond(greedy, greedy_choice, sampled_choice)


@partial(jax.jit)
def _choose_jit(
    logits_BV: jax.Array, key: jax.Array, row_ids_B: jax.Array, position: jax.Array, greedy: jax.Array
) -> jax.Array:
    return choose_tokens(logits_BV, key, row_ids_B, position, greedy)


def choose_tokens_host(
    logits_BV: np.ndarray, key: jax.Array, row_ids_B: np.ndarray, position: int, greedy: bool
) -> np.ndarray:
    """:func:`choose_tokens` for host loops (same compiled code, numpy in and out; numpy
    arguments go straight to the compiled function, which is cheaper than ``jnp.asarray``)."""
    out = _choose_jit(
        np.asarray(logits_BV, dtype=np.float32),
        key,
        np.asarray(row_ids_B, dtype=np.int32),
        np.int32(position),
        np.bool_(greedy),
    )
    return np.asarray(out)
