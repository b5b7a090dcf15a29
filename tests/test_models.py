"""Tests for the baseline models in baselines/models (interface, causality, decode, init)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rexbench.baselines.models import MODELS, count_params, init_state, init_states, make_model

NAMES = sorted(MODELS)
# (name, hyperparameters) variants whose decode path must match the full forward.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("transformer", {}),  # pos="learned" is the default
    ("transformer", {"pos": "rope"}),
    ("lstm", {}),
    ("linear", {}),
    ("mamba", {}),
    ("xlstm", {}),
    ("xlstm", {"layout": "sm"}),
]
VARIANT_IDS = ["transformer-learned", "transformer-rope", "lstm", "linear", "mamba", "xlstm", "xlstm-sm"]


def random_tokens(key: jax.Array, batch: int, length: int, vocab_size: int) -> jax.Array:
    """SOS followed by random tokens from the whole vocabulary (any id must be accepted)."""
    body = jax.random.randint(key, (batch, length - 1), 0, vocab_size, dtype=jnp.int32)
    return jnp.concatenate([jnp.zeros((batch, 1), jnp.int32), body], axis=1)


def jit_forward(model: nnx.Module) -> Callable[[jax.Array], jax.Array]:
    graphdef, state = nnx.split(model)
    fwd = jax.jit(lambda s, tokens: nnx.merge(graphdef, s)(tokens))
    return functools.partial(fwd, state)


@functools.cache
def built(name: str, vocab_size: int, hyper: tuple[tuple[str, Any], ...] = ()) -> tuple[nnx.Module, Callable]:
    """Seed-0 model and its jitted forward, shared across tests so each shape compiles once."""
    model = make_model(name, vocab_size, seed=0, **dict(hyper))
    return model, jit_forward(model)


# Shared test shape: small, so compiles dominate and are reused between tests.
B_TEST, T_TEST = 2, 24


def decode_all(model: nnx.Module, tokens_BT: jax.Array, cache_len: int) -> jax.Array:
    """Feeds tokens one at a time through decode_step inside a jitted loop, like the harness."""
    graphdef, state = nnx.split(model)
    B, T = tokens_BT.shape

    @jax.jit
    def run(state: nnx.State, tokens_BT: jax.Array) -> jax.Array:
        m = nnx.merge(graphdef, state)
        cache = m.init_cache(B, cache_len)
        V = m.vocab_size
        out_BTV = jnp.zeros((B, T, V), jnp.float32)

        def body(t: jax.Array, carry: tuple[Any, jax.Array]) -> tuple[Any, jax.Array]:
            cache, out_BTV = carry
            tok_B = jax.lax.dynamic_index_in_dim(tokens_BT, t, axis=1, keepdims=False)
            logits_BV, cache = nnx.merge(graphdef, state).decode_step(cache, tok_B, t)
            out_BTV = jax.lax.dynamic_update_slice(out_BTV, logits_BV[:, None, :], (0, t, 0))
            return cache, out_BTV

        # Traced upper bound turns fori_loop into a while_loop, as in the harness.
        _, out_BTV = jax.lax.fori_loop(jnp.int32(0), jnp.int32(T), body, (cache, out_BTV))
        return out_BTV

    return run(state, tokens_BT)


@pytest.mark.parametrize("vocab_size", [5, 7])
@pytest.mark.parametrize("name", NAMES)
def test_param_count_and_output(name: str, vocab_size: int) -> None:
    model, fwd = built(name, vocab_size)
    n = count_params(model)
    print(f"{name} V={vocab_size}: {n} parameters")
    assert 70_000 <= n <= 140_000
    # All state is trainable: the harness treats nnx.split(model)[1] as params.
    _, params = nnx.split(model, nnx.Param)
    _, everything = nnx.split(model)
    assert count_params(params) == sum(x.size for x in jax.tree.leaves(everything))
    tokens = random_tokens(jax.random.key(1), B_TEST, T_TEST, vocab_size)
    logits = fwd(tokens)
    assert logits.shape == (B_TEST, T_TEST, vocab_size)
    assert logits.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(logits)))


def test_transformer_rope_param_count() -> None:
    n = count_params(make_model("transformer", 5, pos="rope"))
    print(f"transformer-rope V=5: {n} parameters")
    assert 70_000 <= n <= 140_000


@pytest.mark.parametrize("name,hyper", VARIANTS, ids=VARIANT_IDS)
def test_causality(name: str, hyper: dict[str, Any]) -> None:
    V, B, T = 5, B_TEST, T_TEST
    _, fwd = built(name, V, tuple(sorted(hyper.items())))
    tokens = random_tokens(jax.random.key(0), B, T, V)
    base = np.asarray(fwd(tokens))
    rng = np.random.default_rng(0)
    for t in [0, *rng.integers(1, T - 1, size=3).tolist()]:
        future = jax.random.randint(jax.random.key(t + 10), (B, T - t - 1), 0, V, dtype=jnp.int32)
        changed = tokens.at[:, t + 1 :].set(future)
        assert not bool(jnp.all(changed == tokens))
        other = np.asarray(fwd(changed))
        np.testing.assert_allclose(other[:, : t + 1], base[:, : t + 1], rtol=0, atol=1e-5)
    # Sanity: the logits do depend on the past (the test would pass for a constant model).
    earlier = tokens.at[:, 1].set((tokens[:, 1] + 1) % V)
    assert not np.allclose(np.asarray(fwd(earlier))[:, 1:], base[:, 1:])


@pytest.mark.parametrize("name,hyper", VARIANTS, ids=VARIANT_IDS)
def test_decode_matches_forward(name: str, hyper: dict[str, Any]) -> None:
    V, B, T = 5, B_TEST, T_TEST
    model, fwd = built(name, V, tuple(sorted(hyper.items())))
    tokens = random_tokens(jax.random.key(2), B, T, V)
    full = np.asarray(fwd(tokens))
    # A cache longer than the sequence checks that unused slots are ignored.
    stepped = np.asarray(decode_all(model, tokens, cache_len=T + 8))
    np.testing.assert_allclose(stepped, full, rtol=0, atol=1e-4)


def test_decode_at_late_positions() -> None:
    """Positions near max_len (beyond training lengths) decode consistently too."""
    V, B, T = 5, 1, 200
    for name in ["transformer", "linear"]:  # the two models with absolute-position parameters
        model = make_model(name, V, seed=0)
        tokens = random_tokens(jax.random.key(4), B, T, V)
        full = np.asarray(jit_forward(model)(tokens))
        stepped = np.asarray(decode_all(model, tokens, cache_len=256))
        np.testing.assert_allclose(stepped, full, rtol=0, atol=1e-4)


def test_mamba_scan_impls_agree() -> None:
    tokens = random_tokens(jax.random.key(5), B_TEST, T_TEST, 5)
    # Default "auto" picks one implementation for this backend; compare it with the other.
    other = "associative" if jax.default_backend() == "cpu" else "sequential"
    a = built("mamba", 5)[1](tokens)
    b = built("mamba", 5, (("scan_impl", other),))[1](tokens)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_init(name: str) -> None:
    s0 = nnx.state(make_model(name, 5, seed=0), nnx.Param)
    s0_again = nnx.state(make_model(name, 5, seed=0), nnx.Param)
    s1 = nnx.state(make_model(name, 5, seed=1), nnx.Param)
    for a, b in zip(jax.tree.leaves(s0), jax.tree.leaves(s0_again), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    differs = [
        not np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(jax.tree.leaves(s0), jax.tree.leaves(s1), strict=True)
    ]
    assert any(differs)
    # Every randomly initialised tensor is seed dependent; constant inits (norm
    # scales, biases, A_log, D, xLSTM's zero gate kernels) legitimately are not.
    kernels = [
        d
        for (path, leaf), d in zip(jax.tree_util.tree_leaves_with_path(s0), differs)
        if any(str(getattr(p, "key", "")) in ("kernel", "embedding", "mix_packed", "conv_w") for p in path)
        and not np.all(np.asarray(leaf) == np.asarray(leaf).flat[0])
    ]
    assert kernels and all(kernels)


def test_unknown_model_name() -> None:
    with pytest.raises((KeyError, ValueError)) as info:
        make_model("gru", 5)
    for name in NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_init_state(name: str) -> None:
    """init_state under vmap, init_states (one key at a time, stacked) and init_state alone
    give the same parameters bit for bit: training results do not depend on which one
    initialised them."""
    keys = jax.random.split(jax.random.key(7), 3)
    batched = jax.vmap(lambda k: init_state(name, 5, k)[1])(keys)
    graphdef, stacked = init_states(name, 5, keys)
    for i in range(3):
        g_i, single = init_state(name, 5, keys[i])
        assert g_i == graphdef
        for b, st, s in zip(jax.tree.leaves(batched), jax.tree.leaves(stacked), jax.tree.leaves(single), strict=True):
            assert b.shape == st.shape == (3, *s.shape)
            np.testing.assert_array_equal(np.asarray(b[i]), np.asarray(s))
            np.testing.assert_array_equal(np.asarray(st[i]), np.asarray(s))
    # make_model(seed=s) is init_state with jax.random.key(s).
    _, from_key = init_state(name, 5, jax.random.key(3))
    from_seed = nnx.state(make_model(name, 5, seed=3))
    for a, b in zip(jax.tree.leaves(from_key), jax.tree.leaves(from_seed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_init_states_helper() -> None:
    """init_states is init_state per key, stacked, plus the (static) graphdef."""
    keys = jax.random.split(jax.random.key(7), 2)
    graphdef, batched = init_states("linear", 5, keys)
    g0, single = init_state("linear", 5, keys[1])
    assert graphdef == g0
    for b, s in zip(jax.tree.leaves(batched), jax.tree.leaves(single), strict=True):
        np.testing.assert_array_equal(np.asarray(b[1]), np.asarray(s))
    # The batched states plug straight back into the graphdef under vmap.
    tokens = random_tokens(jax.random.key(0), 2, 10, 5)
    logits = jax.vmap(lambda s: nnx.merge(graphdef, s)(tokens))(batched)
    assert logits.shape == (2, 2, 10, 5)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_finite(name: str) -> None:
    model = make_model(name, 5, seed=0)
    graphdef, state = nnx.split(model)
    tokens = random_tokens(jax.random.key(0), B_TEST, T_TEST, 5)

    def loss(s: nnx.State) -> jax.Array:
        logits = nnx.merge(graphdef, s)(tokens[:, :-1])
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), tokens[:, 1:, None], axis=-1))

    grads = jax.jit(jax.grad(loss))(state)
    leaves = jax.tree.leaves(grads)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    # Every parameter tensor is used: none has an identically zero gradient.
    assert all(float(jnp.abs(g).max()) > 0 for g in leaves)


@pytest.mark.parametrize("name", ["transformer", "lstm", "mamba", "xlstm"])
def test_baselines_pass_the_harness_checks(name: str) -> None:
    """No false refusal (SPEC §5 checks at every width the harness feeds, tolerance 1e-4
    nats on log-probabilities). Measured on anbn, largest incremental-vs-forward
    difference: Transformer 1.9e-6, LSTM 1.2e-7, linear 2.4e-7, Mamba 2.5e-6 nats at init,
    a trained Transformer (300 steps) 1.0e-5. The linear model is covered end to end by
    tests/test_train_cli.py."""
    from rexbench.benchmark.checks import check_model
    from rexbench.benchmark.protocol import as_model
    from rexbench.tasks import get_task

    check_model(as_model(make_model(name, 5, seed=0), 5), get_task("anbn"))
