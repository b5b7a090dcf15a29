"""The step-budget rule (issue #13): each (task, model) gets its budget from its own val curve.

The rule, applied to a *probe* run (one seed, :data:`PROBE_FACTOR` x the task's
:data:`rexbench.baselines.recipe.STEPS`, validation every 50 steps):

1. excess val loss at every validation point = val loss - the exact distribution's loss
   on the same ``val`` words (nats per target token);
2. the *plateau step* is the first validation point whose excess is within :data:`EPS`
   nats/token of the minimum over the probe -- where the loss has levelled off (a curve
   that later rises, as dyck's Transformer does once it overfits, keeps its first arrival);
3. budget = :data:`MULTIPLE` x the plateau step, rounded up to a multiple of
   :data:`ROUND_TO` (the validation interval), at least :data:`MIN_STEPS`.

Why twice the plateau: min-``val_loss`` selection stays the checkpoint rule (it never
looks at the OOD prompts), and on a flat curve the selected step is close to arbitrary
with respect to capability (docs/RECIPE.md, "Capability over 10x the budget"); a budget
of twice the plateau makes the flat part at least as long as the descent, so selection
chooses among levelled-off checkpoints of every model, not only the Transformer's. A
probe whose plateau lies in its last quarter has not shown that it levelled off
(``levelled`` is False): its budget is the rule's, capped at the probe's length, and the
row says so.

Worked example: a probe of 1,200 steps with excess ``[0.30, 0.05, 0.0016, 0.0004,
0.0002, ...]`` at steps ``[0, 50, 100, 150, 200, ...]`` and minimum 0.0001 has its plateau
at step 150 (0.0004 <= 0.0001 + 0.001; 0.0016 is not), so its budget is 300.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rexbench.benchmark.curves import EPS, plateau_step  # one definition, the leaderboard reads it too

MULTIPLE = 2
ROUND_TO = 50
MIN_STEPS = 100
PROBE_FACTOR = 4  # probe length: this times recipe.STEPS[task]


@dataclass(frozen=True)
class Budget:
    plateau_step: int
    steps: int  # the rule's budget (capped at the probe's length)
    levelled: bool  # plateau before the probe's last quarter
    probe_steps: int
    min_excess: float


def budget_from_curve(steps: Sequence[int], excess: Sequence[float], *, eps: float = EPS,
                      multiple: int = MULTIPLE, round_to: int = ROUND_TO) -> Budget:
    """The rule above, for one probe's curve (``steps`` ascending, ending at the probe's last step)."""
    plateau = plateau_step(steps, excess, eps)
    probe = int(steps[-1])
    rule = max(MIN_STEPS, round_to * math.ceil(multiple * plateau / round_to))
    return Budget(plateau_step=plateau, steps=min(rule, probe), levelled=plateau <= 0.75 * probe,
                  probe_steps=probe, min_excess=float(min(excess)))
