"""Decoder-only causal Transformer baseline (~100k parameters; pre-LN by default).

Options beyond the defaults (used by the ``transformer-rulex`` configuration of the
registry, the rule-extrapolation code's model): post-LN blocks, a fixed sinusoidal
position table, ReLU, embeddings scaled by sqrt(d_model), and dropout placed as PyTorch's
``nn.TransformerEncoderLayer`` places it (see :class:`Transformer`).

Shape suffixes: B batch, T time (query positions), S key positions / cache
length, D model width, H heads, K head width, F MLP width, V vocabulary.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rexbench.baselines.models.dropout import apply_dropout, check_rate, make_dropout
from rexbench.baselines.packing import segment_positions

PyTree = Any
NORMS: tuple[str, ...] = ("pre", "post")
POSITIONS: tuple[str, ...] = ("learned", "rope", "sinusoidal")
ACTIVATIONS = {"gelu": jax.nn.gelu, "relu": jax.nn.relu}

# GPT-2 style small-std init: with pre-LN the residual stream should start
# small relative to the LayerNorm-ed inputs of each block.
_EMBED_INIT = nnx.initializers.normal(stddev=0.02)
# Large negative instead of -inf so a fully masked row can never produce NaN.
_MASK_VALUE = -1e30


def rope_rotate(x_BHTK: jax.Array, positions: jax.Array, base: float = 10000.0) -> jax.Array:
    """Rotary position embedding (half-split convention) applied to q or k [B,H,T,K];
    ``positions`` is [T] (every row) or [B,T] (a packed row's per-segment positions).

    Rotating by the absolute position makes q·k depend only on the relative
    offset, so RoPE models have no position table to outgrow.
    """
    half = x_BHTK.shape[-1] // 2
    inv_freq_K2 = 1.0 / (base ** (jnp.arange(half, dtype=jnp.float32) / half))
    angle_TK2 = positions.astype(jnp.float32)[..., None] * inv_freq_K2  # [T,K2] or [B,T,K2]
    if angle_TK2.ndim == 3:
        angle_TK2 = angle_TK2[:, None]  # [B,1,T,K2]
    cos, sin = jnp.cos(angle_TK2), jnp.sin(angle_TK2)
    x1, x2 = x_BHTK[..., :half], x_BHTK[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def sinusoidal_table(positions_T: jax.Array, d_model: int, base: float = 10000.0) -> jax.Array:
    """Vaswani et al.'s fixed table [T, D]: sin(p / base^(2i/D)) at column 2i, cos at 2i+1.

    Computed from the positions, not stored, so it has no parameters and no length limit.
    """
    half = (d_model + 1) // 2
    inv_freq_K = jnp.exp(jnp.arange(half, dtype=jnp.float32) * (-2.0 * jnp.log(base) / d_model))
    angle_TK = positions_T.astype(jnp.float32)[..., None] * inv_freq_K  # [T,K] (or [B,T,K])
    # interleave (sin, cos) per frequency; an odd width drops the last cos column
    table = jnp.stack([jnp.sin(angle_TK), jnp.cos(angle_TK)], axis=-1)
    return table.reshape(*positions_T.shape, 2 * half)[..., :d_model]


class Block(nnx.Module):
    """One block. Pre-LN: x + Attn(LN(x)), then x + MLP(LN(x)). Post-LN: LN(x + Attn(x)),
    then LN(x + MLP(x)). Dropout (rate > 0, train mode, with a key) on the attention
    weights, the attention output, the MLP hidden activation and the MLP output."""

    def __init__(self, d_model: int, num_heads: int, mlp_dim: int, *, rope: bool, rngs: nnx.Rngs,
                 norm: str = "pre", activation: str = "gelu", dropout: float = 0.0, ln_eps: float = 1e-5):
        if d_model % num_heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        if rope and self.head_dim % 2 != 0:
            raise ValueError(f"RoPE needs an even head width, got {self.head_dim}")
        self.rope = rope
        self.post_ln = norm == "post"
        self.act = ACTIVATIONS[activation]
        # ln_attn / ln_mlp: the sublayers' input norms (pre-LN) or the residual sums' (post-LN)
        self.ln_attn = nnx.LayerNorm(d_model, epsilon=ln_eps, rngs=rngs)
        self.qkv = nnx.Linear(d_model, 3 * d_model, rngs=rngs)
        self.attn_out = nnx.Linear(d_model, d_model, rngs=rngs)
        self.ln_mlp = nnx.LayerNorm(d_model, epsilon=ln_eps, rngs=rngs)
        self.mlp_in = nnx.Linear(d_model, mlp_dim, rngs=rngs)
        self.mlp_out = nnx.Linear(mlp_dim, d_model, rngs=rngs)
        self.drop = make_dropout(dropout)  # one site object, a fresh mask per use

    def _qkv(self, x_BTD: jax.Array, positions: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Projects LN(x) (pre-LN) or x (post-LN) to per-head q, k, v [B,H,T,K] (rotated when
        RoPE is on).

        The ``qkv`` kernel [D, 3D] is read as [D, 3, H, K] and each projection is one einsum
        straight into the heads-major layout the attention matmuls want: on XLA:CPU this
        measured ~10% faster per training step than one [B,T,3D] projection reshaped and
        transposed (scripts/bench_vs_torch.py), with the same parameters and the same values
        up to float reassociation."""
        h_BTD = x_BTD if self.post_ln else self.ln_attn(x_BTD)
        W_D3HK = self.qkv.kernel[...].reshape(-1, 3, self.num_heads, self.head_dim)
        b_3HK = self.qkv.bias[...].reshape(3, self.num_heads, self.head_dim)
        q_BHTK, k_BHTK, v_BHTK = (jnp.einsum("btd,dhk->bhtk", h_BTD, W_D3HK[:, i]) + b_3HK[i][None, :, None, :]
                                  for i in range(3))
        if self.rope:
            q_BHTK = rope_rotate(q_BHTK, positions)
            k_BHTK = rope_rotate(k_BHTK, positions)
        return q_BHTK, k_BHTK, v_BHTK

    def _attend(self, q_BHTK: jax.Array, k_BHSK: jax.Array, v_BHSK: jax.Array, mask_TS: jax.Array,
                rngs: nnx.Rngs | None = None) -> jax.Array:
        """Masked softmax attention, returns the output projection of the merged heads [B,T,D].
        ``mask_TS`` may carry leading batch dimensions ([B,T,S]: a packed row's segments)."""
        H, K = q_BHTK.shape[1], q_BHTK.shape[3]
        # the scale on q (not on the [B,H,T,S] scores) and the mask as an additive bias (not a
        # select, whose gradient is another select): fewer passes over the largest tensors,
        # ~4% of a training step on XLA:CPU; the same values (1/sqrt(K) is exact for K = 16,
        # and a masked score + -1e30 is -1e30)
        scores_BHTS = jnp.einsum("bhtk,bhsk->bhts", q_BHTK * (1.0 / jnp.sqrt(jnp.float32(K))), k_BHSK)
        mask_BHTS = mask_TS[None, None] if mask_TS.ndim == 2 else mask_TS[:, None]
        scores_BHTS = scores_BHTS + jnp.where(mask_BHTS, 0.0, _MASK_VALUE)
        weights_BHTS = apply_dropout(self.drop, jax.nn.softmax(scores_BHTS, axis=-1), rngs)
        out_BHTK = jnp.einsum("bhts,bhsk->bhtk", weights_BHTS, v_BHSK)
        W_HKD = self.attn_out.kernel[...].reshape(H, K, -1)
        return jnp.einsum("bhtk,hkd->btd", out_BHTK, W_HKD) + self.attn_out.bias[...]

    def _residual_attn(self, x_BTD: jax.Array, attn_BTD: jax.Array, rngs: nnx.Rngs | None) -> jax.Array:
        x_BTD = x_BTD + apply_dropout(self.drop, attn_BTD, rngs)
        return self.ln_attn(x_BTD) if self.post_ln else x_BTD

    def _mlp(self, x_BTD: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
        h_BTD = x_BTD if self.post_ln else self.ln_mlp(x_BTD)
        hidden_BTF = apply_dropout(self.drop, self.act(self.mlp_in(h_BTD)), rngs)
        x_BTD = x_BTD + apply_dropout(self.drop, self.mlp_out(hidden_BTF), rngs)
        return self.ln_mlp(x_BTD) if self.post_ln else x_BTD

    def __call__(self, x_BTD: jax.Array, positions: jax.Array, mask_TS: jax.Array,
                 rngs: nnx.Rngs | None = None) -> jax.Array:
        """``positions`` [T] or [B,T]; ``mask_TS`` [T,T] (causal) or [B,T,T] (causal within
        each packed segment)."""
        q, k, v = self._qkv(x_BTD, positions)
        x_BTD = self._residual_attn(x_BTD, self._attend(q, k, v, mask_TS, rngs), rngs)
        return self._mlp(x_BTD, rngs)

    def decode(
        self, x_B1D: jax.Array, k_LBHSK: jax.Array, v_LBHSK: jax.Array, layer: int, position: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """One token at `position`: writes its k, v into this layer's cache slot and attends to slots <= position.

        The whole [L,...] cache is threaded through and updated in place
        (rather than sliced per layer and re-stacked) so a decode loop does not
        copy the cache every step.
        """
        q, k, v = self._qkv(x_B1D, position[None])  # [B,H,1,K]
        zero = jnp.zeros((), jnp.int32)
        start = (jnp.int32(layer), zero, zero, position, zero)
        k_LBHSK = jax.lax.dynamic_update_slice(k_LBHSK, k[None], start)
        v_LBHSK = jax.lax.dynamic_update_slice(v_LBHSK, v[None], start)
        S = k_LBHSK.shape[3]
        mask_1S = (jnp.arange(S) <= position)[None, :]
        x_B1D = self._residual_attn(x_B1D, self._attend(q, k_LBHSK[layer], v_LBHSK[layer], mask_1S), None)
        return self._mlp(x_B1D), k_LBHSK, v_LBHSK


class Transformer(nnx.Module):
    """Decoder-only causal Transformer with learned, rotary or sinusoidal positions.

    Defaults (d_model=64, 2 layers, 4 heads, MLP 256, learned positions for
    256 slots) give 117,125 parameters at V=5 (100,741 with ``pos="rope"``).

    Options (defaults reproduce the model above bit for bit):

    * ``norm``: ``"pre"`` (LN before each sublayer, a final LN before the head) or
      ``"post"`` (``x = LN(x + sublayer(x))``, and no final LN: PyTorch's
      ``nn.TransformerEncoder`` with its default ``norm=None``; ``ln_final`` is then
      absent from the parameters);
    * ``pos``: ``"learned"`` (a table of ``max_len`` rows), ``"rope"`` or ``"sinusoidal"``
      (:func:`sinusoidal_table`, added to the embeddings; no parameters, no length limit);
    * ``activation``: ``"gelu"`` or ``"relu"`` (PyTorch's default) in the MLP;
    * ``embed_scale``: multiply the token embeddings by sqrt(d_model) before adding
      positions (as the PyTorch tutorial model the rule-extrapolation code builds on);
    * ``ln_eps``: the LayerNorm epsilon;
    * ``dropout``: the rate at the sites of ``nn.TransformerEncoderLayer`` -- the
      embeddings after the positions are added, the attention weights (after softmax),
      the attention output before the residual add, the MLP hidden activation, and the
      MLP output before the residual add. Masks are drawn only in train mode and when
      ``rngs`` is passed (:mod:`rexbench.baselines.models.dropout`); ``decode_step``
      never draws, so it equals the key-less forward.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        rngs: nnx.Rngs,
        max_len: int = 256,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        mlp_dim: int = 256,
        pos: str = "learned",
        norm: str = "pre",
        activation: str = "gelu",
        embed_scale: bool = False,
        ln_eps: float = 1e-5,
        dropout: float = 0.0,
    ):
        if pos not in POSITIONS:
            raise ValueError(f"pos must be one of {POSITIONS}, got {pos!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        dropout = check_rate(dropout)
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.d_model = d_model
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.pos = pos
        self.norm = norm
        self.embed_scale = bool(embed_scale)
        self.tok_embed = nnx.Embed(vocab_size, d_model, embedding_init=_EMBED_INIT, rngs=rngs)
        if pos == "learned":
            self.pos_embed = nnx.Param(_EMBED_INIT(rngs.params(), (max_len, d_model), jnp.float32))
        else:
            self.pos_embed = nnx.data(None)
        self.blocks = nnx.List([
            Block(d_model, num_heads, mlp_dim, rope=(pos == "rope"), rngs=rngs, norm=norm, activation=activation,
                  dropout=dropout, ln_eps=ln_eps)
            for _ in range(num_layers)
        ])
        # post-LN's last block already ends in a LayerNorm
        self.ln_final = nnx.LayerNorm(d_model, epsilon=ln_eps, rngs=rngs) if norm == "pre" else nnx.data(None)
        self.head = nnx.Linear(d_model, vocab_size, rngs=rngs)
        self.embed_drop = make_dropout(dropout)

    def _embed(self, tokens_BT: jax.Array, positions: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Token embeddings plus positions: ``positions`` [T] (the same for every row) or
        [B,T] (per-segment positions of packed rows)."""
        x_BTD = self.tok_embed(tokens_BT)
        if self.embed_scale:
            x_BTD = x_BTD * jnp.sqrt(jnp.float32(self.d_model))
        if self.pos == "learned":
            x_BTD = x_BTD + self._learned_positions(positions)
        elif self.pos == "sinusoidal":
            table = sinusoidal_table(positions, self.d_model)
            x_BTD = x_BTD + (table[None] if positions.ndim == 1 else table)
        return apply_dropout(self.embed_drop, x_BTD, rngs)

    def _learned_positions(self, positions: jax.Array) -> jax.Array:
        table_PD = self.pos_embed[...]
        if positions.ndim == 1:
            return jnp.take(table_PD, positions, axis=0)[None]
        # packed rows: a one-hot matmul instead of a gather, whose gradient (a scatter-add of
        # every token's row into the table) XLA:CPU runs serially
        return jax.nn.one_hot(positions, table_PD.shape[0], dtype=table_PD.dtype) @ table_PD

    def _head(self, x_BTD: jax.Array) -> jax.Array:
        return self.head(x_BTD if self.ln_final is None else self.ln_final(x_BTD))

    supports_packing = True  # __call__ takes segments_BT (rexbench.baselines.packing)

    def __call__(self, tokens_BT: jax.Array, *, rngs: nnx.Rngs | None = None,
                 segments_BT: jax.Array | None = None) -> jax.Array:
        """int32 [B,T] -> float32 logits [B,T,V]; position t sees tokens 0..t only.

        ``rngs`` (with a ``dropout`` stream) turns dropout on; see the class docstring.
        ``segments_BT`` (int32, packed rows; :mod:`rexbench.baselines.packing`): the number of
        the sequence each slot belongs to; position t then sees only the earlier tokens of
        its own segment, with positions counted from the segment's first token, so a
        sequence's logits are the same as alone in a row."""
        T = tokens_BT.shape[1]
        if self.pos == "learned" and T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds the position table max_len={self.max_len}")
        causal_TT = jnp.tril(jnp.ones((T, T), dtype=jnp.bool_))
        if segments_BT is None:
            positions = jnp.arange(T, dtype=jnp.int32)
            mask = causal_TT
        else:
            positions = segment_positions(segments_BT)
            mask = causal_TT[None] & (segments_BT[:, :, None] == segments_BT[:, None, :])
        x_BTD = self._embed(tokens_BT, positions, rngs)
        for block in self.blocks:
            x_BTD = block(x_BTD, positions, mask, rngs)
        return self._head(x_BTD)

    def init_cache(self, batch_size: int, max_len: int) -> PyTree:
        """Zero KV cache: {"k", "v"} each [layers, B, H, max_len, K]."""
        if self.pos == "learned" and max_len > self.max_len:
            raise ValueError(f"cache length {max_len} exceeds the position table max_len={self.max_len}")
        shape = (self.num_layers, batch_size, self.num_heads, max_len, self.d_model // self.num_heads)
        return {"k": jnp.zeros(shape, jnp.float32), "v": jnp.zeros(shape, jnp.float32)}

    def decode_step(self, cache: PyTree, tokens_B: jax.Array, position: jax.Array) -> tuple[jax.Array, PyTree]:
        """Feeds the token at `position`; returns next-token logits [B,V] and the updated cache."""
        position = jnp.asarray(position, jnp.int32)
        x_B1D = self._embed(tokens_B[:, None], position[None])
        k_LBHSK, v_LBHSK = cache["k"], cache["v"]
        for layer, block in enumerate(self.blocks):
            x_B1D, k_LBHSK, v_LBHSK = block.decode(x_B1D, k_LBHSK, v_LBHSK, layer, position)
        logits_BV = self._head(x_B1D)[:, 0]
        return logits_BV, {"k": k_LBHSK, "v": v_LBHSK}
