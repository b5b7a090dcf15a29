"""Reusable rule predicates (pure functions on strings), shared by the task modules."""

from __future__ import annotations

import re


def counts_equal(word: str, chars: str) -> bool:
    """True iff every character of ``chars`` occurs equally often in ``word``."""
    return len({word.count(c) for c in chars}) == 1


def matches(pattern: str, word: str) -> bool:
    return re.fullmatch(pattern, word) is not None


def max_deficit(word: str, opener: str, closer: str) -> tuple[int, int]:
    """Scan the (opener, closer) projection: returns (lowest running depth, final depth)."""
    depth = lowest = 0
    for ch in word:
        if ch == opener:
            depth += 1
        elif ch == closer:
            depth -= 1
            lowest = min(lowest, depth)
    return lowest, depth


def balanced(word: str, opener: str, closer: str) -> bool:
    """The projection on ``opener``/``closer`` is a well-nested bracket word."""
    lowest, final = max_deficit(word, opener, closer)
    return lowest == 0 and final == 0


def balance_completable(prefix: str, opener: str, closer: str) -> bool:
    """Some extension balances the projection iff no prefix of it closes too much."""
    return max_deficit(prefix, opener, closer)[0] == 0


def top_up(prefix: str, chars: str) -> str:
    """Shortest extension giving every character of ``chars`` the same count: raise each
    count to the current maximum (in ``chars`` order, so a-block before b-block...)."""
    top = max(prefix.count(c) for c in chars)
    return "".join(c * (top - prefix.count(c)) for c in chars)
