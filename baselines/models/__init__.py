"""Five ~100k-parameter Flax NNX baselines sharing one interface.

Every model is an ``nnx.Module`` constructed as
``Model(vocab_size, *, rngs, max_len=256, **hyperparams)`` with

* ``__call__(tokens_BT) -> logits_BTV`` (int32 in, float32 out, strictly causal);
* ``init_cache(batch_size, max_len) -> cache`` (plain pytree of zero arrays);
* ``decode_step(cache, tokens_B, position) -> (logits_BV, cache)`` where
  ``logits_BV == __call__(tokens)[:, position]``; jit-friendly with a traced
  ``position``.

Use :func:`make_model` / :func:`init_state` from :mod:`rexbench.baselines.models.registry`.
"""

from rexbench.baselines.models.linear import Linear
from rexbench.baselines.models.lstm import LSTM
from rexbench.baselines.models.mamba import Mamba
from rexbench.baselines.models.registry import CONFIGS, MODEL_NAMES, MODELS, count_params, init_state, init_states, make_model
from rexbench.baselines.models.transformer import Transformer
from rexbench.baselines.models.xlstm import XLSTM

__all__ = [
    "LSTM",
    "CONFIGS",
    "MODELS",
    "MODEL_NAMES",
    "Linear",
    "XLSTM",
    "Mamba",
    "Transformer",
    "count_params",
    "init_state",
    "init_states",
    "make_model",
]
