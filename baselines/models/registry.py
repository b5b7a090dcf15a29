"""Name -> model class registry, construction helpers and parameter counting."""

from __future__ import annotations

from typing import Any

import jax
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


def _model_class(name: str) -> type[nnx.Module]:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(sorted(MODELS))}") from None


def make_model(name: str, vocab_size: int, *, seed: int | jax.Array = 0, **hyper: Any) -> nnx.Module:
    """Builds model `name` with parameters drawn deterministically from `seed`.

    `seed` may be an int or a JAX key; ``seed=s`` gives the same parameters as
    ``init_state(name, vocab_size, jax.random.key(s))``.
    """
    return _model_class(name)(vocab_size, rngs=nnx.Rngs(seed), **hyper)


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
    """Vectorised :func:`init_state` over a batch of keys [S]: state leaves get a leading axis S.

    Slice ``s`` equals ``init_state(name, vocab_size, keys[s])[1]``.
    """
    graphdef, _ = nnx.split(jax.eval_shape(lambda: make_model(name, vocab_size, seed=0, **hyper)))
    states = jax.vmap(lambda k: init_state(name, vocab_size, k, **hyper)[1])(keys)
    return graphdef, states


def count_params(model: nnx.Module | nnx.State) -> int:
    """Total number of scalars in the model's ``nnx.Param`` variables (or in a param state)."""
    state = nnx.state(model, nnx.Param) if isinstance(model, nnx.Module) else model
    return int(sum(leaf.size for leaf in jax.tree.leaves(state)))
