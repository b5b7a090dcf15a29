"""xLSTM baseline (Beck et al., 2024) in pure JAX: mLSTM and sLSTM blocks (~100k parameters).

Both cells use exponential input gates, kept finite by a running log-scale stabiliser
``m`` (the paper's eqs. 15-17): with pre-activations ``ĩ`` and ``log f`` (log-sigmoid of
``f̃``),

    m_t = max(log f_t + m_{t-1}, ĩ_t),   i'_t = exp(ĩ_t − m_t),   f'_t = exp(log f_t + m_{t-1} − m_t)

and every state is stored divided by ``exp(m_t)``; the output is a ratio of two such
states, so the factor cancels and the model computes the unstabilised xLSTM exactly.

**mLSTM block** (pre-up-projection, residual): ``u = LN(x)``; ``[a, z] = up(u)`` (width
``E = 2D`` each); ``c = SiLU(causal conv_K(a))``; per head (``H`` heads of width ``P``)
``q, k`` from ``c`` and ``v`` from ``a`` by block-diagonal maps, ``ĩ, f̃`` from
``[q, k, v]``; the matrix memory

    C_t = f'_t C_{t-1} + i'_t v_t k_tᵀ / √P,   n_t = f'_t n_{t-1} + i'_t k_t / √P
    h̃_t = C_t q_t / max(|n_tᵀ q_t|, exp(−m_t))

then a per-head LayerNorm, a learnt skip from ``c``, the output gate ``SiLU(z)`` and
``down`` back to ``D``.

**sLSTM block** (post-up-projection, residual): ``u = LN(x)``; the gates ``z̃, ĩ, f̃, õ``
are ``W u + R h_{t-1} + b`` with ``R`` block-diagonal over ``H`` heads (memory mixing
only within a head);

    c_t = f'_t c_{t-1} + i'_t tanh(z̃_t),   n_t = f'_t n_{t-1} + i'_t,   h_t = σ(õ_t) c_t / n_t

then a per-head LayerNorm, the residual, and a gated GELU MLP (``LN``, up ``2 × F``,
``GELU(g) ⊙ u``, down) with its own residual.

The default stack ``"msm"`` (mLSTM, sLSTM, mLSTM; width 60, 4 heads, MLP 80) has 106,161
parameters at V = 5. Both training and decoding run the recurrences with ``jax.lax.scan``
(sequence lengths here are ≤ 258): the full-sequence path and the cached decode path
therefore compute the same sums in the same order.

Shape suffixes: B batch, T time, D model width, E inner width, H heads, P head width,
K conv width, F MLP width, V vocabulary.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

PyTree = Any


def stabilised_gates(i_tilde: jax.Array, log_f: jax.Array, m_prev: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(i', f', m_t) of the exponential gating with the log-scale stabiliser (see above)."""
    m = jnp.maximum(log_f + m_prev, i_tilde)
    return jnp.exp(i_tilde - m), jnp.exp(log_f + m_prev - m), m


class HeadwiseLinear(nnx.Module):
    """Block-diagonal linear map: ``H`` independent ``P x P`` blocks (no bias)."""

    def __init__(self, num_heads: int, head_dim: int, *, rngs: nnx.Rngs):
        self.num_heads, self.head_dim = num_heads, head_dim
        self.kernel = nnx.Param(
            jax.random.normal(rngs.params(), (num_heads, head_dim, head_dim), jnp.float32) / math.sqrt(head_dim)
        )

    def __call__(self, x_BE: jax.Array) -> jax.Array:
        x_BHP = x_BE.reshape(*x_BE.shape[:-1], self.num_heads, self.head_dim)
        return jnp.einsum("...hp,hpq->...hq", x_BHP, self.kernel[...]).reshape(x_BE.shape)


def headwise_norm(norm: nnx.LayerNorm, x_BE: jax.Array, num_heads: int) -> jax.Array:
    """LayerNorm over each head's slice separately (the paper's group norm), with one
    learnt scale per channel."""
    x_BHP = x_BE.reshape(*x_BE.shape[:-1], num_heads, -1)
    mean = x_BHP.mean(-1, keepdims=True)
    var = ((x_BHP - mean) ** 2).mean(-1, keepdims=True)
    y = ((x_BHP - mean) / jnp.sqrt(var + 1e-5)).reshape(x_BE.shape)
    return y * norm.scale[...]


