"""Chance levels: what the uniform-random model scores on every capability metric.

The uniform-random model emits EOS and each symbol with equal probability at every
step (greedy decoding of :func:`rexbench.benchmark.reference.uniform` breaks its all-way tie
uniformly at random, so greedy and sampled decoding of it have this same law).
Chance levels are estimated by **Monte Carlo** with a fixed seed: a numpy PCG64 generator
per estimate, seeded from the SHA-256 of
``"rexbench/suite-<version>/<task config>/chance/<purpose>"`` (:func:`chance_rng`, the
scheme of the splits), independent of the scored model and of the run seed:

* prompt metrics: ``CHANCE_SAMPLES_PER_PROMPT`` (64) uniform completions (budget 128) of
  every prompt; the chance level is the mean over prompts (each in the metric's
  denominator) of the per-prompt success rate, with standard error
  ``sqrt(sum_p s_p^2 / S) / P`` (``s_p^2`` the unbiased per-prompt sample variance of
  the S = 64 Bernoulli outcomes, P prompts; the prompts themselves are fixed);
* ``sampled_ood_rule_extrapolation``: the same per-prompt rates, over the sampled subset;
* ``ood_rule_given_finished``: total keep-rule successes over total finished samples of
  the headline prompts (a ratio estimator, delta-method standard error);
* ``ood_stop_rule``: the uniform model's P(EOS) ties at every prefix, so its chosen
  prefix is uniform among the visited ones and its symbols are uniform: 64 such draws
  per headline prompt (:func:`_stop_rule_counts`);
* ``heldout_*``: the same estimates over the held-out half;
* ``generation_accuracy``: ``CHANCE_GENERATIONS`` (10,000) samples from SOS, standard
  error ``sqrt(p (1 - p) / n)``.

Completions are drawn directly (not through the decoder) and judged by the same task
predicates as real completions, so "the uniform model scores its own chance level" is an
end-to-end test of the decoder. Results are cached per task config in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rexbench.benchmark.decoding import BUDGET, Completions
from rexbench.benchmark.metrics import CAPABILITY_KEYS, prompt_sets
from rexbench.benchmark.progress import bar, bar_iter
from rexbench.tasks import EOS, PAD, Task, get_split
from rexbench.tasks.splits import split_rng
from rexbench.tasks.vocab import NUM_SPECIAL

CHANCE_SAMPLES_PER_PROMPT = 64
CHANCE_GENERATIONS = 10_000
_CHUNK_ROWS = 32_768

Nested = dict[str, "float | None | dict[str, float | None]"]


@dataclass(frozen=True)
class Estimate:
    value: float | None
    stderr: float | None


@dataclass(frozen=True)
class ChanceLevels:
    """Chance value and Monte-Carlo standard error of every capability metric."""

    estimates: dict[str, Estimate | dict[str, Estimate]]

    def _project(self, field: str) -> Nested:
        out: Nested = {}
        for key in CAPABILITY_KEYS:
            est = self.estimates[key]
            if isinstance(est, dict):
                out[key] = {r: getattr(e, field) for r, e in est.items()}
            else:
                out[key] = getattr(est, field)
        return out

    def values(self) -> Nested:
        return self._project("value")

    def stderrs(self) -> Nested:
        return self._project("stderr")


def chance_rng(task: Task, purpose: str) -> np.random.Generator:
    """The fixed generator of one chance estimate (PCG64 seeded from the SHA-256 of
    ``"rexbench/suite-<version>/<task config>/chance/<purpose>"``)."""
    return split_rng(task, "chance", f"/{purpose}")


def uniform_completions(rng: np.random.Generator, n_rows: int, num_symbols: int, budget: int = BUDGET) -> Completions:
    """``n_rows`` completions of the uniform-random model (EOS or a symbol, each w.p. 1/(k+1))."""
    draws_NL = rng.integers(0, num_symbols + 1, size=(n_rows, budget), dtype=np.int32)
    tokens_NL = np.where(draws_NL == 0, EOS, draws_NL + NUM_SPECIAL - 1).astype(np.int32)
    is_eos_NL = tokens_NL == EOS
    finished_N = is_eos_NL.any(axis=1)
    first_N = np.where(finished_N, is_eos_NL.argmax(axis=1), budget)
    tokens_NL[np.arange(budget)[None, :] > first_N[:, None]] = PAD
    return Completions(tokens_NL, finished_N)


def _fast_words(prompts: list[str], comps: Completions, symbols: str) -> list[str | None]:
    """Whole words of well-formed completions (uniform samples contain no SOS/PAD before EOS)."""
    mapping = bytearray(range(256))
    for i, ch in enumerate(symbols):
        mapping[NUM_SPECIAL + i] = ord(ch)
    table = bytes(mapping)
    codes_NL = comps.generated_NL.astype(np.uint8)
    first_N = np.where(comps.finished_N, (comps.generated_NL == EOS).argmax(axis=1), -1)
    words: list[str | None] = []
    for prompt, row, first in zip(prompts, codes_NL, first_N.tolist(), strict=True):
        words.append(None if first < 0 else prompt + row[:first].tobytes().translate(table).decode("ascii"))
    return words


def _rates(
    task: Task,
    prompts: tuple[str, ...],
    purpose: str,
    predicates: dict[str, tuple[Callable[[str], bool], np.ndarray | None]],
) -> dict[str, np.ndarray]:
    """Per-prompt Monte-Carlo success counts ``[P]`` of each named predicate on whole words.

    ``predicates[name] = (predicate, prompt_mask)``: the predicate is evaluated only on
    finished words of prompts in the mask (None = all); other prompts count 0. The
    special name ``"finished"`` counts finished completions.
    """
    S = CHANCE_SAMPLES_PER_PROMPT
    rng = chance_rng(task, purpose)
    counts = {name: np.zeros(len(prompts), dtype=np.int64) for name in predicates}
    caches: dict[str, dict[str, bool]] = {name: {} for name in predicates}
    per_chunk = max(1, _CHUNK_ROWS // S)
    pbar = bar(len(prompts), f"{task.name}: chance levels ({purpose})", "prompt")
    for start in range(0, len(prompts), per_chunk):
        chunk = prompts[start : start + per_chunk]
        comps = uniform_completions(rng, len(chunk) * S, len(task.symbols))
        words = _fast_words([p for p in chunk for _ in range(S)], comps, task.symbols)
        for name, (pred, mask_P) in predicates.items():
            flags_N = np.zeros(len(words), dtype=bool)
            rows = range(len(words)) if mask_P is None else (
                r for r in range(len(words)) if mask_P[start + r // S]
            )
            cache = caches[name]
            for r in rows:
                w = words[r]
                if w is not None:
                    hit = cache.get(w)
                    if hit is None:
                        hit = cache[w] = pred(w)
                    flags_N[r] = hit
            counts[name][start : start + len(chunk)] = flags_N.reshape(len(chunk), S).sum(axis=1)
        pbar.update(len(chunk))
    pbar.close()
    return counts


def _prompt_estimate(successes_P: np.ndarray, mask_P: np.ndarray | None = None) -> Estimate:
    S = CHANCE_SAMPLES_PER_PROMPT
    succ = successes_P if mask_P is None else successes_P[mask_P]
    if succ.size == 0:
        return Estimate(None, None)
    rate_P = succ / S
    var_P = rate_P * (1.0 - rate_P) * S / (S - 1)
    return Estimate(float(rate_P.mean()), float(np.sqrt(var_P.sum() / S) / succ.size))


def _ratio_estimate(successes_P: np.ndarray, finished_P: np.ndarray) -> Estimate:
    """Chance of a conditional metric (``ood_rule_given_finished``): total successes over
    total finished samples (a ratio estimator, successes counted only on finished
    samples), with the delta-method standard error ``sqrt(sum_p S var_p(x)) / F`` of
    ``x = 1[success] - R 1[finished]`` per sample."""
    S = CHANCE_SAMPLES_PER_PROMPT
    F = float(finished_P.sum())
    if F == 0:
        return Estimate(None, None)
    R = float(successes_P.sum()) / F
    k, f = successes_P.astype(np.float64), finished_P.astype(np.float64)
    mean_P = (k - R * f) / S
    second_P = (k * (1.0 - R) ** 2 + (f - k) * R**2) / S
    var_P = (second_P - mean_P**2) * S / (S - 1)
    return Estimate(R, float(np.sqrt(S * var_P.sum()) / F))


def _stop_rule_counts(task: Task, prompts: tuple[str, ...]) -> np.ndarray:
    """Per-prompt Monte-Carlo successes of ``ood_stop_rule`` for the uniform model.

    Its P(EOS) is the same at every prefix, so every visited prefix ties and the harness
    picks one uniformly at random; the symbols after the prompt (EOS withheld) are
    uniform. So a sample is: uniform symbols up to the maximum length, a cut uniform on
    ``P .. max length``, and the keep rule's verdict on that prefix."""
    S = CHANCE_SAMPLES_PER_PROMPT
    rng = chance_rng(task, "ood_stop_rule")
    keep = task.rules[task.keep_rule].holds
    out = np.zeros(len(prompts), dtype=np.int64)
    cache: dict[str, bool] = {}
    for i, prompt in enumerate(bar_iter(prompts, f"{task.name}: chance levels (ood_stop_rule)")):
        extra = task.max_word_length - len(prompt)
        draws_SL = rng.integers(0, len(task.symbols), size=(S, extra))
        cuts_S = rng.integers(0, extra + 1, size=S)
        for row, cut in zip(draws_SL.tolist(), cuts_S.tolist(), strict=True):
            word = prompt + "".join(task.symbols[j] for j in row[:cut])
            hit = cache.get(word)
            if hit is None:
                hit = cache[word] = bool(keep(word))
            out[i] += hit
    return out


