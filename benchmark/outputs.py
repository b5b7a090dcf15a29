"""The output checks shared by every place that calls a model: shape, vocabulary, dtype
and finiteness of logits, on host arrays (:func:`check_output`) and, while tracing a
compiled program, on their static shape and dtype (:func:`check_traced`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rexbench.benchmark.errors import ModelRefused


def _at(where: str) -> str:
    return f" ({where})" if where else ""


def check_shape(shape: tuple[int, ...], dtype: object, expected: tuple[int, ...], vocab_size: int, where: str = "") -> None:
    """Shape (``expected`` leading dims + V), vocabulary and floating dtype of logits."""
    at = _at(where)
    if len(shape) != len(expected) + 1 or tuple(shape[:-1]) != tuple(expected):
        raise ModelRefused(
            f"wrong output shape{at}: tokens int32{list(expected)} gave logits of shape {list(shape)}; "
            f"expected {[*expected, vocab_size]}"
        )
    if shape[-1] != vocab_size:
        raise ModelRefused(
            f"vocabulary mismatch{at}: the model outputs {shape[-1]} logits per position but the task has V = {vocab_size}"
        )
    if not (np.issubdtype(np.dtype(dtype), np.floating) or dtype == jnp.bfloat16):
        raise ModelRefused(f"wrong dtype{at}: logits must be floating point, got {dtype}")


def check_output(out: np.ndarray, expected: tuple[int, ...], vocab_size: int, where: str = "") -> None:
    """:func:`check_shape` plus finiteness, on a host array of logits."""
    check_shape(out.shape, out.dtype, expected, vocab_size, where)
    bad = ~np.isfinite(out.astype(np.float32))
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(out[first].astype(np.float32)) else "infinite"
        names = ("row", "position", "token") if len(first) == 3 else ("row", "token")
        place = ", ".join(f"{n} {i}" for n, i in zip(names, first, strict=True))
        raise ModelRefused(f"non-finite logits{_at(where)}: {int(bad.sum())} NaN/inf values, first a {kind} logit at {place}")


def check_traced(logits: jax.Array, expected: tuple[int, ...], vocab_size: int, where: str = "") -> None:
    """:func:`check_shape` on a traced array (raised while the program is being compiled)."""
    check_shape(tuple(logits.shape), logits.dtype, expected, vocab_size, where)


def first_bad(logits: jax.Array) -> jax.Array:
    """Inside compiled code: flat index of the first position (all axes but the last) with a
    non-finite logit, or -1."""
    bad = ~jnp.all(jnp.isfinite(logits.astype(jnp.float32)), axis=-1)
    return jnp.where(jnp.any(bad), jnp.argmax(bad.reshape(-1)), -1).astype(jnp.int32)
