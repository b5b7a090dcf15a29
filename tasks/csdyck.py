"""csdyck: ``( )`` and ``[ ]`` each balanced, crossing allowed (e.g. ``([)]``).

Worked example (max_length = 64, prompt length 6):

* word ``([)]``: R1 (``[ ]`` balanced) and R2 (``( )`` balanced) hold; it is in the
  language although it is not well nested.
* ID prompt ``(([)[(``: a prefix of positive probability; ``]]))<eos>`` completes it.
* OOD prompt ``)[[(]]``: breaks R2 (a ``)`` closes nothing); R1 is already balanced and
  ``<eos>`` keeps it, whereas ``[<eos>`` breaks it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rexbench.tasks.base import Rule, Task
from rexbench.tasks.dyck import P_OPEN, P_STOP, bracket_rules


class CsDyck(Task):
    name = "csdyck"
    symbols = "()[]"
    prompt_length = 6
    size_name = "max_length"
    default_size = 64
    min_size = 2
    language_doc = "words in which ( ) and [ ] are each balanced (crossing allowed), 2 <= length <= max_length"
    distribution_doc = (
        f"A two-counter process over (#open parens p, #open brackets q). Nothing open: EOS with "
        f"probability {P_STOP} (never for the empty word), else open ( or [ equally. Something open, "
        f"with d = p + q open and r symbols left before max_length: if d = r close (forced), choosing "
        f"uniformly among the closers whose counter is positive; otherwise open ( or [ with probability "
        f"{P_OPEN}/2 each and close with probability {1 - P_OPEN}, split equally among the closers "
        f"whose counter is positive. When r = 0, EOS is forced."
    )

    def make_rules(self) -> Sequence[Rule]:
        return bracket_rules()

    def in_language(self, word: str) -> bool:
        return (
            2 <= len(word) <= self.size
            and set(word) <= set(self.symbols)
            and all(rule.holds(word) for rule in self.rules.values())
        )

    @property
    def max_word_length(self) -> int:
        return self.size - self.size % 2

    def initial_state(self) -> tuple[int, int, int]:
        return (0, 0, 0)  # (open parens, open brackets, length so far)

    def transition(self, state: tuple[int, int, int], symbol: str) -> tuple[int, int, int]:
        p, q, length = state
        dp, dq = {"(": (1, 0), ")": (-1, 0), "[": (0, 1), "]": (0, -1)}[symbol]
        return (p + dp, q + dq, length + 1)

    def distribution(self, state: tuple[int, int, int]) -> dict[str, float]:
        p, q, length = state
        depth, left = p + q, self.max_word_length - length
        if depth == 0:
            if left == 0:
                return {"$": 1.0}
            if length == 0:
                return {"(": 0.5, "[": 0.5}
            return {"$": P_STOP, "(": (1 - P_STOP) / 2, "[": (1 - P_STOP) / 2}
        closers = [c for c, n in ((")", p), ("]", q)) if n > 0]
        p_close = 1.0 if depth >= left else 1 - P_OPEN
        dist = {c: p_close / len(closers) for c in closers}
        if depth < left:
            dist.update({"(": P_OPEN / 2, "[": P_OPEN / 2})
        return dist
