"""Small training setups for tests of the training loop's properties (determinism, seed
independence, packing): what they assert holds at any model size and any validation set,
so they train tiny models and validate on one validation batch to keep compiles and
validation passes cheap. Budgets and recipes stay each test's own."""

from __future__ import annotations

import dataclasses
from functools import cache

from rexbench.baselines.data import TaskData, load_task_data
from rexbench.baselines.train import VAL_BATCH
from rexbench.tasks import get_task

# Tiny hyperparameters per model: a compile of seconds, the same code paths (the LSTM's
# scan, the Transformer's attention, MLP and learned positions).
TINY: dict[str, dict[str, int]] = {
    "transformer": {"d_model": 16, "num_layers": 1, "num_heads": 2, "mlp_dim": 32},
    "lstm": {"embed_dim": 8, "hidden_dim": 8, "num_layers": 1},  # a scan whose carry starts from zeros
}
VAL_ROWS = VAL_BATCH  # one validation batch: the validation pass, not the property, was the cost


@cache
def small_val_data(task_name: str = "anbn") -> TaskData:
    """The task's training data with its val split cut to its first :data:`VAL_ROWS` rows."""
    full = load_task_data(get_task(task_name))
    return dataclasses.replace(full, val=full.val[:VAL_ROWS])