class MLSTMBlock(nnx.Module):
    """Residual mLSTM block; see the module docstring."""

    def __init__(self, d_model: int, num_heads: int, conv_width: int, *, rngs: nnx.Rngs):
        E = 2 * d_model
        self.E, self.H, self.P, self.K = E, num_heads, E // num_heads, conv_width
        self.ln = nnx.LayerNorm(d_model, rngs=rngs)
        self.up = nnx.Linear(d_model, 2 * E, use_bias=False, rngs=rngs)
        self.conv_w = nnx.Param(jax.random.uniform(rngs.params(), (conv_width, E), jnp.float32, -1, 1) / math.sqrt(conv_width))
        self.conv_b = nnx.Param(jnp.zeros((E,), jnp.float32))
        self.q = HeadwiseLinear(num_heads, self.P, rngs=rngs)
        self.k = HeadwiseLinear(num_heads, self.P, rngs=rngs)
        self.v = HeadwiseLinear(num_heads, self.P, rngs=rngs)
        self.gates = nnx.Linear(3 * E, 2 * num_heads, rngs=rngs)  # (ĩ, f̃) per head
        # the paper's initialisation: gate weights 0, input-gate bias 0, forget-gate biases
        # 3 to 6 across heads (σ(3..6) = 0.95..0.998): early states remember.
        self.gates.kernel[...] = jnp.zeros_like(self.gates.kernel[...])
        self.gates.bias[...] = jnp.concatenate([jnp.zeros((num_heads,)), jnp.linspace(3.0, 6.0, num_heads)])
        self.out_norm = nnx.LayerNorm(E, use_bias=False, rngs=rngs)
        self.skip = nnx.Param(jnp.ones((E,), jnp.float32))
        self.down = nnx.Linear(E, d_model, use_bias=False, rngs=rngs)

    def init_state(self, B: int) -> PyTree:
        H, P = self.H, self.P
        return {"C": jnp.zeros((B, H, P, P)), "n": jnp.zeros((B, H, P)), "m": jnp.zeros((B, H)),
                "conv": jnp.zeros((B, self.K - 1, self.E))}

    def step(self, state: PyTree, x_BD: jax.Array) -> tuple[PyTree, jax.Array]:
        """One token; the state holds the memory and the conv's last K − 1 inputs."""
        B = x_BD.shape[0]
        a_BE, z_BE = jnp.split(self.up(self.ln(x_BD)), 2, axis=-1)
        window_BKE = jnp.concatenate([state["conv"], a_BE[:, None]], axis=1)
        c_BE = jax.nn.silu(jnp.einsum("bke,ke->be", window_BKE, self.conv_w[...]) + self.conv_b[...])
        q, k, v = self.q(c_BE), self.k(c_BE) / math.sqrt(self.P), self.v(a_BE)
        i_tilde_BH, f_tilde_BH = jnp.split(self.gates(jnp.concatenate([q, k, v], -1)), 2, axis=-1)
        i_g, f_g, m = stabilised_gates(i_tilde_BH, jax.nn.log_sigmoid(f_tilde_BH), state["m"])
        q_BHP, k_BHP, v_BHP = (t.reshape(B, self.H, self.P) for t in (q, k, v))
        C = f_g[..., None, None] * state["C"] + i_g[..., None, None] * v_BHP[..., :, None] * k_BHP[..., None, :]
        n = f_g[..., None] * state["n"] + i_g[..., None] * k_BHP
        num_BHP = jnp.einsum("bhvk,bhk->bhv", C, q_BHP)
        den_BH = jnp.maximum(jnp.abs(jnp.einsum("bhk,bhk->bh", n, q_BHP)), jnp.exp(-m))
        h_BE = (num_BHP / den_BH[..., None]).reshape(B, self.E)
        h_BE = headwise_norm(self.out_norm, h_BE, self.H) + self.skip[...] * c_BE
        out = x_BD + self.down(h_BE * jax.nn.silu(z_BE))
        return {"C": C, "n": n, "m": m, "conv": window_BKE[:, 1:]}, out


