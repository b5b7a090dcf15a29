"""Dropout for the baselines: on only in train mode *and* with a key.

Every dropout site is an ``nnx.Dropout(rate, deterministic=False)`` that holds no key
(so a model's state stays exactly its ``nnx.Param`` leaves, which the registry, the
optimizer and the checkpoints rely on). A model takes an optional ``rngs`` at call time:

* ``model(tokens)`` (no key): deterministic, whatever the mode -- the harness, the
  validation loss and the decode path never draw a mask;
* ``model(tokens, rngs=nnx.Rngs(dropout=key))``: masks drawn from ``key`` (each site
  takes the next key of the stream), unless the module is in eval mode
  (``nnx.view(model, deterministic=True)``, as the harness's ``from_nnx`` scores it,
  or ``model.eval()``), which wins over the key.
"""

from __future__ import annotations

import jax
from flax import nnx


def check_rate(rate: float, what: str = "dropout") -> float:
    """``rate`` as a float in [0, 1), or a one-line ValueError."""
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {rate}")
    return rate


def make_dropout(rate: float) -> nnx.Dropout:
    """A key-less dropout site in train mode (see the module docstring)."""
    return nnx.Dropout(rate, deterministic=False)


def apply_dropout(layer: nnx.Dropout, x: jax.Array, rngs: nnx.Rngs | None) -> jax.Array:
    """``layer(x)``: identity without a key; with one, masked unless ``layer`` is in eval mode."""
    return layer(x, deterministic=True if rngs is None else None, rngs=rngs)


def active_dropout(model: nnx.Module) -> bool:
    """Whether calling ``model`` with a key would draw any mask (a site of rate > 0 in train mode)."""
    return any(isinstance(m, nnx.Dropout) and m.rate > 0 and not m.deterministic for _, m in nnx.iter_graph(model))
