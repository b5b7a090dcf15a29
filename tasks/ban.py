"""ban: a leading b followed by any {a, b}-string with an even number of a's.

Worked example (max_length = 64, prompt length 8):

* word ``babbab`` : R1 (#a even) holds (two a's), R2 (starts with b) holds.
* ID prompt ``baabbbab``: a prefix of positive probability (three a's so far); a
  completion such as ``a<eos>`` ends it in the language.
* OOD prompt ``abbbbbbb``: breaks R2 (starts with a); R1 is still completable, and the
  completion ``a<eos>`` keeps it (two a's), whereas ``<eos>`` breaks it (one a).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from rexbench.tasks.base import Rule, Task


def log_binomial_table(n_max: int) -> np.ndarray:
    """``lf[n] = log n!`` for n in 0..n_max (float64)."""
    return np.array([math.lgamma(n + 1) for n in range(n_max + 1)])


class BAn(Task):
    name = "ban"
    symbols = "ab"
    prompt_length = 8
    size_name = "max_length"
    default_size = 64
    language_doc = "b w, w any {a,b}-string with an even number of a's; 1 <= length <= max_length"
    distribution_doc = (
        "Length l uniform on 1..max_length; number of a's 2k with k uniform on 0..floor((l-1)/2); "
        "the arrangement of the l-1 symbols after the leading b uniform among the C(l-1, 2k). "
        "Next-token form: the exact posterior over (l, k) given the prefix (computed on a grid)."
    )

    def make_rules(self) -> Sequence[Rule]:
        return (
            Rule("R1", "#a is even", lambda w: w.count("a") % 2 == 0, lambda p: True, lambda p: "a" * (p.count("a") % 2)),
            Rule(
                "R2",
                "starts with b",
                lambda w: w.startswith("b"),
                lambda p: p == "" or p.startswith("b"),
                lambda p: "" if p else "b",
            ),
        )

    def in_language(self, word: str) -> bool:
        return (
            1 <= len(word) <= self.size
            and word.startswith("b")
            and set(word) <= {"a", "b"}
            and word.count("a") % 2 == 0
        )

    @property
    def max_word_length(self) -> int:
        return self.size

    @cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Prior weight of each (l, k) and the log-factorial table."""
        ls = np.arange(1, self.size + 1)[:, None]
        ks = np.arange(0, self.size // 2 + 1)[None, :]
        n_k = (ls - 1) // 2 + 1
        prior = np.where(ks < n_k, 1.0 / (self.size * n_k), 0.0)
        return ls, ks, prior, log_binomial_table(self.size + 1)

    def initial_state(self) -> tuple[int, int]:
        return (-1, 0)  # (#symbols after the leading b, #a among them); -1: nothing yet

    def transition(self, state: tuple[int, int], symbol: str) -> tuple[int, int]:
        i, j = state
        return (i + 1, j + (symbol == "a"))

    def distribution(self, state: tuple[int, int]) -> dict[str, float]:
        i, j = state
        if i < 0:
            return {"b": 1.0}
        ls, ks, prior, lf = self._grid
        rest = ls - 1 - i  # symbols still to come after the prefix
        rest_a = 2 * ks - j  # a's still to come
        ok = (prior > 0) & (rest >= 0) & (rest_a >= 0) & (rest_a <= rest)
        rest_c, rest_a_c = np.clip(rest, 0, None), np.clip(rest_a, 0, None)
        # P(prefix | l, k) = C(rest, rest_a) / C(l-1, 2k): uniform arrangements.
        log_lik = (lf[rest_c] - lf[rest_a_c] - lf[np.clip(rest_c - rest_a_c, 0, None)]) - (
            lf[ls - 1] - lf[2 * ks.clip(0, None)] - lf[np.clip(ls - 1 - 2 * ks, 0, None)]
        )
        w = np.where(ok, prior * np.exp(np.where(ok, log_lik, 0.0)), 0.0)
        total = w.sum()
        p_eos = w[(rest == 0) & ok].sum() / total
        frac_a = np.where(ok & (rest > 0), rest_a / np.maximum(rest, 1), 0.0)
        p_a = (w * frac_a).sum() / total
        p_b = max(0.0, 1.0 - p_eos - p_a)
        return {k: float(v) for k, v in (("$", p_eos), ("a", p_a), ("b", p_b)) if v > 0}
