"""Chance levels: what the uniform-random model scores on every capability metric.

The uniform-random model emits EOS and each symbol with equal probability at every
step (greedy decoding of :func:`benchmark.reference.uniform` breaks its all-way tie
uniformly at random, so greedy and sampled decoding of it have this same law).
Chance levels are estimated by **Monte Carlo** with a fixed key
(``derive_key(CHANCE_SEED, "chance/<split>")``), independent of the scored model and of
the run seed:

* prompt metrics: ``CHANCE_SAMPLES_PER_PROMPT`` (64) uniform completions (budget 128) of
  every prompt; the chance level is the mean over prompts (each in the metric's
  denominator) of the per-prompt success rate, with standard error
  ``sqrt(sum_p s_p^2 / S) / P`` (``s_p^2`` the unbiased per-prompt sample variance of
  the S = 64 Bernoulli outcomes, P prompts; the prompts themselves are fixed);
* ``sampled_ood_rule_extrapolation``: the same per-prompt rates, over the sampled subset;
* ``generation_accuracy``: ``CHANCE_GENERATIONS`` (10,000) samples from SOS, standard
  error ``sqrt(p (1 - p) / n)``.

Completions are drawn directly (not through the decoder), and scored by the same verdict
functions as real completions, so "the uniform model scores its own chance level" is an
end-to-end test of the decoder. Results are cached per task config in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.decoding import BUDGET, Completions
from benchmark.metrics import CAPABILITY_KEYS
from benchmark.sampling import derive_key
from benchmark.subset import sampled_prompt_indices
from tasks import EOS, PAD, Task, get_split
from tasks.vocab import NUM_SPECIAL

CHANCE_SEED = 0
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


def uniform_completions(key: jax.Array, n_rows: int, num_symbols: int, budget: int = BUDGET) -> Completions:
    """``n_rows`` completions of the uniform-random model (EOS or a symbol, each w.p. 1/(k+1))."""
    draws_NL = np.asarray(jax.random.randint(key, (n_rows, budget), 0, num_symbols + 1, dtype=jnp.int32))
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
    task: Task, prompts: tuple[str, ...], purpose: str, predicates: dict[str, Callable[[str | None], bool]]
) -> dict[str, np.ndarray]:
    """Per-prompt Monte-Carlo success counts ``[P]`` for each named predicate on whole words."""
    S = CHANCE_SAMPLES_PER_PROMPT
    key = derive_key(CHANCE_SEED, f"chance/{purpose}")
    counts = {name: np.zeros(len(prompts), dtype=np.int64) for name in predicates}
    caches: dict[str, dict[str | None, bool]] = {name: {None: False} for name in predicates}
    prompts_per_chunk = max(1, _CHUNK_ROWS // S)
    for c, start in enumerate(range(0, len(prompts), prompts_per_chunk)):
        chunk = prompts[start : start + prompts_per_chunk]
        comps = uniform_completions(jax.random.fold_in(key, c), len(chunk) * S, len(task.symbols))
        words = _fast_words([p for p in chunk for _ in range(S)], comps, task.symbols)
        for name, pred in predicates.items():
            cache = caches[name]
            flags = np.fromiter((cache[w] if w in cache else cache.setdefault(w, pred(w)) for w in words), bool, len(words))
            counts[name][start : start + len(chunk)] = flags.reshape(len(chunk), S).sum(axis=1)
    return counts


def _prompt_estimate(successes_P: np.ndarray, mask_P: np.ndarray | None = None) -> Estimate:
    S = CHANCE_SAMPLES_PER_PROMPT
    succ = successes_P if mask_P is None else successes_P[mask_P]
    if succ.size == 0:
        return Estimate(None, None)
    rate_P = succ / S
    var_P = rate_P * (1.0 - rate_P) * S / (S - 1)
    return Estimate(float(rate_P.mean()), float(np.sqrt(var_P.sum() / S) / succ.size))


def compute_chance(task: Task) -> ChanceLevels:
    """Monte-Carlo chance levels of every capability metric of ``task`` (uncached)."""
    from benchmark.verdicts import in_language, keeps_rule  # local: keep import graph flat

    doubled = task.resized(2 * task.size)
    est: dict[str, Estimate | dict[str, Estimate]] = {}

    id_prompts = get_split(task, "id_prompts").words
    est["id_accuracy"] = _prompt_estimate(_rates(task, id_prompts, "id_prompts", {"lang": lambda w: in_language(task, w)})["lang"])

    ood = get_split(task, "ood_prompts")
    assert ood.completable is not None
    rule_preds = {r: (lambda w, rule=rule: keeps_rule(rule, w)) for r, rule in task.rules.items()}
    rule_preds["finished"] = lambda w: True  # only reached for finished (non-None) words
    ood_counts = _rates(task, ood.words, "ood_prompts", rule_preds)
    per_rule = {r: _prompt_estimate(ood_counts[r], np.asarray(ood.completable[r], bool)) for r in task.rules}
    est["ood_rule_extrapolation"] = per_rule[task.keep_rule]
    est["ood_rules"] = per_rule
    est["ood_finished"] = _prompt_estimate(ood_counts["finished"])

    length_prompts = get_split(task, "length_prompts").words
    est["length_extrapolation"] = _prompt_estimate(
        _rates(task, length_prompts, "length_prompts", {"lang": lambda w: in_language(doubled, w)})["lang"]
    )

    subset = sampled_prompt_indices(task)
    est["sampled_ood_rule_extrapolation"] = _prompt_estimate(ood_counts[task.keep_rule][subset])

    comps = uniform_completions(derive_key(CHANCE_SEED, "chance/generation"), CHANCE_GENERATIONS, len(task.symbols))
    words = _fast_words([""] * CHANCE_GENERATIONS, comps, task.symbols)
    p = float(np.mean([in_language(task, w) for w in words]))
    est["generation_accuracy"] = Estimate(p, float(np.sqrt(p * (1.0 - p) / CHANCE_GENERATIONS)))
    return ChanceLevels(est)


_CACHE: dict[str, ChanceLevels] = {}


def chance_levels(task: Task) -> ChanceLevels:
    """:func:`compute_chance`, cached per task config for the life of the process."""
    hit = _CACHE.get(task.config)
    if hit is None:
        hit = _CACHE[task.config] = compute_chance(task)
    return hit
