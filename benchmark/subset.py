"""The fixed subset of OOD prompts used by ``sampled_ood_rule_extrapolation``.

The qualifying prompts are the OOD prompts whose keep rule is still completable. When
more than ``SAMPLED_PROMPTS`` (256) qualify, the subset is drawn without replacement by
``numpy.random.Generator(PCG64)`` seeded from the SHA-256 of
``"rexbench/suite-<version>/<task config>/ood_prompts/sampled_ood_subset"`` (the scheme of
the splits, :func:`rexbench.tasks.splits.split_rng`) and sorted. It depends on the task only — never
on the model or the run seed — so every result of a task uses the same prompts. Among
suite v2 only ``dyck`` (1,308 qualifying) and ``csdyck`` (1,016) are subsampled.
"""

from __future__ import annotations

import numpy as np

from rexbench.tasks import Task, get_split
from rexbench.tasks.splits import split_rng

SAMPLED_PROMPTS = 256
SAMPLES_PER_PROMPT = 16
GENERATION_SAMPLES = 1_000  # temperature-1 samples from SOS for generation_accuracy


def sampled_prompt_indices(task: Task, limit: int = SAMPLED_PROMPTS) -> np.ndarray:
    """Sorted indices into ``ood_prompts`` of the prompts scored by sampling (int64 ``[<=limit]``)."""
    completable_N = np.asarray(get_split(task, "ood_prompts").completable[task.keep_rule], dtype=bool)
    qualifying = np.flatnonzero(completable_N)
    if qualifying.size <= limit:
        return qualifying
    rng = split_rng(task, "ood_prompts", "/sampled_ood_subset")
    return np.sort(rng.choice(qualifying, size=limit, replace=False))
