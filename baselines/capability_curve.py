"""Capability over training: the headline family at every validation point.

The loss of a trained baseline levels off long before its capability does (issue #13:
the recipe's Transformer on ``anbn`` moved from 0.07–0.13 to 0.16–0.32 greedy OOD R1
between steps 300 and 4,000 while its val loss stayed within 0.0007). So, when asked,
training also scores the *current* parameters of every seed at every validation point
with the cheap headline family (:func:`rexbench.benchmark.headline.headline_metrics`:
one greedy decode of the OOD prompts and one EOS-withheld decode of the headline
prompts, with the run seed's keys), and keeps the counts::

    point = capability_point(graphdef, params_S, get_task("anbn"), seeds=(0, 1))
    point[0]["ood_rule_extrapolation"]   # [successes, count] of seed 0, e.g. [28, 251]

Counts, not ratios, so a reader (and the result check) can recompute every ratio. At the
validation point whose step is the selected checkpoint's, the parameters *are* the
selected ones, so that point equals the result's own headline counts exactly; the
result check (:func:`rexbench.benchmark.curves.check_capability_curve`) holds a file to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from flax import nnx

from rexbench.benchmark.curves import CURVE_METRICS
from rexbench.benchmark.headline import headline_metrics
from rexbench.tasks import Task

Counts = dict[str, list[int]]  # metric -> [successes, count]


def capability_point(graphdef: nnx.GraphDef, params_S: nnx.State, task: Task, seeds: Sequence[int]) -> list[Counts]:
    """The headline family of each stacked seed's parameters (leaves ``[S, ...]``)."""
    out = []
    for i, seed in enumerate(seeds):
        model = nnx.merge(graphdef, jax.tree.map(lambda x, i=i: x[i], params_S))
        family = headline_metrics(model, task, int(seed))
        out.append({k: [family[k].successes, family[k].count] for k in CURVE_METRICS})
    return out
