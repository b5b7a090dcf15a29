"""A pure-JAX submission: ``JaxFunction(apply_fn, params)`` — a running-count model (untrained).

Score it with::

    rexbench score --model examples.submit_jax:make_model --task anbn --out my_results/

The logits at position t are a linear function of how often each token occurred in
positions 0..t (plus the current token), so the model is causal by construction. The
optional ``init_cache_fn`` / ``decode_step_fn`` carry the running counts, making each
decode step O(1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rexbench.benchmark.protocol import JaxFunction

Params = dict[str, jax.Array]


def apply_fn(params: Params, tokens_BT: jax.Array) -> jax.Array:
    """int32 ``[B, T]`` -> float32 logits ``[B, T, V]``."""
    V = params["bias_V"].shape[0]
    onehot_BTV = jax.nn.one_hot(tokens_BT, V)
    counts_BTV = jnp.cumsum(onehot_BTV, axis=1)
    return counts_BTV @ params["count_VV"] + onehot_BTV @ params["current_VV"] + params["bias_V"]


def init_cache_fn(params: Params, batch_size: int, max_len: int) -> jax.Array:
    return jnp.zeros((batch_size, params["bias_V"].shape[0]))  # running counts [B, V]


def decode_step_fn(params: Params, counts_BV: jax.Array, tokens_B: jax.Array, position: jax.Array) -> tuple[jax.Array, jax.Array]:
    onehot_BV = jax.nn.one_hot(tokens_B, params["bias_V"].shape[0])
    counts_BV = counts_BV + onehot_BV
    return counts_BV @ params["count_VV"] + onehot_BV @ params["current_VV"] + params["bias_V"], counts_BV


def make_model(vocab_size: int) -> JaxFunction:
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    params = {
        "count_VV": 0.1 * jax.random.normal(k1, (vocab_size, vocab_size)),
        "current_VV": jax.random.normal(k2, (vocab_size, vocab_size)),
        "bias_V": jax.random.normal(k3, (vocab_size,)),
    }
    return JaxFunction(apply_fn, params, init_cache_fn=init_cache_fn, decode_step_fn=decode_step_fn)
