"""The refusals of SPEC §5, run on a fixed probe batch before anything is scored.

In order, a model is refused (:class:`ModelRefused`, nothing scored or written) when:

1. calling it on the probe batch raises, or its output is not an array;
2. the output shape is not ``[B, T, V]`` for input ``[B, T]`` (wrong shape);
3. the last dimension differs from the task's vocabulary size (vocabulary mismatch);
4. the dtype is not floating (wrong dtype);
5. any logit is NaN or ±inf;
6. it is not causal: the probe's base rows are repeated with every token after position
   ``t`` replaced (for every ``t``), and the logits at positions ``<= t`` must stay within
   ``CAUSAL_RTOL * max(1, max |logit|)`` of the unperturbed ones; the message names the
   first offending position and the largest difference;
7. its incremental decoding (``decode_step`` / a host ``step_fn``) disagrees with its
   full forward pass on the probe's base rows (same tolerance) — otherwise decoded
   metrics would not describe the model whose loss is reported.

The probe (:func:`probe_tokens`) has ``PROBE_ROWS`` base rows of ``PROBE_LEN`` tokens:
the first test sequences of the task and SOS-led rows of random tokens over the whole
vocabulary (fixed numpy seed), followed by the perturbed copies; one forward call.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.errors import ModelRefused
from benchmark.protocol import HostModel, JaxModel, JaxProgram, PyTree, ScorableModel
from tasks import SOS, Task, get_split

PROBE_ROWS = 4
PROBE_LEN = 16
PROBE_SEED = 20_240_917
CAUSAL_RTOL = 1e-4

__all__ = ["ModelRefused", "check_model", "probe_tokens"]


def probe_tokens(task: Task) -> tuple[np.ndarray, list[int]]:
    """(probe int32 ``[R + R*(T-1), T]``, cut position of each row: -1 for the base rows).

    Row ``R + c*R + r`` is base row ``r`` with every token after position ``c`` replaced
    by a different random token.
    """
    V, R, T = task.vocab_size, PROBE_ROWS, PROBE_LEN
    rng = np.random.default_rng(PROBE_SEED)
    n_real = R // 2
    base_RT = np.empty((R, T), dtype=np.int32)
    base_RT[:n_real] = get_split(task, "test").tokens(max(T, task.max_word_length + 2))[:n_real, :T]
    base_RT[n_real:] = rng.integers(0, V, size=(R - n_real, T))
    base_RT[n_real:, 0] = SOS
    rows, cuts = [base_RT], [-1] * R
    for cut in range(T - 1):
        perturbed_RT = base_RT.copy()
        shift = rng.integers(1, V, size=(R, T - cut - 1))
        perturbed_RT[:, cut + 1 :] = (base_RT[:, cut + 1 :] + shift) % V
        rows.append(perturbed_RT)
        cuts += [cut] * R
    return np.concatenate(rows).astype(np.int32), cuts


def _call(model: ScorableModel, tokens_BT: np.ndarray) -> np.ndarray:
    try:
        out = model.forward(tokens_BT)
    except ModelRefused:
        raise
    except Exception as err:  # the model itself failed: refuse with its message
        raise ModelRefused(
            f"the model raised {type(err).__name__} on a probe batch int32{list(tokens_BT.shape)}: {err}"
        ) from err
    if not isinstance(out, np.ndarray) or out.dtype == object:
        raise ModelRefused(f"the model returned {type(out).__name__}, not an array of logits")
    return out


def check_output(out: np.ndarray, batch: int, length: int, task: Task) -> None:
    """Shape, vocabulary, dtype and finiteness checks on one output for input ``[batch, length]``."""
    V = task.vocab_size
    if out.ndim != 3 or out.shape[:2] != (batch, length):
        raise ModelRefused(
            f"wrong output shape: tokens int32[{batch}, {length}] gave logits of shape {list(out.shape)}; "
            f"expected [{batch}, {length}, {V}] ([B, T, V])"
        )
    if out.shape[2] != V:
        raise ModelRefused(
            f"vocabulary mismatch: the model outputs {out.shape[2]} logits per position but task "
            f"{task.config} has V = {V} (SOS, EOS, PAD + symbols {task.symbols!r})"
        )
    if not np.issubdtype(out.dtype, np.floating) and out.dtype != jnp.bfloat16:
        raise ModelRefused(f"wrong dtype: logits must be floating point, got {out.dtype}")
    bad = ~np.isfinite(out.astype(np.float32))
    if bad.any():
        b, t, v = (int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(out[b, t, v].astype(np.float32)) else "infinite"
        raise ModelRefused(
            f"non-finite logits: {int(bad.sum())} NaN/inf values, first a {kind} logit at row {b}, "
            f"position {t}, token {v}"
        )


def _tolerance(logits: np.ndarray) -> float:
    return CAUSAL_RTOL * max(1.0, float(np.abs(logits).max()))


def check_causal(out: np.ndarray, cuts: list[int]) -> None:
    """Refuses if a perturbation after position ``t`` changed logits at a position ``<= t``."""
    R = PROBE_ROWS
    base_RTV = out[:R].astype(np.float32)
    tol = _tolerance(base_RTV)
    first_pos, worst = None, 0.0
    for i in range(R, out.shape[0]):
        cut = cuts[i]
        diff_T = np.abs(out[i, : cut + 1].astype(np.float32) - base_RTV[i % R, : cut + 1]).max(axis=-1)
        offending = np.flatnonzero(diff_T > tol)
        if offending.size:
            first_pos = int(offending[0]) if first_pos is None else min(first_pos, int(offending[0]))
            worst = max(worst, float(diff_T.max()))
    if first_pos is not None:
        raise ModelRefused(
            f"not causal: the logits at position {first_pos} change (by up to {worst:.4g}; tolerance "
            f"{tol:.2g}) when only tokens after it are perturbed; position t may depend only on tokens 0..t"
        )


@partial(jax.jit, static_argnums=0)
def _incremental_jax(program: JaxProgram, params: PyTree, tokens_BT: jax.Array) -> jax.Array:
    B, T = tokens_BT.shape
    cache = program.init_cache(params, B, T)

    def step(cache: PyTree, t: jax.Array) -> tuple[PyTree, jax.Array]:
        logits_BV, cache = program.decode_step(params, cache, tokens_BT[:, t], t)
        return cache, logits_BV

    _, logits_TBV = jax.lax.scan(step, cache, jnp.arange(T, dtype=jnp.int32))
    return jnp.swapaxes(logits_TBV, 0, 1)


def incremental_logits(model: ScorableModel, tokens_BT: np.ndarray) -> np.ndarray | None:
    """Logits ``[B, T, V]`` from the model's own incremental path, or None if it has none."""
    if isinstance(model, JaxModel):
        if not model.program.has_cache:
            return None
        return np.asarray(_incremental_jax(model.program, model.params, jnp.asarray(tokens_BT)))
    assert isinstance(model, HostModel)
    if not model.has_step:
        return None
    state = model.init_state(tokens_BT.shape[0])
    steps = []
    for t in range(tokens_BT.shape[1]):
        logits_BV, state = model.step(state, tokens_BT[:, t], t)
        steps.append(np.asarray(logits_BV))
    return np.stack(steps, axis=1)


