"""Stacked LSTM baseline (~100k parameters).

Shape suffixes: B batch, T time, E embedding width, H hidden width, G = 4H
gate pre-activations, L layers, V vocabulary.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rexbench.baselines.models.dropout import apply_dropout, check_rate, make_dropout
from rexbench.baselines.packing import segment_starts

PyTree = Any


class LSTMLayer(nnx.Module):
    """One LSTM layer; gate order in the 4H axis is (input, forget, cell, output)."""

    def __init__(self, in_dim: int, hidden_dim: int, *, rngs: nnx.Rngs):
        self.hidden_dim = hidden_dim
        # The input projection carries the (single) bias; the recurrent one has
        # none because a second bias would be redundant parameters.
        self.w_in = nnx.Linear(in_dim, 4 * hidden_dim, rngs=rngs)
        self.w_rec = nnx.Linear(
            hidden_dim, 4 * hidden_dim, use_bias=False, kernel_init=nnx.initializers.orthogonal(), rngs=rngs
        )
        # Forget-gate bias 1: start by remembering, the standard trick that
        # keeps early gradients from vanishing through time.
        bias_G = jnp.zeros((4 * hidden_dim,), jnp.float32).at[hidden_dim : 2 * hidden_dim].set(1.0)
        self.w_in.bias[...] = bias_G

    def cell(self, gates_in_BG: jax.Array, h_BH: jax.Array, c_BH: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One recurrence step given the precomputed input projection."""
        gates_BG = gates_in_BG + self.w_rec(h_BH)
        i_BH, f_BH, g_BH, o_BH = jnp.split(gates_BG, 4, axis=-1)
        c_BH = jax.nn.sigmoid(f_BH) * c_BH + jax.nn.sigmoid(i_BH) * jnp.tanh(g_BH)
        h_BH = jax.nn.sigmoid(o_BH) * jnp.tanh(c_BH)
        return h_BH, c_BH

    def __call__(self, x_BTE: jax.Array, starts_BT: jax.Array | None = None) -> jax.Array:
        """Runs the layer over the whole sequence from a zero state; returns h [B,T,H].
        ``starts_BT`` (packed rows): the state is zeroed again before each marked slot,
        the first token of a segment, so each segment runs as if alone."""
        B = x_BTE.shape[0]
        # Input projections for all steps at once (one big matmul), so the
        # sequential scan only does the recurrent matmul.
        gates_in_TBG = jnp.swapaxes(self.w_in(x_BTE), 0, 1)
        zeros_BH = jnp.zeros((B, self.hidden_dim), jnp.float32)

        def step(carry: tuple[jax.Array, jax.Array], g_BG: jax.Array) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
            h_BH, c_BH = self.cell(g_BG, *carry)
            return (h_BH, c_BH), h_BH

        if starts_BT is None:
            _, h_TBH = jax.lax.scan(step, (zeros_BH, zeros_BH), gates_in_TBG)
        else:
            def step_reset(carry, xs):
                g_BG, start_B1 = xs
                return step(tuple(jnp.where(start_B1, 0.0, v) for v in carry), g_BG)

            starts_TB1 = jnp.swapaxes(starts_BT, 0, 1)[..., None]
            _, h_TBH = jax.lax.scan(step_reset, (zeros_BH, zeros_BH), (gates_in_TBG, starts_TB1))
        return jnp.swapaxes(h_TBH, 0, 1)


class LSTM(nnx.Module):
    """Embedding -> stacked LSTM -> linear head.

    Defaults (embed 80, hidden 80, 2 layers) give 103,845 parameters at V=5.
    `max_len` is accepted for interface uniformity; a recurrent model has no
    length limit.

    Dropout (both off by default; masks only in train mode and when ``rngs`` is passed,
    :mod:`rexbench.baselines.models.dropout`; ``decode_step`` never draws):

    * ``dropout``: on each layer's output that feeds the next layer (PyTorch's
      ``nn.LSTM(dropout=...)``: between layers, not after the last);
    * ``out_dropout``: on the last layer's output, before the head (the
      rule-extrapolation code's ``LSTM_LLM``, whose ``nn.LSTM`` has no inter-layer dropout).
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        rngs: nnx.Rngs,
        max_len: int = 256,
        embed_dim: int = 80,
        hidden_dim: int = 80,
        num_layers: int = 2,
        dropout: float = 0.0,
        out_dropout: float = 0.0,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.embed = nnx.Embed(vocab_size, embed_dim, rngs=rngs)
        self.layers = nnx.List(
            [LSTMLayer(embed_dim if i == 0 else hidden_dim, hidden_dim, rngs=rngs) for i in range(num_layers)]
        )
        self.head = nnx.Linear(hidden_dim, vocab_size, rngs=rngs)
        self.between_drop = make_dropout(check_rate(dropout))
        self.out_drop = make_dropout(check_rate(out_dropout, "out_dropout"))

    supports_packing = True  # __call__ takes segments_BT (rexbench.baselines.packing)

    def __call__(self, tokens_BT: jax.Array, *, rngs: nnx.Rngs | None = None,
                 segments_BT: jax.Array | None = None) -> jax.Array:
        """int32 [B,T] -> float32 logits [B,T,V]; causal by construction (left-to-right recurrence).

        ``rngs`` (with a ``dropout`` stream) turns dropout on; see the class docstring.
        ``segments_BT`` (packed rows, :mod:`rexbench.baselines.packing`): every layer's state
        restarts from zero at each segment's first token."""
        starts_BT = None if segments_BT is None else segment_starts(segments_BT)
        x_BTH = self.embed(tokens_BT)
        for i, layer in enumerate(self.layers):
            if i > 0:
                x_BTH = apply_dropout(self.between_drop, x_BTH, rngs)
            x_BTH = layer(x_BTH, starts_BT)
        return self.head(apply_dropout(self.out_drop, x_BTH, rngs))

    def init_cache(self, batch_size: int, max_len: int) -> PyTree:
        """Zero recurrent state: {"h", "c"} each [L, B, H]; `max_len` is unused."""
        del max_len
        shape = (self.num_layers, batch_size, self.hidden_dim)
        return {"h": jnp.zeros(shape, jnp.float32), "c": jnp.zeros(shape, jnp.float32)}

    def decode_step(self, cache: PyTree, tokens_B: jax.Array, position: jax.Array) -> tuple[jax.Array, PyTree]:
        """Feeds one token; `position` is unused (the state already encodes it)."""
        del position
        x_BH = self.embed(tokens_B)
        new_h, new_c = [], []
        for i, layer in enumerate(self.layers):
            h_BH, c_BH = layer.cell(layer.w_in(x_BH), cache["h"][i], cache["c"][i])
            new_h.append(h_BH)
            new_c.append(c_BH)
            x_BH = h_BH
        return self.head(x_BH), {"h": jnp.stack(new_h), "c": jnp.stack(new_c)}
