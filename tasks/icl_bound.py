"""The exact bound on how far the loss can move on ``icl-rare`` while ICL behaviour changes.

Class of models (docs/ICL.md): models that equal the task's distribution on every
context before the first ``|`` and on every end-of-example decision (``|`` against EOS),
and predict every later example from a mixture of the members whose weight on the true
member is at least its prior, 1/3. ``icl-oracle`` (weight 1), ``icl-ignore`` (weight 1/3,
the prior for every example) and any anti-ICL model that puts 1/3 on the true member and
2/3 on another (so that greedy decoding follows the other) are all in it.

Bound. The members are disjoint, so a mixture with weight ``w`` on the true member gives a
later example ``x`` probability ``w p_g(x)``; its loss exceeds the Bayes loss ``-ln p_g(x)``
by ``ln(1/w) <= ln 3``, and by nothing elsewhere. So on any set of documents the excess
is at most ``ln 3 x (number of examples after the first) / (number of target tokens)``
nats per token, attained by ``icl-ignore``. In expectation (per token, the limit of a
large split) that is

    Delta(delta) = ln 3 x E[m - 1] / E[tokens],  E[tokens] = E[m] (E|x| + 1)

(each example brings its symbols plus one ``|`` or EOS; Wald's identity). With the suite's
cap, E|x| = (7 + 15/2 + 15/2) / 3 = 22/3 (mean word lengths of the three members), and on
``icl-rare`` E[m - 1] = delta x 5/2 (m uniform on 2..5 given m >= 2):

    delta = 1/400: E[m - 1] = 1/160, E[tokens] = (161/160)(25/3), Delta = 3 ln 3 / 4025 = 0.000819.

On the pinned test split the realised bound is ln 3 x 19 / 16981 = 0.001229 (6 of its 2,000
documents have m >= 2), inside the suite's loss-equivalence margin of 0.002 nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from rexbench.tasks.icl import IclTask
from rexbench.tasks.icl_members import MEMBERS

LN3 = math.log(3)


def mean_example_length(task: IclTask) -> Fraction:
    """E|x|: member uniform, n uniform on its range."""
    per = [Fraction(sum(len(h.word(n)) for n in h.ns(task.size)), len(h.ns(task.size))) for h in MEMBERS]
    return sum(per, Fraction(0)) / len(per)


def expected_coefficient(task: IclTask) -> Fraction:
    """E[m - 1] / E[tokens]: the bound is ``ln 3`` times this."""
    em = sum((m * p for m, p in task.m_law.items()), Fraction(0))
    return (em - 1) / (em * (mean_example_length(task) + 1))


def expected_bound(task: IclTask) -> float:
    """Delta(delta) in nats per token."""
    return LN3 * float(expected_coefficient(task))


def split_bound(words: Sequence[str]) -> float:
    """The bound on a fixed set of documents (e.g. the test split), nats per token."""
    later = sum(w.count("|") for w in words)
    tokens = sum(len(w) + 1 for w in words)
    return LN3 * later / tokens
