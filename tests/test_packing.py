"""Sequence packing: the worked example by hand, the plan's invariants on random batches, and
a packed batch giving the unpacked batch's loss and gradients (Transformer, LSTM)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from train_support import TINY, small_val_data

from rexbench.baselines.data import BatchStream, load_task_data
from rexbench.baselines.packing import (
    first_fit_decreasing,
    layout,
    packed_targets_mask,
    plan_steps,
    rows_needed,
    segment_positions,
    sequence_lengths,
)
from rexbench.baselines.recipe import DEFAULT
from rexbench.baselines.train import init_params, sequence_loss, supports_packing, train
from rexbench.tasks import EOS, PAD, SOS, get_task


def test_worked_example_by_hand() -> None:
    # the module docstring's example: S a b E / S b E / S E in a width of 6
    S, E, a, b, P = SOS, EOS, 3, 4, PAD
    train_NW = np.array([[S, a, b, E, P, P], [S, b, E, P, P, P], [S, E, P, P, P, P]], np.int32)
    lengths = sequence_lengths(train_NW)
    assert lengths.tolist() == [4, 3, 2]
    row, offset = first_fit_decreasing(lengths, 6)
    assert row.tolist() == [0, 1, 0] and offset.tolist() == [0, 0, 4]
    idx_KB = np.array([[0, 1, 2]], np.int32)
    plan = plan_steps(idx_KB, lengths, 6)
    assert rows_needed([plan]) == 2
    packed = layout(idx_KB, plan, lengths, 6, rows=2)[0]
    flat = np.append(train_NW.reshape(-1), PAD)
    assert flat[packed[..., 0]].tolist() == [[S, a, b, E, S, E], [S, b, E, P, P, P]]
    assert packed[..., 1].tolist() == [[1, 1, 1, 1, 2, 2], [1, 1, 1, 0, 0, 0]]
    assert np.asarray(segment_positions(jnp.asarray(packed[..., 1]))).tolist() == [[0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 1, 2]]
    mask = packed_targets_mask(packed[..., 1])
    assert mask.tolist() == [[True, True, True, False, True], [True, True, False, False, False]]
    assert mask.sum() == (lengths - 1).sum() == 6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(2, 12), min_size=1, max_size=40), st.integers(12, 30))
def test_plan_places_every_token_once(lengths: list[int], width: int) -> None:
    lengths_N = np.array(lengths, np.int32)
    N = len(lengths_N)
    train_NW = np.full((N, width), PAD, np.int32)
    for i, n in enumerate(lengths_N):
        train_NW[i, :n] = [SOS, *([3] * (n - 2)), EOS]
    idx_KB = np.arange(N, dtype=np.int32)[None]
    plan = plan_steps(idx_KB, lengths_N, width)
    rows = rows_needed([plan])
    assert rows >= -(-int(lengths_N.sum()) // width)  # at least the volume bound
    packed = layout(idx_KB, plan, lengths_N, width, rows)[0]
    src, seg = packed[..., 0], packed[..., 1]
    real = src[src != N * width]
    # every token of every sequence exactly once, in order within its segment
    assert sorted(real.tolist()) == sorted((i * width + j) for i, n in enumerate(lengths_N) for j in range(n))
    assert ((seg != 0) == (src != N * width)).all()
    assert packed_targets_mask(seg).sum() == (lengths_N - 1).sum()


@pytest.fixture(scope="module")
def anbn_batch() -> tuple[np.ndarray, np.ndarray]:
    """One recipe-sized anbn batch, unpacked [128, 66] and packed [R, 66, 2]."""
    data = load_task_data(get_task("anbn"))
    idx_KB = BatchStream(0, len(data.train), DEFAULT.batch_size).take(1)
    lengths = sequence_lengths(data.train)
    plan = plan_steps(idx_KB, lengths, data.width)
    packed = layout(idx_KB, plan, lengths, data.width, rows_needed([plan]))[0]
    flat = np.append(data.train.reshape(-1), PAD)
    return data.train[idx_KB[0]], np.stack([flat[packed[..., 0]], packed[..., 1]], axis=-1)


@pytest.mark.parametrize("name,hyper", [("transformer", {}), ("transformer", {"pos": "rope"}),
                                        ("transformer", {"pos": "sinusoidal", "norm": "post"}), ("lstm", {}),
                                        ("xlstm", {}), ("xlstm", {"layout": "sm"}), ("mamba", {}),
                                        ("mamba", {"scan_impl": "associative"})])
def test_packed_batch_gives_the_unpacked_loss_and_gradients(anbn_batch, name: str, hyper: dict) -> None:
    unpacked_BW, packed_RW2 = anbn_batch
    assert len(packed_RW2) < len(unpacked_BW)  # fewer rows
    graphdef, params = init_params(name, get_task("anbn").vocab_size, [0], **hyper)
    assert supports_packing(graphdef)
    params = jax.tree.map(lambda x: x[0], params)

    def mean_loss(p, tokens, segments=None):
        s, c = sequence_loss(graphdef, p, tokens, segments_BW=segments)
        return s / c, c

    # jitted: eager dispatch of the scans' and attention's ops costs far more than compiling
    loss_and_grads = jax.jit(jax.value_and_grad(mean_loss, has_aux=True))
    (loss_u, count_u), grads_u = loss_and_grads(params, jnp.asarray(unpacked_BW))
    (loss_p, count_p), grads_p = loss_and_grads(
        params, jnp.asarray(packed_RW2[..., 0]), jnp.asarray(packed_RW2[..., 1]))
    assert int(count_u) == int(count_p)
    assert float(loss_p) == pytest.approx(float(loss_u), rel=1e-6)
    for gu, gp in zip(jax.tree.leaves(grads_u), jax.tree.leaves(grads_p), strict=True):
        np.testing.assert_allclose(np.asarray(gp), np.asarray(gu), rtol=1e-4, atol=1e-7)


def test_training_packed_follows_the_unpacked_run() -> None:
    """Same batches, same init: the val curve of a short run agrees to float noise; a model
    without packing support (the linear baseline) trains unpacked under the same recipe."""
    runs = {pack: train("transformer", "anbn", [0], steps=20, recipe=DEFAULT.replace(pack=pack, eval_every=10),
                        progress=False, hyper=TINY["transformer"], data=small_val_data()) for pack in (False, True)}
    assert runs[False].packed_rows is None and 60 <= runs[True].packed_rows < DEFAULT.batch_size
    for (s0, v0), (s1, v1) in zip(runs[False].val_curve, runs[True].val_curve, strict=True):
        assert s0 == s1 and v1[0] == pytest.approx(v0[0], rel=1e-5)
    graphdef, _ = init_params("linear", 5, [0])
    assert not supports_packing(graphdef)