def check_incremental(model: ScorableModel, base_BT: np.ndarray, full_BTV: np.ndarray) -> None:
    try:
        inc = incremental_logits(model, base_BT)
    except Exception as err:
        raise ModelRefused(f"incremental decoding (init_cache/decode_step) raised {type(err).__name__}: {err}") from err
    if inc is None:
        return
    if inc.shape != full_BTV.shape:
        raise ModelRefused(
            f"incremental decoding returned logits of shape {list(inc.shape)} over the probe; "
            f"expected {list(full_BTV.shape)} (one [B, V] per step)"
        )
    diff_T = np.abs(inc.astype(np.float32) - full_BTV.astype(np.float32)).max(axis=(0, 2))
    tol = _tolerance(full_BTV)
    bad = np.flatnonzero(~(diff_T <= tol))
    if bad.size:
        raise ModelRefused(
            f"incremental decoding disagrees with the full forward pass: decode_step logits at position "
            f"{int(bad[0])} differ by up to {float(np.nanmax(diff_T)):.4g} (tolerance {tol:.2g})"
        )


def check_model(model: ScorableModel, task: Task) -> None:
    """Runs every refusal check; returns None or raises :class:`ModelRefused`."""
    probe_BT, cuts = probe_tokens(task)
    out = _call(model, probe_BT)
    check_output(out, probe_BT.shape[0], probe_BT.shape[1], task)
    check_causal(out, cuts)
    check_incremental(model, probe_BT[:PROBE_ROWS], out[:PROBE_ROWS])
