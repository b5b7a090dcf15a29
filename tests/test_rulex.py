"""The rule-extrapolation code's configurations (issue #13): the registry's -rulex names,
the model options they use (post-LN, sinusoidal positions, ReLU, dropout), and dropout in
training (on with a step key in train mode, off in eval mode and without a key)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from train_support import small_val_data

from rexbench.baselines.models import CONFIGS, MODEL_NAMES, count_params, make_model
from rexbench.baselines.recipe import DEFAULT
from rexbench.baselines.train import dropout_key, step_dropout_key, train, train_step, training_loss

# Parameter counts at V=5 (the anbn vocabulary). transformer-rulex equals PyTorch's count
# of the same nn.TransformerEncoder stack; lstm-rulex is 1,280 below nn.LSTM's (one bias per gate row).
RULEX_PARAMS: dict[str, int] = {
    "transformer-rulex": 154_063,
    "lstm-rulex": 151_671,
    "mamba-rulex": 102_437,
    "xlstm-rulex": 242_029,
    # The ablation's one-factor configurations (baselines/ablation.py), derived from the
    # defaults by hand: dropout adds no parameters; a 1024-row position table adds
    # (1024 - 256) * 64 = 49,152 to the default Transformer's 117,125; the no-dropout
    # rulex stack has transformer-rulex's weights.
    "transformer-dropout": 117_125,
    "transformer-l1024": 117_125 + (1024 - 256) * 64,
}
RULEX_PARAMS["transformer-rulex-nodropout"] = RULEX_PARAMS["transformer-rulex"]
# Small models with every new option on, so the compiled checks stay cheap.
SMALL: list[tuple[str, dict[str, Any]]] = [
    ("transformer", {"d_model": 16, "num_heads": 4, "mlp_dim": 32, "num_layers": 2, "norm": "post",
                     "pos": "sinusoidal", "activation": "relu", "embed_scale": True, "ln_eps": 6e-3, "dropout": 0.3}),
    ("transformer", {"d_model": 16, "num_heads": 4, "mlp_dim": 32, "num_layers": 2, "pos": "sinusoidal", "dropout": 0.3}),
    ("lstm", {"embed_dim": 8, "hidden_dim": 16, "num_layers": 3, "dropout": 0.3, "out_dropout": 0.3}),
]
SMALL_IDS = ["transformer-post-sin", "transformer-pre-sin", "lstm-dropout"]
B, T, V = 2, 20, 5


def tokens(seed: int, batch: int = B, length: int = T) -> jax.Array:
    body = jax.random.randint(jax.random.key(seed), (batch, length - 1), 0, V, dtype=jnp.int32)
    return jnp.concatenate([jnp.zeros((batch, 1), jnp.int32), body], axis=1)


@functools.cache
def built(name: str, hyper: tuple[tuple[str, Any], ...] = ()) -> tuple[nnx.Module, Callable[[jax.Array], jax.Array]]:
    model = make_model(name, V, seed=0, **dict(hyper))
    graphdef, state = nnx.split(model)
    fwd = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))
    return model, functools.partial(fwd, state)


def decode_all(model: nnx.Module, tokens_BT: jax.Array) -> jax.Array:
    graphdef, state = nnx.split(model)
    Bn, Tn = tokens_BT.shape

    @jax.jit
    def run(state: nnx.State, tokens_BT: jax.Array) -> jax.Array:
        m = nnx.merge(graphdef, state)

        def body(cache: Any, t: jax.Array) -> tuple[Any, jax.Array]:
            logits_BV, cache = m.decode_step(cache, tokens_BT[:, t], t)
            return cache, logits_BV

        _, out_TBV = jax.lax.scan(body, m.init_cache(Bn, Tn + 4), jnp.arange(Tn))
        return jnp.swapaxes(out_TBV, 0, 1)

    return run(state, tokens_BT)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_rulex_builds_with_its_parameter_count(name: str) -> None:
    model, fwd = built(name)
    assert name in MODEL_NAMES
    assert count_params(model) == RULEX_PARAMS[name]
    # still all-Param state: the dropout sites hold no key (the optimizer and checkpoints rely on it)
    _, everything = nnx.split(model)
    assert count_params(model) == sum(x.size for x in jax.tree.leaves(everything))
    logits = fwd(tokens(0))
    assert logits.shape == (B, T, V) and bool(jnp.all(jnp.isfinite(logits)))


def test_config_hyper_can_be_overridden_and_bad_values_refused() -> None:
    assert count_params(make_model("transformer-rulex", V, num_layers=5)) == 154_063 - 2 * 21_994
    with pytest.raises(ValueError, match="dropout must be in"):
        make_model("transformer", V, dropout=1.0)
    with pytest.raises(ValueError, match="norm must be one of"):
        make_model("transformer", V, norm="sandwich")
    with pytest.raises(KeyError, match="transformer-rulex"):
        make_model("transformer-rulx", V)


@pytest.mark.parametrize("name,hyper", [*SMALL, ("transformer-rulex", {})], ids=[*SMALL_IDS, "transformer-rulex"])
def test_causal_in_eval_mode(name: str, hyper: dict[str, Any]) -> None:
    _, fwd = built(name, tuple(sorted(hyper.items())))
    x = tokens(1)
    base = np.asarray(fwd(x))
    for t in (0, 7, 15):
        changed = x.at[:, t + 1:].set((x[:, t + 1:] + 1) % V)
        np.testing.assert_allclose(np.asarray(fwd(changed))[:, : t + 1], base[:, : t + 1], rtol=0, atol=1e-5)
    assert not np.allclose(np.asarray(fwd(x.at[:, 1].set((x[:, 1] + 1) % V)))[:, 1:], base[:, 1:])


@pytest.mark.parametrize("name,hyper", [*SMALL, *((n, {}) for n in sorted(CONFIGS))],
                         ids=[*SMALL_IDS, *sorted(CONFIGS)])
def test_decode_matches_forward(name: str, hyper: dict[str, Any]) -> None:
    model, fwd = built(name, tuple(sorted(hyper.items())))
    x = tokens(2)
    np.testing.assert_allclose(np.asarray(decode_all(model, x)), np.asarray(fwd(x)), rtol=0, atol=1e-4)


@pytest.mark.parametrize("name,hyper", [SMALL[0], SMALL[2], ("lstm-rulex", {})], ids=["transformer", "lstm", "lstm-rulex"])
def test_dropout_on_in_training_off_in_eval(name: str, hyper: dict[str, Any]) -> None:
    model = make_model(name, V, seed=0, **hyper)
    graphdef, params = nnx.split(model)
    x = tokens(3, batch=8)
    base = dropout_key(0)

    def loss(g: nnx.GraphDef, p: nnx.State, key: jax.Array | None) -> float:
        # both compiled, so that equal means bit-equal (eager and jit may round differently)
        if key is None:
            return float(jax.jit(lambda p: training_loss(g, p, x)[0])(p))
        return float(jax.jit(lambda p, k: training_loss(g, p, x, key=k)[0])(p, key))

    plain = loss(graphdef, params, None)
    step0, step1 = loss(graphdef, params, step_dropout_key(base, 0)), loss(graphdef, params, step_dropout_key(base, 1))
    assert step0 != plain and step1 != plain and step0 != step1  # masks drawn, different per step
    assert step0 == loss(graphdef, params, step_dropout_key(base, 0))  # and reproducible
    assert loss(graphdef, params, step_dropout_key(dropout_key(1), 0)) != step0  # and per seed
    # eval mode (the harness's from_nnx view) wins over a key: the key-less loss exactly
    graphdef_eval, params_eval = nnx.split(nnx.view(model, deterministic=True))
    assert loss(graphdef_eval, params_eval, step_dropout_key(base, 0)) == plain


def test_key_is_inert_without_dropout() -> None:
    """A dropout-0 model's update is bit-identical with and without a step key (so the
    goldens of tests/test_train.py and every earlier run's numbers are unchanged)."""
    for hyper in ({}, {"dropout": 0.0}):
        model = make_model("transformer", V, seed=0, **hyper)
        graphdef, params = nnx.split(model)
        tx = DEFAULT.optimizer()
        x = tokens(4, batch=8)
        step = jax.jit(lambda p, o, k, g=graphdef: train_step(g, tx, p, o, x, key=k))
        plain = jax.jit(lambda p, o, g=graphdef: train_step(g, tx, p, o, x))(params, tx.init(params))
        keyed = step(params, tx.init(params), step_dropout_key(dropout_key(0), 0))
        for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(keyed), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_dropout_training_is_deterministic_and_seed_independent() -> None:
    hyper = dict(SMALL[2][1])
    recipe = DEFAULT.replace(eval_every=3)
    data = small_val_data()
    a = train("lstm", "anbn", (0, 1), steps=6, recipe=recipe, hyper=hyper, progress=False, data=data)
    b = train("lstm", "anbn", (0, 1), steps=6, recipe=recipe, hyper=hyper, progress=False, data=data)
    alone = train("lstm", "anbn", (1,), steps=6, recipe=recipe, hyper=hyper, progress=False, data=data)
    assert a.train_curve == b.train_curve and a.val_curve == b.val_curve
    np.testing.assert_allclose([v[1] for _, v in a.val_curve], [v[0] for _, v in alone.val_curve], rtol=0, atol=1e-6)
    # the training objective is the dropout one: it differs from the same run without dropout
    none = train("lstm", "anbn", (0,), steps=3, recipe=recipe, hyper={**hyper, "dropout": 0.0, "out_dropout": 0.0},
                 progress=False, data=data)
    assert none.train_curve[0][1][0] != a.train_curve[0][1][0]


def test_rulex_transformer_passes_the_harness_checks() -> None:
    """The harness scores in eval mode (no mask is ever drawn), so a dropout model is not
    refused as nondeterministic and its incremental decode matches its forward."""
    from rexbench.benchmark.checks import check_model
    from rexbench.benchmark.protocol import as_model
    from rexbench.tasks import get_task

    # two of its seven layers: the same blocks (post-LN, ReLU, dropout 0.1, sinusoidal
    # positions, scaled embedding), a third of the compile time
    check_model(as_model(make_model("transformer-rulex", V, seed=0, num_layers=2), V), get_task("anbn"))
