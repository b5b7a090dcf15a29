"""The capability metrics of SPEC §4.2, aggregated from per-prompt records as (successes, count).

Every metric is a :class:`Ratio`; the value is ``successes / count``, divided once, and
is None (JSON null) when the count is zero. :func:`aggregate` is the **one** definition
of every capability aggregate: scoring computes a result's counts with it from the
records it has just made, and the leaderboard recomputes them with it from the stored
records. The per-row verdicts are in :mod:`rexbench.benchmark.records` / :mod:`rexbench.benchmark.verdicts`.

The *headline prompts* are the OOD prompts whose keep rule is completable; the
*held-out half* is the headline prompts outside the split's ``regime`` half.

* ``id_accuracy``: ID prompts whose completion is finished and whose word is in the language.
* ``ood_rule_extrapolation`` (the headline): headline prompts whose completion is
  finished and whose word satisfies the keep rule.
* ``ood_finished``: headline prompts whose completion emitted EOS (a malformed but
  EOS-terminated completion counts as finished here).
* ``ood_rule_given_finished``: among the headline prompts whose completion finished,
  those whose word satisfies the keep rule. By construction
  ``ood_rule_extrapolation = ood_finished × ood_rule_given_finished`` exactly: the
  headline's successes are this metric's successes, the headline's count is
  ``ood_finished``'s count, and this metric's count is ``ood_finished``'s successes.
* ``ood_stop_rule``: headline prompts whose EOS-withheld decode, cut where the model's
  P(EOS) was highest, satisfies the keep rule (:mod:`rexbench.benchmark.stop_rule`).
* ``ood_rules[r]``: OOD prompts where rule ``r`` is completable whose completion is
  finished and satisfies ``r`` (``ood_rules[keep_rule]`` is the headline).
* ``length_extrapolation``: length prompts completed into a word of the doubled task.
* ``sampled_ood_rule_extrapolation``: every sample (16 per prompt) of the sampled subset
  that is finished and satisfies the keep rule; count = prompts × 16.
* ``generation_accuracy``: samples from SOS that are finished and in the language.
* ``heldout_*``: the four headline metrics above over the held-out half only.

Worked example (``anbn``, three headline prompts ``abababab`` ``aabbabab`` ``bbbbaaaa``
with completions ``$``, ``ab$`` and 128 a's): finished 1, 1, 0; the words ``abababab``
and ``aabbababab`` both have #a = #b. So ``ood_finished`` = 2/3,
``ood_rule_given_finished`` = 2/2 and ``ood_rule_extrapolation`` = 2/3 = 2/3 × 2/2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rexbench.benchmark.records import unflag
from rexbench.benchmark.subset import GENERATION_SAMPLES, SAMPLES_PER_PROMPT, sampled_prompt_indices
from rexbench.tasks import Task, get_split

HEADLINE_FAMILY: tuple[str, ...] = (
    "ood_rule_extrapolation", "ood_finished", "ood_rule_given_finished", "ood_stop_rule",
)
HELDOUT_KEYS: tuple[str, ...] = tuple(f"heldout_{k}" for k in HEADLINE_FAMILY)
CAPABILITY_KEYS: tuple[str, ...] = (
    "id_accuracy",
    *HEADLINE_FAMILY,
    "ood_rules",
    "length_extrapolation",
    "sampled_ood_rule_extrapolation",
    "generation_accuracy",
    *HELDOUT_KEYS,
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


@dataclass(frozen=True)
class PromptSets:
    """The row sets a task's aggregates are taken over (all bool masks over ``ood_prompts``)."""

    num_id: int
    num_length: int
    completable: dict[str, np.ndarray]
    headline: np.ndarray
    heldout: np.ndarray
    sampled_index: np.ndarray


@lru_cache(maxsize=None)
def _prompt_sets(task_name: str, size: int, task: Task, limit: int | None) -> PromptSets:
    ood = get_split(task, "ood_prompts")
    assert ood.completable is not None and ood.regime is not None
    cut = slice(None, limit)  # a smoke test (``--limit N``) keeps the first N rows of every prompt split
    completable = {r: np.asarray(v, dtype=bool)[cut] for r, v in ood.completable.items()}
    headline = completable[task.keep_rule]
    sampled = sampled_prompt_indices(task)
    return PromptSets(
        num_id=len(get_split(task, "id_prompts").words[cut]),
        num_length=len(get_split(task, "length_prompts").words[cut]),
        completable=completable,
        headline=headline,
        heldout=headline & ~np.asarray(ood.regime, dtype=bool)[cut],
        sampled_index=sampled if limit is None else sampled[sampled < limit],
    )


