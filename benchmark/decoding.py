"""Lockstep autoregressive decoding from prompts, for JAX and host models alike.

All rows of a batch advance one *position* per step: at step ``t`` every row feeds the
token at position ``t`` of its buffer; a row still inside its prompt ignores the output
(teacher forcing), a row past its prompt writes the chosen token at ``t + 1``. A row
stops changing once it has emitted EOS (*finished*) or has generated ``budget`` new
tokens (*unfinished*). The loop exits early as soon as no row is pending.

Shapes are fixed per split, never per batch: the buffer is ``[batch_size, width]`` with
``width`` = the longest prompt (of the split family, :func:`decode_width`) + budget, and
``batch_size`` = the smallest power of two >= the number of rows, at least 8 and at most
``DECODE_BATCH`` (:func:`decode_batch_size`); the last batch is padded with inactive
rows. A JAX model's decode loop (a ``jax.lax.while_loop``, greedy and sampled alike) is
therefore compiled at most once per (model program, batch size, width) — at most four
times per task — and reused for every batch. Host models run the same loop
in Python, one model call per step for the whole batch.

Every step's logits are checked where they are made (SPEC §5): shape, vocabulary and
dtype while tracing, finiteness inside the compiled loop (the loop stops at the first
non-finite step and the harness refuses the model, naming the position); a host model's
output is checked on the host at every step.

Token choice and keys are in :mod:`rexbench.benchmark.sampling`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rexbench.benchmark.errors import ModelRefused
from rexbench.benchmark.outputs import check_output, check_traced, first_bad
from rexbench.benchmark.progress import bar
from rexbench.benchmark.protocol import HostModel, JaxModel, JaxProgram, PyTree, ScorableModel
from rexbench.benchmark.sampling import choose_tokens, choose_tokens_host
from rexbench.tasks import EOS, PAD, SOS, Task, get_split

BUDGET = 128  # new tokens after the prompt (SPEC §4)
DECODE_BATCH = 128  # max rows per compiled decode call (larger batches thrash the CPU caches)


@dataclass(frozen=True)
class Completions:
    """Decoder output for ``N`` rows.

    ``generated_NL``: int32 ``[N, budget]``, the tokens generated after the prompt (the
    EOS included), PAD after the end. ``finished_N``: bool, True iff EOS was emitted
    within the budget.
    """

    generated_NL: np.ndarray
    finished_N: np.ndarray

    def __len__(self) -> int:
        return int(self.finished_N.shape[0])


def decode_width(task: Task, splits: tuple[str, ...] = ("id_prompts", "ood_prompts"), budget: int = BUDGET) -> int:
    """Buffer width for decoding prompts of ``splits``: their longest prompt (tokens) + budget.

    The default (ID and OOD prompts, ``SOS`` + prompt_length tokens) also serves the
    sampled OOD decodes and generation from SOS; length prompts use their own width.
    """
    longest = max(int(get_split(task, s).lengths.max()) for s in splits)
    return longest + budget


def decode_batch_size(num_rows: int) -> int:
    """Rows per compiled call: the smallest power of two >= ``num_rows``, clipped to [8, DECODE_BATCH]."""
    size = 8
    while size < min(num_rows, DECODE_BATCH):
        size *= 2
    return min(size, DECODE_BATCH)


# --------------------------------------------------------------------------- JAX loop
def step_logits(program: JaxProgram, params: PyTree, cache: PyTree, buffer_BW: jax.Array, t: jax.Array,
                vocab_size: int, bad: jax.Array, where: str) -> tuple[jax.Array, PyTree, jax.Array]:
    """Inside a compiled loop: the logits ``[B, V]`` after position ``t`` (through the cache
    when the model has one, else the full forward pass), checked (static shape/dtype while
    tracing); ``bad`` becomes ``t * B + row`` at the first non-finite step (else unchanged)."""
    B = buffer_BW.shape[0]
    if program.has_cache:
        logits_BV, cache = program.decode_step(params, cache, buffer_BW[:, t], t)
    else:
        logits_BV = jax.lax.dynamic_index_in_dim(program.forward(params, buffer_BW), t, axis=1, keepdims=False)
    check_traced(logits_BV, (B,), vocab_size, where)
    row_bad = first_bad(logits_BV)
    return logits_BV, cache, jnp.where((bad < 0) & (row_bad >= 0), t * B + row_bad, bad)


@partial(jax.jit, static_argnums=(0, 7, 9))
def _decode_jax(
    program: JaxProgram,
    params: PyTree,
    buffer_BW: jax.Array,
    lengths_B: jax.Array,
    active_B: jax.Array,
    row_ids_B: jax.Array,
    key: jax.Array,
    budget: int,
    greedy: jax.Array,
    vocab_size: int,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The compiled decode loop of one batch; returns (buffer_BW, finished_B, bad): ``bad``
    is ``position * B + row`` of the first step whose logits were not finite, or -1."""
    B, W = buffer_BW.shape
    cache = program.init_cache(params, B, W) if program.has_cache else jnp.zeros((), jnp.int32)
    end_B = lengths_B + budget  # first position a row may not write

    def pending(finished_B: jax.Array, t: jax.Array) -> jax.Array:
        return active_B & ~finished_B & (t + 1 < end_B)

    def cond(carry: tuple) -> jax.Array:
        t, _, finished_B, _, bad = carry
        return (t < W - 1) & jnp.any(pending(finished_B, t)) & (bad < 0)

    def body(carry: tuple) -> tuple:
        t, buffer_BW, finished_B, cache, bad = carry
        logits_BV, cache, bad = step_logits(program, params, cache, buffer_BW, t, vocab_size, bad, "a decode step")
        tokens_B = choose_tokens(logits_BV, key, row_ids_B, t + 1, greedy)
        write_B = pending(finished_B, t) & (t + 1 >= lengths_B)
        column_B = jax.lax.dynamic_index_in_dim(buffer_BW, t + 1, axis=1, keepdims=False)
        column_B = jnp.where(write_B, tokens_B, column_B)
        buffer_BW = jax.lax.dynamic_update_index_in_dim(buffer_BW, column_B, t + 1, axis=1)
        finished_B = finished_B | (write_B & (tokens_B == EOS))
        return t + 1, buffer_BW, finished_B, cache, bad

    init = (jnp.int32(0), buffer_BW, jnp.zeros((B,), jnp.bool_), cache, jnp.int32(-1))
    _, buffer_BW, finished_B, _, bad = jax.lax.while_loop(cond, body, init)
    return buffer_BW, finished_B, bad