def compute_chance(task: Task, limit: int | None = None) -> ChanceLevels:
    """Monte-Carlo chance levels of every capability metric of ``task`` (uncached; ``limit``:
    over the first ``limit`` prompts of each split, as a smoke test is scored)."""
    doubled = task.resized(2 * task.size)
    always = lambda w: True  # noqa: E731  (finished words only reach predicates)
    est: dict[str, Estimate | dict[str, Estimate]] = {}

    id_prompts = get_split(task, "id_prompts").words[:limit]
    rates = _rates(task, id_prompts, "id_prompts", {"lang": (task.in_language, None)})
    est["id_accuracy"] = _prompt_estimate(rates["lang"])

    ood_words = get_split(task, "ood_prompts").words[:limit]
    sets = prompt_sets(task, limit)
    preds = {r: (rule.holds, sets.completable[r]) for r, rule in task.rules.items()}
    preds["finished"] = (always, None)
    ood_counts = _rates(task, ood_words, "ood_prompts", preds)
    stop_P = np.zeros(len(ood_words), dtype=np.int64)
    index = np.flatnonzero(sets.headline)
    stop_P[index] = _stop_rule_counts(task, tuple(ood_words[i] for i in index))
    keep_P, fin_P = ood_counts[task.keep_rule], ood_counts["finished"]
    for prefix, mask in (("", sets.headline), ("heldout_", sets.heldout)):
        est[f"{prefix}ood_rule_extrapolation"] = _prompt_estimate(keep_P, mask)
        est[f"{prefix}ood_finished"] = _prompt_estimate(fin_P, mask)
        est[f"{prefix}ood_rule_given_finished"] = _ratio_estimate(keep_P[mask], fin_P[mask])
        est[f"{prefix}ood_stop_rule"] = _prompt_estimate(stop_P, mask)
    est["ood_rules"] = {r: _prompt_estimate(ood_counts[r], sets.completable[r]) for r in task.rules}

    length_prompts = get_split(task, "length_prompts").words[:limit]
    rates = _rates(task, length_prompts, "length_prompts", {"lang": (doubled.in_language, None)})
    est["length_extrapolation"] = _prompt_estimate(rates["lang"])

    est["sampled_ood_rule_extrapolation"] = _prompt_estimate(keep_P[sets.sampled_index])

    comps = uniform_completions(chance_rng(task, "generation"), CHANCE_GENERATIONS, len(task.symbols))
    words = _fast_words([""] * CHANCE_GENERATIONS, comps, task.symbols)
    p = float(np.mean([w is not None and bool(task.in_language(w)) for w in words]))
    est["generation_accuracy"] = Estimate(p, float(np.sqrt(p * (1.0 - p) / CHANCE_GENERATIONS)))
    return ChanceLevels({k: est[k] for k in CAPABILITY_KEYS})


_CACHE: dict[str, ChanceLevels] = {}


def chance_levels(task: Task, limit: int | None = None) -> ChanceLevels:
    """:func:`compute_chance`, cached per (task config, limit) for the life of the process."""
    key = task.config if limit is None else f"{task.config}/limit={limit}"
    hit = _CACHE.get(key)
    if hit is None:
        hit = _CACHE[key] = compute_chance(task, limit)
    return hit
