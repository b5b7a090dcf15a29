"""aⁿbⁿcⁿ: an a-block, a b-block and a c-block of equal length.

Worked example (N = 21, prompt length 5):

* word ``aabbcc`` (n = 2): R1 (#a = #b = #c) holds, R2 (a-block, b-block, c-block) holds.
* ID prompt ``aaabb``: a prefix of a³b³c³; its completion ``bccc`` + EOS.
* OOD prompt ``abcab``: breaks R2; R1 is completable, and ``c<eos>`` keeps it
  (giving ``abcabc``: two of each), whereas ``<eos>`` breaks it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rexbench.tasks.base import Rule, Task
from rexbench.tasks.rules import counts_equal, matches, top_up


class AnBnCn(Task):
    name = "anbncn"
    symbols = "abc"
    prompt_length = 5
    size_name = "N"
    default_size = 21
    language_doc = "a^n b^n c^n for 1 <= n <= N"
    distribution_doc = (
        "n uniform on 1..N. Next-token form: after a^k (no b yet) the next token is b with "
        "probability 1/(N-k+1), else a; then b's until #b = #a, c's until #c = #a, then EOS."
    )

    def make_rules(self) -> Sequence[Rule]:
        blocks = "a*b*c*"
        return (
            Rule("R1", "#a = #b = #c", lambda w: counts_equal(w, "abc"), lambda p: True, lambda p: top_up(p, "abc")),
            Rule(
                "R2",
                "a-block, then b-block, then c-block (word in a*b*c*)",
                lambda w: matches(blocks, w),
                lambda p: matches(blocks, p),
                lambda p: "",  # completable means it already holds
            ),
        )

    def in_language(self, word: str) -> bool:
        n = len(word) // 3
        return len(word) == 3 * n and 1 <= n <= self.size and matches(f"a{{{n}}}b{{{n}}}c{{{n}}}", word)

    @property
    def max_word_length(self) -> int:
        return 3 * self.size

    def initial_state(self) -> tuple[int, int, int]:
        return (0, 0, 0)  # (#a, #b, #c)

    def transition(self, state: tuple[int, int, int], symbol: str) -> tuple[int, int, int]:
        na, nb, nc = state
        return {"a": (na + 1, nb, nc), "b": (na, nb + 1, nc), "c": (na, nb, nc + 1)}[symbol]

    def distribution(self, state: tuple[int, int, int]) -> dict[str, float]:
        na, nb, nc = state
        if nb == 0:
            if na == 0:
                return {"a": 1.0}
            p_stop = 1.0 / (self.size - na + 1)
            return {"a": 1.0 - p_stop, "b": p_stop} if p_stop < 1.0 else {"b": 1.0}
        if nb < na:
            return {"b": 1.0}
        return {"c": 1.0} if nc < na else {"$": 1.0}
