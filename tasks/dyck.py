"""Dyck: well-nested words over two bracket pairs ``( )`` and ``[ ]``.

Worked example (max_length = 64, prompt length 6):

* word ``([])[]``: R1 (``[ ]`` balanced, ignoring parentheses) holds, R2 (``( )``
  balanced, ignoring brackets) holds, and it is well nested, so it is in the language.
* ID prompt ``(([]([``: a prefix of positive probability; ``])))<eos>`` completes it.
* OOD prompt ``[))(((``: breaks R2 (a ``)`` closes nothing); R1 is still completable,
  and ``]<eos>`` keeps it, whereas ``<eos>`` breaks it (the ``[`` stays open).
"""

from __future__ import annotations

from collections.abc import Sequence

from rexbench.tasks.base import Rule, Task
from rexbench.tasks.rules import balance_completable, balanced, max_deficit

P_STOP = 0.2  # probability of EOS whenever the stack is empty (and the word non-empty)
P_OPEN = 0.5  # probability of opening (either pair, equally) when the stack is non-empty
PAIRS = {")": "(", "]": "["}


def bracket_rules() -> tuple[Rule, Rule]:
    """R1/R2 shared by both Dyck-style tasks."""
    return (
        Rule(
            "R1",
            "[ ] balanced (ignoring parentheses)",
            lambda w: balanced(w, "[", "]"),
            lambda p: balance_completable(p, "[", "]"),
            lambda p: "]" * max_deficit(p, "[", "]")[1],
        ),
        Rule(
            "R2",
            "( ) balanced (ignoring brackets)",
            lambda w: balanced(w, "(", ")"),
            lambda p: balance_completable(p, "(", ")"),
            lambda p: ")" * max_deficit(p, "(", ")")[1],
        ),
    )


def well_nested(word: str) -> bool:
    stack: list[str] = []
    for ch in word:
        if ch in "([":
            stack.append(ch)
        elif not stack or stack.pop() != PAIRS.get(ch):
            return False
    return not stack


class Dyck(Task):
    name = "dyck"
    symbols = "()[]"
    prompt_length = 6
    size_name = "max_length"
    default_size = 64
    min_size = 2
    language_doc = "well-nested words over ( ) [ ], 2 <= length <= max_length"
    distribution_doc = (
        f"A stack process. Empty stack: EOS with probability {P_STOP} (never for the empty word), "
        f"else open ( or [ with equal probability. Non-empty stack of depth d with r symbols left "
        f"before max_length: if d = r the top is closed (forced); otherwise open ( or [ with "
        f"probability {P_OPEN}/2 each, close the top with probability {1 - P_OPEN}. When r = 0 "
        f"(stack necessarily empty) EOS is forced."
    )

    def make_rules(self) -> Sequence[Rule]:
        return bracket_rules()

    def in_language(self, word: str) -> bool:
        return 2 <= len(word) <= self.size and set(word) <= set(self.symbols) and well_nested(word)

    @property
    def max_word_length(self) -> int:
        return self.size - self.size % 2

    def initial_state(self) -> tuple[str, int]:
        return ("", 0)  # (stack of open symbols, length so far)

    def transition(self, state: tuple[str, int], symbol: str) -> tuple[str, int]:
        stack, length = state
        return (stack + symbol if symbol in "([" else stack[:-1], length + 1)

    def distribution_key(self, state: tuple[str, int]) -> tuple[int, int, str]:
        stack, length = state
        return (len(stack), length, stack[-1:])

    def distribution(self, state: tuple[str, int]) -> dict[str, float]:
        stack, length = state
        depth, left = len(stack), self.max_word_length - length
        if depth == 0:
            if left == 0:
                return {"$": 1.0}
            opens = {"(": 0.5, "[": 0.5}
            if length == 0:
                return opens
            return {"$": P_STOP, **{s: p * (1 - P_STOP) for s, p in opens.items()}}
        close = ")" if stack[-1] == "(" else "]"
        if depth >= left:
            return {close: 1.0}
        return {"(": P_OPEN / 2, "[": P_OPEN / 2, close: 1 - P_OPEN}
