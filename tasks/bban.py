"""bban: b^k a^(2m) — a block of b's followed by an even block of a's.

Worked example (max_length = 64, prompt length 8):

* word ``bbbaa`` (k = 3, m = 1): R1 (#a even) holds, R2 (all b's before all a's, at
  least one b) holds.
* ID prompt ``bbbbbaaa``: a prefix of b⁵a⁴; its completion ``a<eos>``.
* OOD prompt ``bababbba``: breaks R2 (an a before a b); it has three a's, so R1 is
  still completable: ``a<eos>`` keeps it (four a's), whereas ``<eos>`` and ``b<eos>``
  break it (three a's).

Why this keep rule (suite v2). Suite v1's keep rule was "#a after the last b is even".
Every word of the language satisfies it, but so does *any* word that ends in ``b``:
the completion ``b<eos>`` restarts the pattern and satisfies it whatever the prompt
was, so a constant policy scored 1.000. R1 is now "#a is even" (over the whole word):

* every word b^k a^(2m) satisfies it (it has 2m a's);
* every prefix leaves it completable (append one ``a`` when the count is odd), so no
  OOD prompt is excluded from the headline;
* no completion satisfies it by restarting: appending a ``b`` never changes the parity
  of #a, so a completion must depend on the parity of the prompt's a's. Any constant
  completion is right on exactly the prompts of one parity (about half of them), while
  ``oracle-keep`` is right on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from rexbench.tasks.base import Rule, Task
from rexbench.tasks.rules import matches


class BBAn(Task):
    name = "bban"
    symbols = "ab"
    prompt_length = 8
    size_name = "max_length"
    default_size = 64
    language_doc = "b^k a^(2m), k >= 1, m >= 0, 1 <= length <= max_length"
    distribution_doc = (
        "Length l uniform on 1..max_length; 2m with m uniform on 0..floor((l-1)/2); k = l - 2m. "
        "Next-token form: the exact posterior over (l, m) given the prefix."
    )

    def make_rules(self) -> Sequence[Rule]:
        return (
            Rule(
                "R1",
                "#a is even",
                lambda w: w.count("a") % 2 == 0,
                lambda p: True,
                lambda p: "a" * (p.count("a") % 2),
            ),
            Rule(
                "R2",
                "all b's before all a's, at least one b (word in b+a*)",
                lambda w: matches("b+a*", w),
                lambda p: matches("(b+a*)?", p),
                lambda p: "" if p else "b",
            ),
        )

    def in_language(self, word: str) -> bool:
        return 1 <= len(word) <= self.size and matches("b+(aa)*", word)

    @property
    def max_word_length(self) -> int:
        return self.size

    @cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Number of b's k, number of a's 2m and prior weight of each (l, m)."""
        ls = np.arange(1, self.size + 1)[:, None]
        ms = np.arange(0, self.size // 2 + 1)[None, :]
        n_m = (ls - 1) // 2 + 1
        prior = np.where(ms < n_m, 1.0 / (self.size * n_m), 0.0)
        return ls - 2 * ms, np.broadcast_to(2 * ms, prior.shape), prior

    def initial_state(self) -> tuple[int, int]:
        return (0, 0)  # (#b, #a)

    def transition(self, state: tuple[int, int], symbol: str) -> tuple[int, int]:
        nb, na = state
        return (nb + 1, na) if symbol == "b" else (nb, na + 1)

    def distribution(self, state: tuple[int, int]) -> dict[str, float]:
        nb, na = state
        k, two_m, w = self._grid
        if na == 0:
            w_b = w[k > nb].sum()
            w_a = w[(k == nb) & (two_m > 0)].sum()
            w_eos = w[(k == nb) & (two_m == 0)].sum()
        else:
            w_b = 0.0
            w_a = w[(k == nb) & (two_m > na)].sum()
            w_eos = w[(k == nb) & (two_m == na)].sum()
        total = w_a + w_b + w_eos
        return {s: float(v / total) for s, v in (("$", w_eos), ("a", w_a), ("b", w_b)) if v > 0}
