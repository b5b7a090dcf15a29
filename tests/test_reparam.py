"""Exact function-preserving rescalings (the fine-tunability case study, issue #16 part 1):
the twins have the same logits and the same loss on the test split, different
parameters, and so a different first gradient step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rexbench.baselines.models.registry import make_model
from rexbench.baselines.reparam import rescale
from rexbench.baselines.train import sequence_loss, train_step
from rexbench.benchmark.loss import sequence_width
from rexbench.tasks import get_split, get_task

ALPHAS = (0.1, 1.0, 10.0)


@pytest.fixture(scope="module")
def test_tokens() -> np.ndarray:
    task = get_task("anbn")
    return get_split(task, "test").tokens(sequence_width(task))


def _forward(params: nnx.State, tokens: jax.Array, graphdef: nnx.GraphDef) -> tuple[jax.Array, jax.Array]:
    logits = nnx.merge(graphdef, params)(tokens[:, :-1])
    s, c = sequence_loss(graphdef, params, tokens)
    return logits, s / c


_run = jax.jit(_forward, static_argnums=2)  # one compilation per model kind, shared by the twins
_step = jax.jit(train_step, static_argnums=(0, 1))


def _logits_and_loss(model: nnx.Module, tokens_NT: np.ndarray) -> tuple[np.ndarray, float]:
    graphdef, params = nnx.split(model)
    logits, loss = _run(params, jnp.asarray(tokens_NT), graphdef)
    return np.asarray(logits), float(loss)


@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_twins_compute_the_same_function(name: str, test_tokens: np.ndarray) -> None:
    model = make_model(name, 5, seed=0)
    base_logits, base_loss = _logits_and_loss(model, test_tokens)
    before = jax.tree.map(np.asarray, nnx.state(model, nnx.Param))
    for alpha in ALPHAS:
        twin = rescale(model, alpha)
        logits, loss = _logits_and_loss(twin, test_tokens)
        assert np.abs(logits - base_logits).max() < 1e-5, alpha
        assert abs(loss - base_loss) < 1e-6, alpha
        if alpha != 1.0:  # the parameters really moved (by alpha or 1/alpha where rescaled)
            moved = jax.tree.map(lambda a, b: not np.allclose(a, b), before, jax.tree.map(np.asarray, nnx.state(twin, nnx.Param)))
            assert any(jax.tree.leaves(moved))
    after = jax.tree.map(np.asarray, nnx.state(model, nnx.Param))
    assert all(jax.tree.leaves(jax.tree.map(np.array_equal, before, after)))  # the source is untouched


def test_transformer_factors_by_hand() -> None:
    model = make_model("transformer", 5, seed=0)
    twin = rescale(model, 10.0)
    D = model.d_model
    b0, t0 = model.blocks[0], twin.blocks[0]
    np.testing.assert_allclose(t0.ln_attn.scale[...], 10 * b0.ln_attn.scale[...], rtol=1e-6)
    np.testing.assert_allclose(t0.qkv.kernel[...][:, :D], b0.qkv.kernel[...][:, :D], rtol=1e-6)  # q: 1/10 x 10
    np.testing.assert_allclose(t0.qkv.kernel[...][:, D:2 * D], b0.qkv.kernel[...][:, D:2 * D] / 100, rtol=1e-6)  # k
    np.testing.assert_allclose(t0.qkv.kernel[...][:, 2 * D:], b0.qkv.kernel[...][:, 2 * D:], rtol=1e-6)  # v
    np.testing.assert_allclose(t0.attn_out.kernel[...], b0.attn_out.kernel[...] / 10, rtol=1e-6)
    np.testing.assert_allclose(twin.head.kernel[...], model.head.kernel[...] / 10, rtol=1e-6)
    np.testing.assert_array_equal(t0.mlp_out.kernel[...], b0.mlp_out.kernel[...])  # not across GELU
    with pytest.raises(ValueError, match="no exact rescaling for Linear|rescalable baselines"):
        rescale(make_model("linear", 5, seed=0), 2.0)
    with pytest.raises(ValueError, match="positive"):
        rescale(model, 0.0)


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_same_function_different_first_step(opt: str, test_tokens: np.ndarray) -> None:
    """One identical update (same batch, same optimiser) moves the twins to different
    functions: fine-tuning sees the parameters, not the function."""
    model = make_model("transformer", 5, seed=0)
    tx = optax.sgd(0.1) if opt == "sgd" else optax.adamw(3e-3)
    batch = jnp.asarray(test_tokens[:64])
    losses = []
    for alpha in (1.0, 10.0):
        graphdef, params = nnx.split(rescale(model, alpha))
        params, _, loss, _ = _step(graphdef, tx, params, tx.init(params), batch)
        _, after = _run(params, batch, graphdef)
        losses.append((float(loss), float(after)))
    (before_1, after_1), (before_10, after_10) = losses
    assert abs(before_1 - before_10) < 1e-6  # same loss before the step
    assert abs(after_1 - after_10) > 1e-4  # different after it
