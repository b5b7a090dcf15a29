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

import math
from collections.abc import Sequence

import jax
from flax import nnx

from rexbench.benchmark.curves import CURVE_METRICS
from rexbench.benchmark.headline import headline_metrics
from rexbench.tasks import Task

Counts = dict[str, list[int]]  # metric -> [successes, count]

# The grid's curves (`rexbench reproduce`) have at most about this many points per run:
# a point costs two decodes of every OOD prompt per seed (on dyck ~5 s per seed for the
# Transformer on the reference CPU), so a curve at every validation point of a 2,400-step
# run would cost more than its training. Shorter runs keep every validation point.
CURVE_POINTS = 12


def curve_every(steps: int, eval_every: int, points: int = CURVE_POINTS) -> int:
    """The interval (a multiple of ``eval_every``) that gives a ``steps``-step run at most
    ``points`` curve points before its last: ``curve_every(300, 50) == 50`` (every validation point),
    ``curve_every(2400, 50) == 200`` (12), ``curve_every(1400, 50) == 150`` (9 + the last)."""
    return eval_every * max(1, math.ceil(steps / (eval_every * points)))


def capability_point(graphdef: nnx.GraphDef, params_S: nnx.State, task: Task, seeds: Sequence[int]) -> list[Counts]:
    """The headline family of each stacked seed's parameters (leaves ``[S, ...]``)."""
    out = []
    for i, seed in enumerate(seeds):
        model = nnx.merge(graphdef, jax.tree.map(lambda x, i=i: x[i], params_S))
        family = headline_metrics(model, task, int(seed))
        out.append({k: [family[k].successes, family[k].count] for k in CURVE_METRICS})
    return out
