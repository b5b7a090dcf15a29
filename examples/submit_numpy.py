"""A host (numpy) submission: any callable ``f(tokens int32[B, T]) -> float[B, T, V]``.

Score it with::

    rexbench score --model examples.submit_numpy:make_model --task anbn --out my_results/

This is how models from other frameworks are scored: wrap their forward pass in a
function on numpy arrays (for PyTorch: ``torch.from_numpy(tokens)`` in,
``logits.detach().cpu().numpy()`` out). Here the model is a fixed random bigram table:
the logits at position t depend on the token at position t only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def make_model(vocab_size: int) -> Callable[[np.ndarray], np.ndarray]:
    table_VV = np.random.default_rng(0).normal(size=(vocab_size, vocab_size)).astype(np.float32)

    def logits(tokens_BT: np.ndarray) -> np.ndarray:
        return table_VV[tokens_BT]  # [B, T, V]

    return logits
