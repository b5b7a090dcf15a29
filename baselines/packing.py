"""Sequence packing: a step's sequences laid end to end in fewer rows, so no compute is spent on PAD.

A training step draws ``B`` sequences (:class:`rexbench.baselines.data.BatchStream`); stored
one per row of the task's width ``W``, about half of the ``B x W`` slots are PAD (the mean
word is far shorter than the longest). Packing puts the same ``B`` sequences into ``R < B``
rows of the same width, first-fit decreasing by length, and numbers each row's segments
``1, 2, ...`` (0 = an empty slot). A model that supports it (``supports_packing``) then
attends only within a segment and counts positions from its first token (the
Transformer), or restarts its state at a segment's first token (the LSTM), so every
sequence's logits are those it gets alone in a row. The loss mask keeps exactly the
unpacked targets (a target counts when it and its input are in the same segment), so the
step's mean loss and its gradient are the unpacked step's, up to float reassociation
(tested: ``tests/test_packing.py``); the sequences each step sees are unchanged.

Worked example (``W = 6``; three sequences of 4, 3 and 2 tokens, ``S a b E``, ``S b E`` and
``S E``, in that batch order): first-fit decreasing puts the 4 in row 0, the 3 in row 1
(row 0 has 2 slots left) and the 2 in row 0::

    row 0: tokens  S a b E S E     segments 1 1 1 1 2 2     positions 0 1 2 3 0 1
    row 1: tokens  S b E . . .     segments 1 1 1 0 0 0     positions 0 1 2 0 1 2

Targets kept (token t + 1 after input t, same non-zero segment): row 0 slots 1-3 and 5,
row 1 slots 1-2: 3 + 1 + 2 = 6 = (4 - 1) + (3 - 1) + (2 - 1), the unpacked count. (The
E -> S pair at row 0 slots 3-4 and the empty slots are masked.)

``R`` is one number for a whole run (one compiled shape): the largest first-fit-decreasing
row count over all its steps and seeds (:func:`rows_needed`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rexbench.tasks import PAD


def sequence_lengths(tokens_NW: np.ndarray) -> np.ndarray:
    """Tokens before the padding of each stored sequence (SOS ... EOS), int32 [N]."""
    return (tokens_NW != PAD).sum(axis=1).astype(np.int32)


def first_fit_decreasing(lengths_B: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, offset) of each of a step's sequences, int32 [B] each: longest first, each into
    the first row with room (ties broken by position in the batch, so it is deterministic)."""
    order = np.argsort(-lengths_B, kind="stable")
    free: list[int] = []
    row = np.zeros(len(lengths_B), np.int32)
    offset = np.zeros(len(lengths_B), np.int32)
    for i in order:
        n = int(lengths_B[i])
        if n > width:
            raise ValueError(f"a sequence of {n} tokens does not fit a row of {width}")
        for r, room in enumerate(free):
            if room >= n:
                break
        else:
            r = len(free)
            free.append(width)
        row[i], offset[i] = r, width - free[r]
        free[r] -= n
    return row, offset


def plan_steps(idx_KB: np.ndarray, lengths_N: np.ndarray, width: int) -> np.ndarray:
    """(row, offset) of every sequence of ``K`` steps: int32 ``[K, B, 2]``."""
    out = np.zeros((*idx_KB.shape, 2), np.int32)
    for k, idx_B in enumerate(idx_KB):
        out[k, :, 0], out[k, :, 1] = first_fit_decreasing(lengths_N[idx_B], width)
    return out


def rows_needed(plans: list[np.ndarray]) -> int:
    """The run's packed row count ``R``: one more than the largest row index in any plan."""
    return int(max(int(p[..., 0].max()) for p in plans)) + 1


def layout(idx_KB: np.ndarray, plan_KB2: np.ndarray, lengths_N: np.ndarray, width: int, rows: int) -> np.ndarray:
    """The packed steps as one int32 array ``[K, R, W, 2]``: ``[..., 0]`` the flat index of each
    slot's token in the training array ``[N, W]`` (``N * W`` = the PAD slot appended after it),
    ``[..., 1]`` its segment number (0 = empty)."""
    K, B = idx_KB.shape
    N = len(lengths_N)
    src = np.full((K, rows, width), N * width, np.int32)
    seg = np.zeros((K, rows, width), np.int32)
    for k in range(K):
        rank = np.zeros(B, np.int32)  # segment number within its row: by offset
        for r in np.unique(plan_KB2[k, :, 0]):
            members = np.flatnonzero(plan_KB2[k, :, 0] == r)
            rank[members[np.argsort(plan_KB2[k, members, 1])]] = np.arange(1, len(members) + 1)
        for b in range(B):
            r, o, n = plan_KB2[k, b, 0], plan_KB2[k, b, 1], lengths_N[idx_KB[k, b]]
            src[k, r, o:o + n] = idx_KB[k, b] * width + np.arange(n)
            seg[k, r, o:o + n] = rank[b]
    return np.stack([src, seg], axis=-1)


def packed_targets_mask(segments_BW: np.ndarray | jax.Array) -> np.ndarray | jax.Array:
    """Which targets of packed rows count (the training loss's mask; numpy or traced):
    target ``t`` (token ``t + 1``) when tokens ``t`` and ``t + 1`` share a non-zero segment."""
    return (segments_BW[:, 1:] == segments_BW[:, :-1]) & (segments_BW[:, :-1] != 0)


# ----------------------------------------------------------------- inside the models (traced)
def segment_starts(segments_BT: jax.Array) -> jax.Array:
    """bool [B,T]: the slot holds a segment's first token (slot 0, or a new segment number)."""
    return jnp.concatenate([jnp.ones_like(segments_BT[:, :1], dtype=bool),
                            segments_BT[:, 1:] != segments_BT[:, :-1]], axis=1)


def segment_positions(segments_BT: jax.Array) -> jax.Array:
    """int32 [B,T]: each slot's position within its segment (0 at its first token): the slot
    index minus that of the segment's first slot, found with a running maximum."""
    t_BT = jnp.broadcast_to(jnp.arange(segments_BT.shape[1], dtype=jnp.int32), segments_BT.shape)
    return t_BT - jax.lax.cummax(jnp.where(segment_starts(segments_BT), t_BT, 0), axis=1)