def _decode_batch_jax(
    model: JaxModel, buffer_BW: np.ndarray, lengths_B: np.ndarray, active_B: np.ndarray,
    row_ids_B: np.ndarray, key: jax.Array, budget: int, greedy: bool,
) -> tuple[np.ndarray, np.ndarray]:
    buffer, finished, bad = _decode_jax(
        model.program, model.params, jnp.asarray(buffer_BW), jnp.asarray(lengths_B), jnp.asarray(active_B),
        jnp.asarray(row_ids_B), key, budget, jnp.bool_(greedy), model.vocab_size,
    )
    bad = int(bad)
    if bad >= 0:
        B = buffer_BW.shape[0]
        raise ModelRefused(f"non-finite logits (a decode step): at position {bad // B} of batch row {bad % B} "
                           f"(global row {int(row_ids_B[bad % B])})")
    return np.asarray(buffer), np.asarray(finished)


# --------------------------------------------------------------------------- host loop
def _decode_batch_host(
    model: HostModel, buffer_BW: np.ndarray, lengths_B: np.ndarray, active_B: np.ndarray,
    row_ids_B: np.ndarray, key: jax.Array, budget: int, greedy: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The same loop as :func:`_decode_jax`, run from Python (one model call per step)."""
    B, W = buffer_BW.shape
    buffer_BW = buffer_BW.copy()
    finished_B = np.zeros(B, dtype=bool)
    end_B = lengths_B + budget
    state = model.init_state(B)
    for t in range(W - 1):
        pending_B = active_B & ~finished_B & (t + 1 < end_B)
        if not pending_B.any():
            break
        logits_BV, state = model.step(state, buffer_BW[:, t], t)
        check_output(np.asarray(logits_BV), (B,), model.vocab_size, f"a decode step at position {t}")
        tokens_B = choose_tokens_host(logits_BV, key, row_ids_B, t + 1, greedy)
        write_B = pending_B & (t + 1 >= lengths_B)
        buffer_BW[write_B, t + 1] = tokens_B[write_B]
        finished_B |= write_B & (tokens_B == EOS)
    return buffer_BW, finished_B


# --------------------------------------------------------------------------- public
def decode(
    model: ScorableModel,
    prompts_NP: np.ndarray,
    prompt_lengths_N: np.ndarray,
    *,
    key: jax.Array,
    greedy: bool,
    width: int,
    budget: int = BUDGET,
    batch_size: int | None = None,
    desc: str = "decoding",
) -> Completions:
    """Completes every prompt row (``SOS prompt``, PAD-padded; lengths in tokens).

    Row ``i`` draws its randomness from ``key``, ``i`` and the position only, so the
    result does not depend on ``batch_size`` (default :func:`decode_batch_size`).
    ``width`` must be at least the longest prompt + ``budget``; keep it fixed per split
    family to reuse the compiled loop.
    """
    prompts_NP = np.asarray(prompts_NP, dtype=np.int32)
    lengths_N = np.asarray(prompt_lengths_N, dtype=np.int32)
    N, P = prompts_NP.shape
    if N and int(lengths_N.max()) + budget > width:
        raise ValueError(f"width {width} < longest prompt {int(lengths_N.max())} + budget {budget}")
    batch_size = decode_batch_size(N) if batch_size is None else batch_size
    run = _decode_batch_jax if isinstance(model, JaxModel) else _decode_batch_host
    generated_NL = np.full((N, budget), PAD, dtype=np.int32)
    finished_N = np.zeros(N, dtype=bool)
    pbar = bar(N, desc, "prompt")
    for start in range(0, N, batch_size):
        stop = min(start + batch_size, N)
        n = stop - start
        buffer_BW = np.full((batch_size, width), PAD, dtype=np.int32)
        buffer_BW[:, 0] = SOS
        buffer_BW[:n, :P] = prompts_NP[start:stop]
        lengths_B = np.ones(batch_size, dtype=np.int32)
        lengths_B[:n] = lengths_N[start:stop]
        active_B = np.arange(batch_size) < n
        row_ids_B = np.arange(start, start + batch_size, dtype=np.int32)
        buffer_BW, fin_B = run(model, buffer_BW, lengths_B, active_B, row_ids_B, key, budget, greedy)
        cols_BL = lengths_B[:n, None] + np.arange(budget)[None, :]
        generated_NL[start:stop] = np.take_along_axis(buffer_BW[:n], cols_BL, axis=1)
        finished_N[start:stop] = fin_B[:n]
        pbar.update(n)
    pbar.close()
    return Completions(generated_NL, finished_N)


def repeat_rows(prompts_NP: np.ndarray, lengths_N: np.ndarray, copies: int) -> tuple[np.ndarray, np.ndarray]:
    """Each prompt ``copies`` times in a row (row ``i * copies + s`` is sample ``s`` of prompt ``i``)."""
    return np.repeat(prompts_NP, copies, axis=0), np.repeat(lengths_N, copies)
