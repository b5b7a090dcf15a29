"""Name -> model class registry, named configurations, construction helpers and parameter counting.

A model name is a class name of :data:`MODELS` or a configuration of :data:`CONFIGS`:
``name -> (class name, hyperparameters)``, built as that class with those
hyperparameters (explicit ``**hyper`` still override them). :data:`MODEL_NAMES` is both.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rexbench.baselines.models.linear import Linear
from rexbench.baselines.models.lstm import LSTM
from rexbench.baselines.models.mamba import Mamba
from rexbench.baselines.models.transformer import Transformer
from rexbench.baselines.models.xlstm import XLSTM

MODELS: dict[str, type[nnx.Module]] = {
    "transformer": Transformer,
    "lstm": LSTM,
    "linear": Linear,
    "mamba": Mamba,
    "xlstm": XLSTM,
}


# The rule-extrapolation code's models (Meszaros et al., "Rule extrapolation in language
# models", NeurIPS 2024; the "anchors" of issue #13), as the registry's classes with their
# hyperparameters. Parameter counts at V=5 (tests/test_rulex.py asserts them). Trained with
# rexbench.baselines.recipe.RULEX (AdamW, lr 0.002, inverse-sqrt decay, batch 128) when
# asked; `rexbench train --model NAME` uses the suite's DEFAULT recipe like every baseline.
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    # nn.TransformerEncoderLayer(d_model 10, nhead 5, dim_feedforward 1024, dropout 0.1,
    # layer_norm_eps 6e-3; post-LN, ReLU), 7 layers (5 in the position paper), no final
    # norm, embeddings x sqrt(d_model) + sinusoidal positions: 154,063 parameters
    # (PyTorch's own count of that module at 5 tokens; the structure is the same).
    "transformer-rulex": ("transformer", {
        "d_model": 10, "num_heads": 5, "mlp_dim": 1024, "num_layers": 7, "norm": "post", "pos": "sinusoidal",
        "activation": "relu", "embed_scale": True, "ln_eps": 6e-3, "dropout": 0.1}),
    # embedding 10, nn.LSTM(hidden 64, 5 layers), dropout 0.4 on its output: 151,671 parameters
    # (PyTorch's nn.LSTM has 1,280 more: a second, redundant bias per layer).
    "lstm-rulex": ("lstm", {"embed_dim": 10, "hidden_dim": 64, "num_layers": 5, "out_dropout": 0.4}),
    # d_model 32, 10 layers, d_state 16, d_conv 8 (expand 2, dt_rank ceil(32/16) = 2): 102,437 parameters.
    "mamba-rulex": ("mamba", {"d_model": 32, "num_layers": 10, "d_state": 16, "d_conv": 8}),
    # 6 blocks of width 64, sLSTM at block 1 (0-based, xLSTM's slstm_at=[1]), the others mLSTM
    # (4 heads, conv 4, sLSTM MLP 80: the class defaults): 242,029 parameters.
    "xlstm-rulex": ("xlstm", {"d_model": 64, "layout": "msmmmm"}),
    # One factor of the anbn ablation each (rexbench.baselines.ablation, docs/ABLATION.md):
    # the suite's Transformer with the anchors' dropout (0.1 at nn.TransformerEncoderLayer's
    # sites); the anchors' architecture without its dropout; and the suite's Transformer with
    # a position table long enough for aⁿbⁿ at N = 128 (the harness feeds up to 592 tokens).
    "transformer-dropout": ("transformer", {"dropout": 0.1}),
    "transformer-rulex-nodropout": ("transformer", {
        "d_model": 10, "num_heads": 5, "mlp_dim": 1024, "num_layers": 7, "norm": "post", "pos": "sinusoidal",
        "activation": "relu", "embed_scale": True, "ln_eps": 6e-3, "dropout": 0.0}),
    "transformer-l1024": ("transformer", {"max_len": 1024}),
}
MODEL_NAMES: tuple[str, ...] = (*MODELS, *CONFIGS)


def position_limit(name: str) -> int | None:
    """The longest row model ``name`` accepts (its learned position table), None: any."""
    import inspect

    cls, preset = resolve(name)
    params = inspect.signature(cls.__init__).parameters
    # only a model with a `pos` choice has a position table; the recurrent ones accept
    # `max_len` for interface uniformity and ignore it
    if "max_len" not in params or "pos" not in params or preset.get("pos", params["pos"].default) != "learned":
        return None
    return int(preset.get("max_len", params["max_len"].default))


def resolve(name: str) -> tuple[type[nnx.Module], dict[str, Any]]:
    """(class, preset hyperparameters) of model name ``name``; KeyError lists the valid names."""
    if name in MODELS:
        return MODELS[name], {}
    if name in CONFIGS:
        base, preset = CONFIGS[name]
        return MODELS[base], dict(preset)
    raise KeyError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")


def _model_class(name: str) -> type[nnx.Module]:
    return resolve(name)[0]


def make_model(name: str, vocab_size: int, *, seed: int | jax.Array = 0, **hyper: Any) -> nnx.Module:
    """Builds model `name` with parameters drawn deterministically from `seed`.

    `seed` may be an int or a JAX key; ``seed=s`` gives the same parameters as
    ``init_state(name, vocab_size, jax.random.key(s))``.
    """
    cls, preset = resolve(name)
    return cls(vocab_size, rngs=nnx.Rngs(seed), **{**preset, **hyper})


def init_state(
    name: str, vocab_size: int, key: jax.Array, **hyper: Any
) -> tuple[nnx.GraphDef, nnx.State]:
    """Pure init: key -> (static graphdef, parameter state).

    Safe under ``jax.vmap`` over `key` (return only the state from the mapped
    function; the graphdef does not depend on the key). All model state is
    ``nnx.Param``, so the state is exactly the trainable parameters.
    """
    model = make_model(name, vocab_size, seed=key, **hyper)
    return nnx.split(model)


def init_states(
    name: str, vocab_size: int, keys: jax.Array, **hyper: Any
) -> tuple[nnx.GraphDef, nnx.State]:
    """:func:`init_state` over a batch of keys [S]: state leaves get a leading axis S.

    Slice ``s`` equals ``init_state(name, vocab_size, keys[s])[1]`` bit for bit, and so does
    the same init under ``jax.vmap`` (tests/test_models.py). The keys are initialised one at
    a time and stacked rather than vmapped because an eager init compiles each of its ops
    for its shapes: unbatched, those shapes do not depend on S, so every later init of the
    model in the process (another seed count, a ``make_model``) reuses the compiled ops.
    ``scripts/bench_init.py`` (2-core Intel Xeon, 2026-12-07): a first init of 5 seeds takes
    1.0-1.3x the vmapped init's time (S eager passes instead of one), a second init of 6 seeds
    2.8-5.2x less (0.7-2.9 s instead of 3.8-10.5 s): the suite's tests
    initialise the same model at several seed counts, as does a grid that trains only the
    seeds still missing from a run.
    """
    graphdef, _ = nnx.split(jax.eval_shape(lambda: make_model(name, vocab_size, seed=0, **hyper)))
    states = [init_state(name, vocab_size, key, **hyper)[1] for key in keys]
    return graphdef, jax.tree.map(lambda *leaves: jnp.stack(leaves), *states)


def count_params(model: nnx.Module | nnx.State) -> int:
    """Total number of scalars in the model's ``nnx.Param`` variables (or in a param state)."""
    state = nnx.state(model, nnx.Param) if isinstance(model, nnx.Module) else model
    return int(sum(leaf.size for leaf in jax.tree.leaves(state)))
