"""A Flax NNX submission: a tiny causal convolutional language model (untrained).

Score it with::

    rexbench score --model examples.submit_flax:make_model --task anbn --out my_results/

The harness calls ``make_model(vocab_size)`` once per task. The module maps int32 tokens
``[B, T]`` to float32 logits ``[B, T, V]`` (position t sees tokens 0..t only). It also
implements the optional incremental interface — ``init_cache`` / ``decode_step`` — so
decoding costs one step per token instead of a full forward pass per token.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class TinyConvLM(nnx.Module):
    """Embedding → causal depthwise convolution (``kernel`` taps) → tanh → linear head."""

    def __init__(self, vocab_size: int, *, width: int = 32, kernel: int = 4, rngs: nnx.Rngs) -> None:
        self.kernel_size = kernel
        self.embed = nnx.Embed(vocab_size, width, rngs=rngs)
        self.taps_KD = nnx.Param(jax.random.normal(rngs.params(), (kernel, width)) / kernel**0.5)
        self.head = nnx.Linear(width, vocab_size, rngs=rngs)

    def __call__(self, tokens_BT: jax.Array) -> jax.Array:
        T, K = tokens_BT.shape[1], self.kernel_size
        x_BTD = self.embed(tokens_BT)
        padded_BTD = jnp.pad(x_BTD, ((0, 0), (K - 1, 0), (0, 0)))  # zeros before position 0
        h_BTD = sum(padded_BTD[:, k : k + T] * self.taps_KD[k] for k in range(K))
        return self.head(jnp.tanh(h_BTD))

    def init_cache(self, batch_size: int, max_len: int) -> jax.Array:
        """The last ``kernel - 1`` embeddings, zero before the sequence starts."""
        return jnp.zeros((batch_size, self.kernel_size - 1, self.embed.features))

    def decode_step(self, cache_BKD: jax.Array, tokens_B: jax.Array, position: jax.Array) -> tuple[jax.Array, jax.Array]:
        window_BKD = jnp.concatenate([cache_BKD, self.embed(tokens_B)[:, None]], axis=1)
        h_BD = jnp.einsum("bkd,kd->bd", window_BKD, self.taps_KD[...])
        return self.head(jnp.tanh(h_BD)), window_BKD[:, 1:]


def make_model(vocab_size: int) -> nnx.Module:
    return TinyConvLM(vocab_size, rngs=nnx.Rngs(0))
