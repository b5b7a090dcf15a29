"""Exact function-preserving reparametrisations of the baselines (the fine-tunability case).

Two models that compute the same function have the same loss and the same behaviour on
every prompt, yet gradient descent sees their parameters, not their function: a twin
rescaled by α gets other gradients (SGD: ×1/α on the scaled-up side) and, under AdamW,
updates of the same size on weights α times larger. :func:`rescale` builds such twins.

Every rescaling here is exact in real arithmetic (floats differ by rounding only) because
it crosses a **linear** map only — never a nonlinearity (GELU, sigmoid and tanh are not
positively homogeneous):

Transformer (each block, then the read-out):

* ``ln_attn`` scale and bias ×α, the ``qkv`` kernel ×1/α (LayerNorm's output is affine
  in its scale and bias, and feeds the ``qkv`` linear map only);
* the query columns of ``qkv`` (kernel and bias) ×α and the key columns ×1/α (the
  scores ``q·k`` are unchanged, and RoPE is a rotation, linear, so it commutes);
* the value columns ×α and the ``attn_out`` kernel ×1/α (the softmax weights are
  unchanged; ``attn_out`` is linear in the values);
* ``ln_mlp`` scale and bias ×α, the ``mlp_in`` kernel ×1/α (GELU's input unchanged);
* ``ln_final`` scale and bias ×α, the ``head`` kernel ×1/α.

LSTM: the embedding table ×α and the first layer's input kernel ``w_in`` ×1/α (the
embedding feeds that linear map only; its bias is untouched). Inside the cell every path
crosses a sigmoid or tanh, so no other exact rescaling exists there.

Example::

    twin = rescale(model, 10.0)            # same logits to float rounding
    jnp.abs(twin(tokens) - model(tokens)).max()   # ~1e-6
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from rexbench.baselines.models.lstm import LSTM
from rexbench.baselines.models.transformer import Transformer

RESCALABLE = ("transformer", "lstm")


def _scale(param: nnx.Param, factor: jnp.ndarray | float) -> None:
    param[...] = param[...] * factor


def _rescale_transformer(model: Transformer, alpha: float) -> None:
    D = model.d_model
    inv = 1.0 / alpha
    # per qkv output column: q ×α, k ×1/α, v ×α
    cols_3D = jnp.concatenate([jnp.full((D,), alpha), jnp.full((D,), inv), jnp.full((D,), alpha)])
    for block in model.blocks:
        _scale(block.ln_attn.scale, alpha)
        _scale(block.ln_attn.bias, alpha)
        _scale(block.qkv.kernel, inv * cols_3D[None, :])  # 1/α for the LayerNorm, then the column factors
        _scale(block.qkv.bias, cols_3D)
        _scale(block.attn_out.kernel, inv)
        _scale(block.ln_mlp.scale, alpha)
        _scale(block.ln_mlp.bias, alpha)
        _scale(block.mlp_in.kernel, inv)
    _scale(model.ln_final.scale, alpha)
    _scale(model.ln_final.bias, alpha)
    _scale(model.head.kernel, inv)


def _rescale_lstm(model: LSTM, alpha: float) -> None:
    _scale(model.embed.embedding, alpha)
    _scale(model.layers[0].w_in.kernel, 1.0 / alpha)


def rescale(model: nnx.Module, alpha: float) -> nnx.Module:
    """A new module computing the same function as ``model`` with parameters rescaled by
    ``alpha`` (> 0) as described above; ``model`` itself is not modified."""
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha!r}")
    twin = nnx.clone(model)  # independent arrays
    if isinstance(twin, Transformer):
        _rescale_transformer(twin, float(alpha))
    elif isinstance(twin, LSTM):
        _rescale_lstm(twin, float(alpha))
    else:
        raise ValueError(f"no exact rescaling for {type(model).__name__}; rescalable baselines: {', '.join(RESCALABLE)}")
    return twin