class SLSTMBlock(nnx.Module):
    """Residual sLSTM block followed by a gated MLP; see the module docstring."""

    def __init__(self, d_model: int, num_heads: int, mlp_dim: int, *, rngs: nnx.Rngs):
        self.D, self.H = d_model, num_heads
        self.ln = nnx.LayerNorm(d_model, rngs=rngs)
        self.w = nnx.Linear(d_model, 4 * d_model, rngs=rngs)  # (z̃, ĩ, f̃, õ), each D wide
        self.r = nnx.List([HeadwiseLinear(num_heads, d_model // num_heads, rngs=rngs) for _ in range(4)])
        bias = jnp.zeros((4 * d_model,)).at[2 * d_model: 3 * d_model].set(jnp.linspace(3.0, 6.0, d_model))
        self.w.bias[...] = bias  # forget gates start open, as in the mLSTM block
        self.out_norm = nnx.LayerNorm(d_model, use_bias=False, rngs=rngs)
        self.mlp_ln = nnx.LayerNorm(d_model, rngs=rngs)
        self.mlp_up = nnx.Linear(d_model, 2 * mlp_dim, use_bias=False, rngs=rngs)
        self.mlp_down = nnx.Linear(mlp_dim, d_model, use_bias=False, rngs=rngs)

    def init_state(self, B: int) -> PyTree:
        zeros = jnp.zeros((B, self.D))
        return {"c": zeros, "n": zeros, "h": zeros, "m": zeros}

    def step(self, state: PyTree, x_BD: jax.Array) -> tuple[PyTree, jax.Array]:
        pre = jnp.split(self.w(self.ln(x_BD)), 4, axis=-1)
        z_t, i_t, f_t, o_t = (p + r(state["h"]) for p, r in zip(pre, self.r, strict=True))
        i_g, f_g, m = stabilised_gates(i_t, jax.nn.log_sigmoid(f_t), state["m"])
        c = f_g * state["c"] + i_g * jnp.tanh(z_t)
        n = f_g * state["n"] + i_g
        h = jax.nn.sigmoid(o_t) * c / n
        y = x_BD + headwise_norm(self.out_norm, h, self.H)
        g, u = jnp.split(self.mlp_up(self.mlp_ln(y)), 2, axis=-1)
        return {"c": c, "n": n, "h": h, "m": m}, y + self.mlp_down(jax.nn.gelu(g) * u)


class XLSTM(nnx.Module):
    """Embedding -> xLSTM blocks (``layout``: ``m`` = mLSTM, ``s`` = sLSTM) -> LN -> head.

    ``max_len`` is accepted for interface uniformity; a recurrent model has no length limit.
    """

    def __init__(self, vocab_size: int, *, rngs: nnx.Rngs, max_len: int = 256, d_model: int = 60,
                 num_heads: int = 4, layout: str = "msm", conv_width: int = 4, mlp_dim: int = 80):
        if not layout or set(layout) - {"m", "s"}:
            raise ValueError(f"layout must be a non-empty string of 'm' (mLSTM) and 's' (sLSTM), got {layout!r}")
        self.vocab_size, self.max_len, self.layout = vocab_size, max_len, layout
        self.embed = nnx.Embed(vocab_size, d_model, rngs=rngs)
        self.blocks = nnx.List([
            MLSTMBlock(d_model, num_heads, conv_width, rngs=rngs) if kind == "m" else
            SLSTMBlock(d_model, num_heads, mlp_dim, rngs=rngs) for kind in layout
        ])
        self.ln_final = nnx.LayerNorm(d_model, rngs=rngs)
        self.head = nnx.Linear(d_model, vocab_size, rngs=rngs)

    def init_cache(self, batch_size: int, max_len: int) -> PyTree:
        """Zero states of every block; ``max_len`` is unused."""
        del max_len
        return [block.init_state(batch_size) for block in self.blocks]

    def _step(self, cache: PyTree, x_BD: jax.Array) -> tuple[PyTree, jax.Array]:
        new = []
        for block, state in zip(self.blocks, cache, strict=True):
            state, x_BD = block.step(state, x_BD)
            new.append(state)
        return new, self.head(self.ln_final(x_BD))

    def __call__(self, tokens_BT: jax.Array) -> jax.Array:
        """int32 [B,T] -> float32 logits [B,T,V]; causal by construction (left-to-right recurrence)."""
        x_TBD = jnp.swapaxes(self.embed(tokens_BT), 0, 1)
        _, logits_TBV = jax.lax.scan(self._step, self.init_cache(tokens_BT.shape[0], 0), x_TBD)
        return jnp.swapaxes(logits_TBV, 0, 1)

    def decode_step(self, cache: PyTree, tokens_B: jax.Array, position: jax.Array) -> tuple[jax.Array, PyTree]:
        """Feeds one token; ``position`` is unused (the state already encodes it)."""
        del position
        cache, logits_BV = self._step(cache, self.embed(tokens_B))
        return logits_BV, cache
