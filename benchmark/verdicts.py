"""Pure verdicts on single completions: no model, no JAX, unit-testable by hand.

A completion is the list of tokens a decoder generated after a prompt. It yields a
*whole word* (prompt + completion symbols) only when it is **finished** (EOS emitted
within the budget) and **well formed** (only symbol tokens before that EOS — an SOS,
PAD or out-of-vocabulary id before EOS makes it malformed). Unfinished and malformed
completions fail every capability verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

from rexbench.tasks import EOS, Rule, Task
from rexbench.tasks.vocab import NUM_SPECIAL


def completion_symbols(generated: Sequence[int], finished: bool, symbols: str) -> str | None:
    """The completion's symbols before its first EOS, or None if unfinished or malformed."""
    if not finished:
        return None
    chars = []
    for tok in generated:
        tok = int(tok)
        if tok == EOS:
            return "".join(chars)
        idx = tok - NUM_SPECIAL
        if not 0 <= idx < len(symbols):
            return None  # SOS, PAD or an unknown id before EOS: malformed
        chars.append(symbols[idx])
    return None  # flagged finished but no EOS present: treat as unfinished


def whole_word(prompt: str, generated: Sequence[int], finished: bool, symbols: str) -> str | None:
    """``prompt`` + completion symbols, or None if the completion fails (unfinished/malformed)."""
    completion = completion_symbols(generated, finished, symbols)
    return None if completion is None else prompt + completion


def in_language(task: Task, word: str | None) -> bool:
    """Verdict of ``id_accuracy``, ``generation_accuracy`` and (with the doubled task)
    ``length_extrapolation``: a whole word exists and is in the task's language."""
    return word is not None and bool(task.in_language(word))


def keeps_rule(rule: Rule, word: str | None) -> bool:
    """Verdict of ``ood_rule_extrapolation`` / ``ood_rules``: a whole word exists and satisfies the rule."""
    return word is not None and bool(rule.holds(word))
