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
parameters at V = 5. The full-sequence path (training, scoring) runs block by block: every
projection, the conv and the MLP over all tokens in one matmul each, and ``jax.lax.scan``
only for the recurrences (the matrix memory; sLSTM's ``R h``). The cached decode path runs
the same per-token cell functions (``_cell``), so the two differ only by float
reassociation in the batched projections (tested: cache equals forward to 1e-4).

Shape suffixes: B batch, T time, D model width, E inner width, H heads, P head width,
K conv width, F MLP width, V vocabulary.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rexbench.baselines.packing import segment_positions, segment_starts

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

    def dense(self) -> jax.Array:
        """The block-diagonal ``[H P, H P]`` matrix: one plain matmul is faster on CPU than
        ``H`` tiny batched ones, and the zero blocks add exact zeros."""
        H = self.num_heads
        return jnp.einsum("hg,hpq->hpgq", jnp.eye(H), self.kernel[...]).reshape(H * self.head_dim, H * self.head_dim)

    def __call__(self, x_BE: jax.Array) -> jax.Array:
        return x_BE @ self.dense()


def headwise_norm(norm: nnx.LayerNorm, x_BE: jax.Array, num_heads: int) -> jax.Array:
    """LayerNorm over each head's slice separately (the paper's group norm), with one
    learnt scale per channel."""
    x_BHP = x_BE.reshape(*x_BE.shape[:-1], num_heads, -1)
    mean = x_BHP.mean(-1, keepdims=True)
    var = ((x_BHP - mean) ** 2).mean(-1, keepdims=True)
    y = ((x_BHP - mean) / jnp.sqrt(var + 1e-5)).reshape(x_BE.shape)
    return y * norm.scale[...]


def causal_conv(a_BTE: jax.Array, w_KE: jax.Array, positions_BT: jax.Array | None) -> jax.Array:
    """Depthwise causal convolution over a whole sequence, as the decode path's window:
    ``out_t = sum_k w[k] a[t - K + 1 + k]``, inputs before the start zero. ``positions_BT``
    (packed rows): each slot's position in its segment; taps reaching before the segment's
    first token are zeroed, as a fresh conv state would have them."""
    K, T = w_KE.shape[0], a_BTE.shape[1]
    a_pad = jnp.pad(a_BTE, ((0, 0), (K - 1, 0), (0, 0)))
    taps_BTKE = jnp.stack([a_pad[:, k: k + T] for k in range(K)], axis=2)
    if positions_BT is not None:  # tap k looks K - 1 - k slots back
        lag_K = jnp.arange(K - 1, -1, -1)
        taps_BTKE = jnp.where((positions_BT[..., None] >= lag_K)[..., None], taps_BTKE, 0.0)
    return jnp.einsum("btke,ke->bte", taps_BTKE, w_KE)


def scan_with_resets(cell, state: PyTree, xs_T: PyTree, starts_BT: jax.Array | None) -> jax.Array:
    """``jax.lax.scan`` of ``cell(state, x_t) -> (state, y_t)`` over time-major ``xs_T``;
    returns the ys batch-major. ``starts_BT`` (packed rows): the state is reset to
    ``state`` (the zero state) before each segment's first token."""
    if starts_BT is None:
        _, ys_T = jax.lax.scan(cell, state, xs_T)
    else:
        zero = state

        def reset_cell(s, xs):
            x_t, start_B = xs
            s = jax.tree.map(lambda v, z: jnp.where(start_B.reshape(-1, *([1] * (v.ndim - 1))), z, v), s, zero)
            return cell(s, x_t)

        _, ys_T = jax.lax.scan(reset_cell, state, (xs_T, jnp.swapaxes(starts_BT, 0, 1)))
    return jax.tree.map(lambda y: jnp.swapaxes(y, 0, 1), ys_T)


def parallel_memory(q_BTE: jax.Array, k_BTE: jax.Array, v_BTE: jax.Array, i_tilde_BTH: jax.Array,
                    log_f_BTH: jax.Array, positions_BT: jax.Array | None) -> jax.Array:
    """The matrix memory's readout h̃ for every token at once (the quadratic form of the
    recurrence in :meth:`MLSTMBlock._cell`, same numbers up to float reassociation).

    Unrolled from a zero state, ``C_t q_t = sum_{s<=t} exp(D_ts) (k_s . q_t) v_s`` with
    ``D_ts = sum_{s<r<=t} log f_r + ĩ_s``, and the stabiliser is ``m_t = max(sum_{r<=t}
    log f_r, max_s D_ts)`` (the first term is the zero initial state's ``m = 0`` carried
    forward). The sums over ``r`` are a masked cumulative sum over a ``[T, T + 1]`` table
    (column 0: the initial state), never a difference of two long prefix sums, so they do not
    lose precision when the forget gates are small. ``positions_BT`` (packed rows): ``s``
    ranges over the token's own segment and the initial state sits at its first token.
    """
    B, T, E = q_BTE.shape
    H = i_tilde_BTH.shape[-1]
    P = E // H
    q, k, v = (t.reshape(B, T, H, P) for t in (q_BTE, k_BTE, v_BTE))
    L_BHT, I_BHT = jnp.swapaxes(log_f_BTH, 1, 2), jnp.swapaxes(i_tilde_BTH, 1, 2)
    t_T, s_S = jnp.arange(T), jnp.arange(-1, T)  # s = -1: the initial state
    # cum_BHTS[t, 1 + s] = sum_{s < r <= t} log f_r, as one matmul with 0/1 masks (XLA:CPU's
    # cumsum is a slow reduce-window; a matmul sums the same terms)
    upto_TR = (t_T[None, :] <= t_T[:, None]).astype(L_BHT.dtype)  # r <= t
    after_RS = (t_T[:, None] > s_S[None, :]).astype(L_BHT.dtype)  # r > s
    cum_BHTS = jnp.einsum("bhtr,rs->bhts", L_BHT[..., None, :] * upto_TR, after_RS)
    if positions_BT is None:
        init_BHT = cum_BHTS[..., 0]
        valid = (s_S[None, 1:] <= t_T[:, None])[None, None]  # [1,1,T,T]
    else:
        start_BT = t_T[None, :] - positions_BT  # first slot of each token's segment
        init_BHT = jnp.take_along_axis(cum_BHTS, start_BT[:, None, :, None], axis=-1)[..., 0]  # column start - 1 + 1
        valid = ((s_S[None, None, 1:] <= t_T[None, :, None]) & (s_S[None, None, 1:] >= start_BT[..., None]))[:, None]
    D_BHTS = jnp.where(valid, cum_BHTS[..., 1:] + I_BHT[..., None, :], -jnp.inf)
    m_BHT = jnp.maximum(init_BHT, D_BHTS.max(-1))
    A_BHTS = jnp.exp(D_BHTS - m_BHT[..., None]) * jnp.einsum("bthp,bshp->bhts", q, k)
    num_BTHP = jnp.einsum("bhts,bshp->bthp", A_BHTS, v)
    den_BHT = jnp.maximum(jnp.abs(A_BHTS.sum(-1)), jnp.exp(-m_BHT))
    return (num_BTHP / jnp.swapaxes(den_BHT, 1, 2)[..., None]).reshape(B, T, E)


class MLSTMBlock(nnx.Module):
    """Residual mLSTM block; see the module docstring. ``__call__`` runs a whole sequence
    (projections over all tokens at once, a scan for the memory only); ``step`` one token."""

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

    def _inputs(self, a: jax.Array, c: jax.Array) -> tuple[jax.Array, ...]:
        """(q, k, v, ĩ, log f) from the conv branch ``c`` and the up-projection ``a`` (any
        leading dims; widths E, E, E, H, H)."""
        q, k, v = self.q(c), self.k(c) / math.sqrt(self.P), self.v(a)
        i_tilde, f_tilde = jnp.split(self.gates(jnp.concatenate([q, k, v], -1)), 2, axis=-1)
        return q, k, v, i_tilde, jax.nn.log_sigmoid(f_tilde)

    def _cell(self, mem: PyTree, xs: tuple[jax.Array, ...]) -> tuple[PyTree, jax.Array]:
        """One token of the matrix memory: (C, n, m) and (q, k, v, ĩ, log f) of [B, ...] -> h̃ [B, E]."""
        q, k, v, i_tilde_BH, log_f_BH = xs
        B = q.shape[0]
        i_g, f_g, m = stabilised_gates(i_tilde_BH, log_f_BH, mem["m"])
        q_BHP, k_BHP, v_BHP = (t.reshape(B, self.H, self.P) for t in (q, k, v))
        C = f_g[..., None, None] * mem["C"] + i_g[..., None, None] * v_BHP[..., :, None] * k_BHP[..., None, :]
        n = f_g[..., None] * mem["n"] + i_g[..., None] * k_BHP
        num_BHP = jnp.einsum("bhvk,bhk->bhv", C, q_BHP)
        den_BH = jnp.maximum(jnp.abs(jnp.einsum("bhk,bhk->bh", n, q_BHP)), jnp.exp(-m))
        return {"C": C, "n": n, "m": m}, (num_BHP / den_BH[..., None]).reshape(B, self.E)

    def _output(self, x: jax.Array, h: jax.Array, c: jax.Array, z: jax.Array) -> jax.Array:
        h = headwise_norm(self.out_norm, h, self.H) + self.skip[...] * c
        return x + self.down(h * jax.nn.silu(z))

    def step(self, state: PyTree, x_BD: jax.Array) -> tuple[PyTree, jax.Array]:
        """One token; the state holds the memory and the conv's last K − 1 inputs."""
        a_BE, z_BE = jnp.split(self.up(self.ln(x_BD)), 2, axis=-1)
        window_BKE = jnp.concatenate([state["conv"], a_BE[:, None]], axis=1)
        c_BE = jax.nn.silu(jnp.einsum("bke,ke->be", window_BKE, self.conv_w[...]) + self.conv_b[...])
        mem = {key: state[key] for key in ("C", "n", "m")}
        mem, h_BE = self._cell(mem, self._inputs(a_BE, c_BE))
        return {**mem, "conv": window_BKE[:, 1:]}, self._output(x_BD, h_BE, c_BE, z_BE)

    def __call__(self, x_BTD: jax.Array, starts_BT: jax.Array | None = None,
                 positions_BT: jax.Array | None = None) -> jax.Array:
        """A whole sequence from the zero state (packed rows: reset at each segment start)."""
        a_BTE, z_BTE = jnp.split(self.up(self.ln(x_BTD)), 2, axis=-1)
        c_BTE = jax.nn.silu(causal_conv(a_BTE, self.conv_w[...], positions_BT) + self.conv_b[...])
        del starts_BT  # the segments reach the memory through positions_BT
        h_BTE = parallel_memory(*self._inputs(a_BTE, c_BTE), positions_BT)
        return self._output(x_BTD, h_BTE, c_BTE, z_BTE)


class SLSTMBlock(nnx.Module):
    """Residual sLSTM block followed by a gated MLP; see the module docstring. ``__call__``
    runs a whole sequence (the input projection and the MLP over all tokens at once, a scan
    for the recurrence only); ``step`` one token."""

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

    def recurrent_kernel(self) -> jax.Array:
        """``R`` of the four gates as one ``[D, 4D]`` matrix (block-diagonal per gate)."""
        return jnp.concatenate([r.dense() for r in self.r], axis=1)

    def _cell(self, state: PyTree, pre_BG: jax.Array, R_DG: jax.Array) -> tuple[PyTree, jax.Array]:
        """One token of the recurrence: ``pre`` = W u + b (the four gates, 4D wide), ``R_DG``
        = :meth:`recurrent_kernel` -> h [B, D]."""
        z_t, i_t, f_t, o_t = jnp.split(pre_BG + state["h"] @ R_DG, 4, axis=-1)
        i_g, f_g, m = stabilised_gates(i_t, jax.nn.log_sigmoid(f_t), state["m"])
        c = f_g * state["c"] + i_g * jnp.tanh(z_t)
        n = f_g * state["n"] + i_g
        h = jax.nn.sigmoid(o_t) * c / n
        return {"c": c, "n": n, "h": h, "m": m}, h

    def _output(self, x: jax.Array, h: jax.Array) -> jax.Array:
        y = x + headwise_norm(self.out_norm, h, self.H)
        g, u = jnp.split(self.mlp_up(self.mlp_ln(y)), 2, axis=-1)
        return y + self.mlp_down(jax.nn.gelu(g) * u)

    def step(self, state: PyTree, x_BD: jax.Array) -> tuple[PyTree, jax.Array]:
        state, h = self._cell(state, self.w(self.ln(x_BD)), self.recurrent_kernel())
        return state, self._output(x_BD, h)

    def __call__(self, x_BTD: jax.Array, starts_BT: jax.Array | None = None,
                 positions_BT: jax.Array | None = None) -> jax.Array:
        """A whole sequence from the zero state (packed rows: reset at each segment start)."""
        del positions_BT  # no convolution
        pre_TBG = jnp.swapaxes(self.w(self.ln(x_BTD)), 0, 1)
        R_DG = self.recurrent_kernel()
        h_BTD = scan_with_resets(lambda st, pre: self._cell(st, pre, R_DG), self.init_state(x_BTD.shape[0]),
                                 pre_TBG, starts_BT)
        return self._output(x_BTD, h_BTD)


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

    supports_packing = True  # __call__ takes segments_BT (rexbench.baselines.packing)

    def __call__(self, tokens_BT: jax.Array, *, segments_BT: jax.Array | None = None) -> jax.Array:
        """int32 [B,T] -> float32 logits [B,T,V]; causal by construction (left-to-right
        recurrence). Block by block over the whole sequence, so only the recurrences are
        sequential. ``segments_BT`` (packed rows, :mod:`rexbench.baselines.packing`): every
        state restarts from zero, and the conv from an empty window, at each segment's first token."""
        starts = positions = None
        if segments_BT is not None:
            starts, positions = segment_starts(segments_BT), segment_positions(segments_BT)
        x_BTD = self.embed(tokens_BT)
        for block in self.blocks:
            x_BTD = block(x_BTD, starts, positions)
        return self.head(self.ln_final(x_BTD))

    def decode_step(self, cache: PyTree, tokens_B: jax.Array, position: jax.Array) -> tuple[jax.Array, PyTree]:
        """Feeds one token; ``position`` is unused (the state already encodes it)."""
        del position
        cache, logits_BV = self._step(cache, self.embed(tokens_B))
        return logits_BV, cache
