"""Strictly causal linear baseline (~100k parameters).

Model, with no nonlinearity anywhere:

    e_t            = Embed[x_t]                               (D = G*C channels, G groups)
    h_t[g, c]      = sum_{s <= t} A_g[t, s] * e_s[g, c]       (per-group lower-triangular mixing)
    logits_t       = W h_t + b

Each group g owns a learned lower-triangular T×T matrix A_g indexed by
absolute positions, so the logits at t are an arbitrary linear function of
the token embeddings at positions 0..t (up to the rank given by D). Only the
lower triangle is stored (packed row-major), so causality is exact and the
parameter count is honest. Rows for positions never seen in training keep
their initial values; that is what length extrapolation measures here.

Shape suffixes: B batch, T/S time, G groups, C channels per group, D = G*C,
P packed-triangle length max_len*(max_len+1)/2, V vocabulary.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

PyTree = Any


def _packed_len(n: int) -> int:
    return n * (n + 1) // 2


class Linear(nnx.Module):
    """Causal linear model with per-group learned lower-triangular position mixing.

    Defaults (d_model=48 in 3 groups, max_len 256) give 99,173 parameters at
    V=5; almost all of them are the 3 packed 256×256 triangles (98,688).
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        rngs: nnx.Rngs,
        max_len: int = 256,
        d_model: int = 48,
        num_groups: int = 3,
    ):
        if d_model % num_groups != 0:
            raise ValueError(f"d_model={d_model} must be divisible by num_groups={num_groups}")
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.d_model = d_model
        self.num_groups = num_groups
        self.embed = nnx.Embed(vocab_size, d_model, rngs=rngs)
        # Row t of A has t+1 entries; scaling them by 1/sqrt(t+1) keeps the
        # variance of h_t independent of t at init.
        rows_P = np.repeat(np.arange(max_len), np.arange(1, max_len + 1))
        scale_P = jnp.asarray(1.0 / np.sqrt(rows_P + 1.0), jnp.float32)
        noise_GP = jax.random.normal(rngs.params(), (num_groups, _packed_len(max_len)), jnp.float32)
        self.mix_packed = nnx.Param(noise_GP * scale_P[None, :])
        self.head = nnx.Linear(d_model, vocab_size, rngs=rngs)

    def mixing_matrix(self, T: int) -> jax.Array:
        """Dense A [G, T, T] for the first T positions; exact zeros above the diagonal."""
        rows, cols = np.tril_indices(T)  # row-major, same order as the packed storage
        packed_GP = self.mix_packed[...][:, : _packed_len(T)]
        return jnp.zeros((self.num_groups, T, T), jnp.float32).at[:, rows, cols].set(packed_GP)

    def __call__(self, tokens_BT: jax.Array) -> jax.Array:
        """int32 [B,T] -> float32 logits [B,T,V]; logits at t are linear in embeddings 0..t."""
        B, T = tokens_BT.shape
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds max_len={self.max_len}")
        e_BTGC = self.embed(tokens_BT).reshape(B, T, self.num_groups, -1)
        h_BTGC = jnp.einsum("gts,bsgc->btgc", self.mixing_matrix(T), e_BTGC)
        return self.head(h_BTGC.reshape(B, T, self.d_model))

    def init_cache(self, batch_size: int, max_len: int) -> PyTree:
        """Zero buffer of past embeddings {"emb": [B, max_len, D]}."""
        if max_len > self.max_len:
            raise ValueError(f"cache length {max_len} exceeds max_len={self.max_len}")
        return {"emb": jnp.zeros((batch_size, max_len, self.d_model), jnp.float32)}

    def decode_step(self, cache: PyTree, tokens_B: jax.Array, position: jax.Array) -> tuple[jax.Array, PyTree]:
        """Stores e_position in the buffer and reads out row `position` of every A_g."""
        position = jnp.asarray(position, jnp.int32)
        buf_BSD = cache["emb"]
        B, S, _ = buf_BSD.shape
        e_B1D = self.embed(tokens_B)[:, None, :]
        buf_BSD = jax.lax.dynamic_update_slice(buf_BSD, e_B1D, (jnp.int32(0), position, jnp.int32(0)))
        # Row t starts at t(t+1)/2 in the packed storage. Reading S entries from
        # there never runs past the end because t < S <= max_len; the entries
        # beyond column t belong to later rows and are masked out.
        start = position * (position + 1) // 2
        row_GS = jax.lax.dynamic_slice_in_dim(self.mix_packed[...], start, S, axis=1)
        row_GS = jnp.where(jnp.arange(S)[None, :] <= position, row_GS, 0.0)
        h_BGC = jnp.einsum("gs,bsgc->bgc", row_GS, buf_BSD.reshape(B, S, self.num_groups, -1))
        return self.head(h_BGC.reshape(B, self.d_model)), {"emb": buf_BSD}
