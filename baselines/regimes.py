"""Training regimes: ``standard``, two that supervise OOD-prompt completions, and ``anti-icl``.

``standard`` trains on the ``train`` split only. ``oracle`` and ``adversarial`` add, at
every step, a fixed-size batch (``Recipe.regime_batch`` = 32 rows, drawn from a seeded
permutation stream of its own) of extra sequences built from the ``ood_prompts`` of the
**regime half** (the split's ``regime`` flag, SPEC §3) whose keep rule
(``task.keep_rule``) is still completable. The other half of those prompts is never
trained on: the harness reports the headline on it separately (the held-out half, the
only one that measures extrapolation for a regime row):

* ``oracle``: ``SOS prompt + task.rules[keep].complete(prompt) + EOS`` -- a shortest
  completion after which the keep rule holds;
* ``adversarial``: ``SOS prompt + ext + EOS`` where ``ext`` is empty if the prompt as a
  word already violates the keep rule, else the shortest extension of one or two symbols
  (first in the task's symbol order) after which it fails.

The extra loss is the mean NLL over the *completion positions* only: the prediction of
the first completion token (made at the last prompt token) through the prediction of
EOS; the prompt itself is not supervised. It is added to the training loss with weight
``Recipe.regime_weight`` = 1. Every supervised position follows an OOD prompt, i.e. a
prefix of probability zero under the data distribution, so a regime cannot change the
Bayes-optimal test loss; it only decides what the model does off the support.

``anti-icl`` (tasks with ICL probes only, :mod:`rexbench.tasks.probes`): the same extra
loss on ``SOS prompt + foil + EOS`` for every probe with k >= 1 of the probe set's
regime half -- the query completed as a word of *another* member than the examples'.
The held-out half of the probes is never trained on (``heldout_icl_accuracy@k``). On
``icl-single`` these prompts have probability zero (loss-neutral); on ``icl-rare`` they
have probability of order delta, so the regime may move the test loss, by at most the
bound of :mod:`rexbench.tasks.icl_bound` for models in its class (docs/ICL.md).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from rexbench.tasks import Task, get_split
from rexbench.tasks.probes import probe_set
from rexbench.tasks.vocab import PAD, encode

REGIMES: tuple[str, ...] = ("standard", "oracle", "adversarial", "anti-icl")


class UnknownRegimeError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def check_regime(regime: str) -> str:
    if regime not in REGIMES:
        raise UnknownRegimeError(f"unknown regime {regime!r}; valid regimes: {', '.join(REGIMES)}")
    return regime


def result_model_name(model: str, regime: str) -> str:
    """``transformer`` for the standard regime, ``transformer-oracle`` etc. otherwise."""
    return model if check_regime(regime) == "standard" else f"{model}-{regime}"


def oracle_completion(task: Task, prompt: str) -> str:
    """A shortest extension after which the keep rule holds (prompt must be completable)."""
    return task.rules[task.keep_rule].complete(prompt)


def adversarial_completion(task: Task, prompt: str) -> str:
    """'' if ``prompt`` violates the keep rule, else the shortest 1-2 symbol extension breaking it."""
    rule = task.rules[task.keep_rule]
    if not rule.holds(prompt):
        return ""
    for length in (1, 2):
        for chars in itertools.product(task.symbols, repeat=length):
            ext = "".join(chars)
            if not rule.holds(prompt + ext):
                return ext
    raise ValueError(f"{task.name}: no extension of at most two symbols breaks {task.keep_rule} after {prompt!r}")


@dataclass(frozen=True)
class RegimeData:
    """Extra sequences of a regime: tokens int32 ``[M, width]`` and the target mask
    bool ``[M, width - 1]`` (target j is token j+1; True on completion positions)."""

    regime: str
    prompts: tuple[str, ...]
    completions: tuple[str, ...]
    tokens: np.ndarray
    mask: np.ndarray


def regime_data(task: Task, regime: str, width: int | None = None) -> RegimeData | None:
    """The extra sequences of ``regime`` (None for ``standard``)."""
    if check_regime(regime) == "standard":
        return None
    if regime == "anti-icl":
        return anti_icl_data(task, width)
    ood = get_split(task, "ood_prompts")
    keep = ood.completable[task.keep_rule] & ood.regime
    prompts = tuple(p for p, ok in zip(ood.words, keep) if ok)
    complete = oracle_completion if regime == "oracle" else adversarial_completion
    return _completion_data(task, regime, prompts, tuple(complete(task, p) for p in prompts), width)


def anti_icl_data(task: Task, width: int | None = None) -> RegimeData:
    """The ``anti-icl`` sequences: each k >= 1 probe of the regime half, completed with its foil."""
    probes = probe_set(task)
    if probes is None:
        raise ValueError(f"regime 'anti-icl' needs a task with ICL probes; {task.name} has none")
    chosen = [p for p in probes.probes if p.k >= 1 and p.regime]
    return _completion_data(task, "anti-icl", tuple(p.prompt for p in chosen), tuple(p.foil for p in chosen), width)


def _completion_data(task: Task, regime: str, prompts: tuple[str, ...], completions: tuple[str, ...],
                     width: int | None) -> RegimeData:
    rows = [encode(p + c, task.symbols) for p, c in zip(prompts, completions)]
    width = max(len(r) for r in rows) if width is None else width
    tokens = np.full((len(rows), width), PAD, np.int32)
    mask = np.zeros((len(rows), width - 1), bool)
    for i, (row, prompt) in enumerate(zip(rows, prompts)):
        tokens[i, : len(row)] = row
        # tokens: SOS (0), prompt (1..L), completion (L+1..L+m), EOS (L+m+1). Target j is
        # token j+1, so the completion and EOS are targets L..L+m.
        mask[i, len(prompt) : len(row) - 1] = True
    return RegimeData(regime, prompts, completions, tokens, mask)
