"""The capability metrics of SPEC §4, computed from completions as (successes, count).

Every metric is a :class:`Ratio`; the value is ``successes / count``, divided once, and
is None (JSON null) when the count is zero (e.g. ``ood_rules`` for a rule that no OOD
prompt leaves completable). The per-row verdicts are in :mod:`benchmark.verdicts`;
the functions here vectorise them over a split and aggregate.

* ``id_accuracy``: ID prompts whose completion is finished and whose whole word is in
  the language.
* ``ood_rules[r]``: over the OOD prompts for which rule ``r`` is completable, the
  fraction whose completion is finished and whose whole word satisfies ``r``;
  ``ood_rule_extrapolation`` is ``ood_rules[keep_rule]``.
* ``ood_finished``: fraction of all OOD completions that emitted EOS (a malformed but
  EOS-terminated completion counts as finished here).
* ``length_extrapolation``: length prompts whose completion is finished and whose whole
  word is in the language of ``task.resized(2 * task.size)``.
* ``sampled_ood_rule_extrapolation``: as ``ood_rule_extrapolation``, over every sample
  (16 per prompt) of the sampled subset; count = prompts × 16.
* ``generation_accuracy``: samples from SOS that are finished and in the language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.decoding import Completions
from benchmark.verdicts import in_language, keeps_rule, whole_word
from tasks import Task

CAPABILITY_KEYS: tuple[str, ...] = (
    "id_accuracy",
    "ood_rule_extrapolation",
    "ood_rules",
    "ood_finished",
    "length_extrapolation",
    "sampled_ood_rule_extrapolation",
    "generation_accuracy",
)


@dataclass(frozen=True)
class Ratio:
    """A metric as (successes, count)."""

    successes: int
    count: int

    @property
    def value(self) -> float | None:
        return self.successes / self.count if self.count else None

    @classmethod
    def of(cls, flags_N: np.ndarray) -> Ratio:
        flags_N = np.asarray(flags_N, dtype=bool)
        return cls(int(flags_N.sum()), int(flags_N.size))


def whole_words(prompts: Sequence[str], completions: Completions, symbols: str) -> list[str | None]:
    """Whole word of every row (None = unfinished or malformed)."""
    return [
        whole_word(p, g, f, symbols)
        for p, g, f in zip(prompts, completions.generated_NL.tolist(), completions.finished_N.tolist(), strict=True)
    ]


def _memo_flags(predicate: Callable[[str], bool], words: Sequence[str | None]) -> np.ndarray:
    cache: dict[str, bool] = {}
    out = np.zeros(len(words), dtype=bool)
    for i, word in enumerate(words):
        if word is None:
            continue
        hit = cache.get(word)
        if hit is None:
            hit = cache[word] = predicate(word)
        out[i] = hit
    return out


def language_flags(task: Task, words: Sequence[str | None]) -> np.ndarray:
    """Per-row :func:`~benchmark.verdicts.in_language` (bool ``[N]``)."""
    return _memo_flags(lambda w: in_language(task, w), words)


def rule_flags(task: Task, rule: str, words: Sequence[str | None]) -> np.ndarray:
    """Per-row :func:`~benchmark.verdicts.keeps_rule` for rule ``rule`` (bool ``[N]``)."""
    return _memo_flags(lambda w: keeps_rule(task.rules[rule], w), words)


def id_accuracy(task: Task, prompts: Sequence[str], completions: Completions) -> Ratio:
    return Ratio.of(language_flags(task, whole_words(prompts, completions, task.symbols)))


def ood_metrics(
    task: Task, prompts: Sequence[str], completable: dict[str, np.ndarray], completions: Completions
) -> tuple[Ratio, dict[str, Ratio], Ratio]:
    """(``ood_rule_extrapolation``, ``ood_rules``, ``ood_finished``) of OOD completions."""
    words = whole_words(prompts, completions, task.symbols)
    per_rule = {}
    for rule in task.rules:
        mask_N = np.asarray(completable[rule], dtype=bool)
        per_rule[rule] = Ratio.of(rule_flags(task, rule, words)[mask_N])
    return per_rule[task.keep_rule], per_rule, Ratio.of(completions.finished_N)


def length_extrapolation(task: Task, prompts: Sequence[str], completions: Completions) -> Ratio:
    doubled = task.resized(2 * task.size)
    return Ratio.of(language_flags(doubled, whole_words(prompts, completions, task.symbols)))


def sampled_rule_extrapolation(task: Task, prompts: Sequence[str], completions: Completions) -> Ratio:
    """Keep-rule verdicts of sampled rows (``prompts`` has one entry per row)."""
    return Ratio.of(rule_flags(task, task.keep_rule, whole_words(prompts, completions, task.symbols)))


def generation_accuracy(task: Task, completions: Completions) -> Ratio:
    """Samples from SOS (empty prompt) that are finished and in the language."""
    return Ratio.of(language_flags(task, whole_words([""] * len(completions), completions, task.symbols)))
