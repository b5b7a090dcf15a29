"""Runs every decode of SPEC §4 for one model on one task and scores the completions.

Decodes (buffer width :func:`benchmark.decoding.decode_width`: one for the length prompts,
one shared by all the other decodes):

==============================  ========  ====================================  =====================
metric                          decoding  rows                                  key purpose
==============================  ========  ====================================  =====================
id_accuracy                     greedy    every ID prompt                       ``greedy/id_prompts``
ood_* (rule extrapolation …)    greedy    every OOD prompt                      ``greedy/ood_prompts``
length_extrapolation            greedy    every length prompt                   ``greedy/length_prompts``
sampled_ood_rule_extrapolation  T = 1     16 × the sampled subset (≤ 256)       ``sampled/ood_prompts``
generation_accuracy             T = 1     1,000 × SOS                           ``sampled/generation``
==============================  ========  ====================================  =====================

Keys derive from the run seed (:func:`benchmark.sampling.derive_key`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark import metrics
from benchmark.decoding import Completions, decode, decode_width, repeat_rows
from benchmark.metrics import Ratio
from benchmark.protocol import ScorableModel
from benchmark.sampling import derive_key
from benchmark.subset import SAMPLES_PER_PROMPT, sampled_prompt_indices
from tasks import SOS, Task, get_split

GENERATION_SAMPLES = 1_000


@dataclass(frozen=True)
class CapabilityScores:
    """Every capability metric as a :class:`Ratio` (``ood_rules`` as a dict by rule)."""

    id_accuracy: Ratio
    ood_rule_extrapolation: Ratio
    ood_rules: dict[str, Ratio]
    ood_finished: Ratio
    length_extrapolation: Ratio
    sampled_ood_rule_extrapolation: Ratio
    generation_accuracy: Ratio

    def values(self) -> dict[str, float | None | dict[str, float | None]]:
        """Metric values in ``CAPABILITY_KEYS`` order (``ood_rules`` nested)."""
        out: dict[str, float | None | dict[str, float | None]] = {}
        for key in metrics.CAPABILITY_KEYS:
            ratio = getattr(self, key)
            out[key] = {r: v.value for r, v in ratio.items()} if isinstance(ratio, dict) else ratio.value
        return out

    def counts(self) -> dict[str, object]:
        """``{"successes": s, "count": n}`` per metric (``ood_rules`` nested by rule)."""

        def pair(r: Ratio) -> dict[str, int]:
            return {"successes": r.successes, "count": r.count}

        out: dict[str, object] = {}
        for key in metrics.CAPABILITY_KEYS:
            ratio = getattr(self, key)
            out[key] = {r: pair(v) for r, v in ratio.items()} if isinstance(ratio, dict) else pair(ratio)
        return out


def greedy_split(model: ScorableModel, task: Task, split: str, seed: int, width: int | None = None) -> Completions:
    """Greedy completions of every prompt of a prompt split."""
    s = get_split(task, split)
    if width is None:
        width = decode_width(task, ("length_prompts",)) if split == "length_prompts" else decode_width(task)
    return decode(model, s.tokens(), s.lengths, key=derive_key(seed, f"greedy/{split}"), greedy=True, width=width)


def sampled_ood(model: ScorableModel, task: Task, seed: int, width: int | None = None) -> tuple[np.ndarray, Completions]:
    """(prompt index per row, completions): ``SAMPLES_PER_PROMPT`` samples of each subset prompt."""
    width = decode_width(task) if width is None else width
    s = get_split(task, "ood_prompts")
    idx = sampled_prompt_indices(task)
    prompts_NP, lengths_N = repeat_rows(s.tokens()[idx], s.lengths[idx], SAMPLES_PER_PROMPT)
    comps = decode(model, prompts_NP, lengths_N, key=derive_key(seed, "sampled/ood_prompts"), greedy=False, width=width)
    return np.repeat(idx, SAMPLES_PER_PROMPT), comps


def generations(model: ScorableModel, seed: int, width: int, count: int = GENERATION_SAMPLES) -> Completions:
    """``count`` temperature-1 samples from SOS."""
    prompts_N1 = np.full((count, 1), SOS, dtype=np.int32)
    lengths_N = np.ones(count, dtype=np.int32)
    return decode(model, prompts_N1, lengths_N, key=derive_key(seed, "sampled/generation"), greedy=False, width=width)


def score_capabilities(model: ScorableModel, task: Task, seed: int) -> CapabilityScores:
    """All capability metrics of ``model`` on ``task`` with the run ``seed``."""
    width = decode_width(task)
    id_split = get_split(task, "id_prompts")
    ood_split = get_split(task, "ood_prompts")
    len_split = get_split(task, "length_prompts")
    assert ood_split.completable is not None

    id_acc = metrics.id_accuracy(task, id_split.words, greedy_split(model, task, "id_prompts", seed, width))
    ood_keep, ood_rules, ood_fin = metrics.ood_metrics(
        task, ood_split.words, ood_split.completable, greedy_split(model, task, "ood_prompts", seed, width)
    )
    length = metrics.length_extrapolation(task, len_split.words, greedy_split(model, task, "length_prompts", seed))
    rows_idx, sampled = sampled_ood(model, task, seed, width)
    sampled_ratio = metrics.sampled_rule_extrapolation(task, [ood_split.words[i] for i in rows_idx], sampled)
    gen = metrics.generation_accuracy(task, generations(model, seed, width))
    return CapabilityScores(id_acc, ood_keep, ood_rules, ood_fin, length, sampled_ratio, gen)