def prompt_sets(task: Task, limit: int | None = None) -> PromptSets:
    """The row sets of ``task`` (of its first ``limit`` prompts per split, for a smoke test)."""
    return _prompt_sets(task.name, task.size, task, limit)


def headline_family(finished_P: np.ndarray, keep_P: np.ndarray, stop_keep_P: np.ndarray) -> dict[str, Ratio]:
    """The four headline metrics over one set of headline prompts (aligned bool arrays)."""
    finished_P, keep_P = np.asarray(finished_P, bool), np.asarray(keep_P, bool)
    return {
        "ood_rule_extrapolation": Ratio.of(keep_P),
        "ood_finished": Ratio.of(finished_P),
        "ood_rule_given_finished": Ratio.of(keep_P[finished_P]),
        "ood_stop_rule": Ratio.of(stop_keep_P),
    }


def aggregate(task: Task, records: dict, limit: int | None = None) -> dict[str, Ratio | dict[str, Ratio]]:
    """Every capability metric from a result's ``records`` (layout of :mod:`rexbench.benchmark.records`).

    The records must already have the right number of rows (checked by
    :func:`rexbench.benchmark.records.check_records`). ``limit``: records of a smoke test
    (the first ``limit`` prompts of each split).
    """
    sets = prompt_sets(task, limit)
    ood = records["ood_prompts"]
    rule_N = {r: unflag(col) for r, col in ood["rules"].items()}
    finished_N = unflag(ood["finished"])
    stop_keep_N = np.zeros(finished_N.size, dtype=bool)
    stop_keep_N[np.asarray(records["ood_stop_rule"]["prompt_index"], dtype=np.int64)] = unflag(
        records["ood_stop_rule"]["keep"]
    )
    keep_N = rule_N[task.keep_rule]

    out: dict[str, Ratio | dict[str, Ratio]] = {
        "id_accuracy": Ratio.of(unflag(records["id_prompts"]["in_language"])),
    }
    out.update(headline_family(finished_N[sets.headline], keep_N[sets.headline], stop_keep_N[sets.headline]))
    out["ood_rules"] = {r: Ratio.of(rule_N[r][sets.completable[r]]) for r in task.rules}
    out["length_extrapolation"] = Ratio.of(unflag(records["length_prompts"]["in_language"]))
    out["sampled_ood_rule_extrapolation"] = Ratio.of(unflag(records["sampled_ood"]["keep"]))
    out["generation_accuracy"] = Ratio.of(unflag(records["generation"]["in_language"]))
    held = headline_family(finished_N[sets.heldout], keep_N[sets.heldout], stop_keep_N[sets.heldout])
    out.update({f"heldout_{k}": v for k, v in held.items()})
    return {k: out[k] for k in CAPABILITY_KEYS}


def values(ratios: dict[str, Ratio | dict[str, Ratio]]) -> dict[str, object]:
    """Metric values (``ood_rules`` nested by rule)."""
    return {k: ({r: x.value for r, x in v.items()} if isinstance(v, dict) else v.value) for k, v in ratios.items()}


def counts(ratios: dict[str, Ratio | dict[str, Ratio]]) -> dict[str, object]:
    """``{"successes", "count"}`` per metric (``ood_rules`` nested by rule)."""

    def pair(r: Ratio) -> dict[str, int]:
        return {"successes": r.successes, "count": r.count}

    return {k: ({r: pair(x) for r, x in v.items()} if isinstance(v, dict) else pair(v)) for k, v in ratios.items()}


def generation_count(limit: int | None = None) -> int:
    return GENERATION_SAMPLES if limit is None else min(limit, GENERATION_SAMPLES)


def expected_rows(task: Task, limit: int | None = None) -> dict[str, int]:
    """Number of rows of every record block for ``task`` (with ``limit``: a smoke test's)."""
    sets = prompt_sets(task, limit)
    return {
        "id_prompts": sets.num_id,
        "ood_prompts": int(sets.headline.size),
        "length_prompts": sets.num_length,
        "ood_stop_rule": int(sets.headline.sum()),
        "sampled_ood": int(sets.sampled_index.size) * SAMPLES_PER_PROMPT,
        "generation": generation_count(limit),
    }
