"""aⁿbⁿ: n a's followed by n b's.

Worked example (N = 32, prompt length 8):

* word ``aaabbb`` (n = 3): R1 (#a = #b) holds, R2 (every a before every b) holds.
* ID prompt ``aaaaabbb``: a prefix of a⁵b⁵; its completion ``bb`` + EOS.
* OOD prompt ``abababab``: breaks R2 (a ``b`` comes before an ``a``); R1 is still
  completable, and the completion ``<eos>`` keeps it (#a = #b = 4), whereas
  ``bb<eos>`` would break it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rexbench.tasks.base import Rule, Task
from rexbench.tasks.rules import counts_equal, matches, top_up


class AnBn(Task):
    name = "anbn"
    symbols = "ab"
    prompt_length = 8
    size_name = "N"
    default_size = 32
    language_doc = "a^n b^n for 1 <= n <= N"
    distribution_doc = (
        "n uniform on 1..N. Next-token form: after a^k (no b yet) the next token is b with "
        "probability P(n = k | n >= k) = 1/(N-k+1), else a; then b's until #b = #a, then EOS."
    )

    def make_rules(self) -> Sequence[Rule]:
        return (
            Rule("R1", "#a = #b", lambda w: counts_equal(w, "ab"), lambda p: True, lambda p: top_up(p, "ab")),
            Rule(
                "R2",
                "every a before every b",
                lambda w: "ba" not in w,
                lambda p: "ba" not in p,
                lambda p: "",  # completable means it already holds
            ),
        )

    def in_language(self, word: str) -> bool:
        n = len(word) // 2
        return 1 <= n <= self.size and matches(f"a{{{n}}}b{{{n}}}", word)

    @property
    def max_word_length(self) -> int:
        return 2 * self.size

    def initial_state(self) -> tuple[int, int]:
        return (0, 0)  # (#a, #b)

    def transition(self, state: tuple[int, int], symbol: str) -> tuple[int, int]:
        na, nb = state
        return (na + 1, nb) if symbol == "a" else (na, nb + 1)

    def distribution(self, state: tuple[int, int]) -> dict[str, float]:
        na, nb = state
        if nb == 0:
            if na == 0:
                return {"a": 1.0}
            p_stop = 1.0 / (self.size - na + 1)  # P(n = na | n >= na)
            return {"a": 1.0 - p_stop, "b": p_stop} if p_stop < 1.0 else {"b": 1.0}
        return {"b": 1.0} if nb < na else {"$": 1.0}
