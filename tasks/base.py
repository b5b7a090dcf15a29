"""The task abstraction: a language as an intersection of named rules, plus one exact
next-token distribution from which everything probabilistic is derived.

A task module declares only:

* its alphabet (``symbols``), prompt length and size parameter;
* its rules (``Rule``: a predicate on a finished word and a *completable* predicate on
  a prefix) and which rule OOD prompts break / must keep;
* language membership (may be stricter than the rules' intersection, e.g. Dyck nesting,
  and always includes the length bounds of the size parameter);
* its data distribution as a tiny state machine: ``initial_state``, ``transition`` and
  ``distribution(state)`` (the exact next-token probabilities after a prefix of positive
  probability).

Sampling, ``token_log_probs``/``log_prob``, reachability of prefixes and the
Bayes-optimal loss are written once, here, on top of ``distribution`` — so they can
never disagree with each other.
"""

from __future__ import annotations

import abc
import bisect
import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rexbench.tasks.vocab import EOS, NUM_SPECIAL

State = Hashable


@dataclass(frozen=True)
class Rule:
    """A named rule of a language.

    ``holds(word)`` decides a finished word; ``completable(prefix)`` says whether some
    finite extension of ``prefix`` satisfies the rule (the empty extension included);
    ``complete(prefix)`` returns a shortest such extension (only called when
    completable). ``complete`` is what the ``oracle-keep`` reference model emits.
    """

    name: str
    description: str
    holds: Callable[[str], bool]
    completable: Callable[[str], bool]
    complete: Callable[[str], str]


class Task(abc.ABC):
    """Base class of every language of the suite. Subclasses are small and declarative."""

    name: ClassVar[str]
    symbols: ClassVar[str]
    prompt_length: ClassVar[int]
    size_name: ClassVar[str]  # e.g. "N" (max n) or "max_length" (max symbols)
    default_size: ClassVar[int]
    min_size: ClassVar[int] = 1
    keep_rule: ClassVar[str] = "R1"
    break_rule: ClassVar[str] = "R2"
    language_doc: ClassVar[str]  # the support, in words
    distribution_doc: ClassVar[str]  # the data distribution, in words

    def __init__(self, size: int | None = None) -> None:
        size = self.default_size if size is None else int(size)
        if size < self.min_size:
            raise ValueError(f"{self.name}: {self.size_name} must be >= {self.min_size}, got {size}")
        self.size = size
        self._probs_cache: dict[Hashable, np.ndarray] = {}
        self._cum_cache: dict[Hashable, tuple[list[int], list[float]]] = {}
        self.rules: dict[str, Rule] = {r.name: r for r in self.make_rules()}
        for role in (self.keep_rule, self.break_rule):
            if role not in self.rules:
                raise ValueError(f"{self.name}: rule {role} is not among {sorted(self.rules)}")

    # ------------------------------------------------------------------ per task
    @abc.abstractmethod
    def make_rules(self) -> Sequence[Rule]:
        """The named rules, in order R1, R2, …"""

    @abc.abstractmethod
    def in_language(self, word: str) -> bool:
        """Membership, including the length bounds set by the size parameter."""

    @property
    @abc.abstractmethod
    def max_word_length(self) -> int:
        """Length of the longest word of the support."""

    @abc.abstractmethod
    def initial_state(self) -> State:
        """State of the empty prefix."""

    @abc.abstractmethod
    def transition(self, state: State, symbol: str) -> State:
        """State after appending ``symbol``; only called on moves of positive probability."""

    @abc.abstractmethod
    def distribution(self, state: State) -> dict[str, float]:
        """Exact next-token probabilities after a positive-probability prefix.

        Keys are symbols and ``"$"`` for EOS; missing keys have probability 0.
        """

    def distribution_key(self, state: State) -> Hashable:
        """What ``distribution`` depends on (a cache key); override to share entries."""
        return state

    # ------------------------------------------------------------------ derived
    @property
    def vocab_size(self) -> int:
        return NUM_SPECIAL + len(self.symbols)

    @property
    def config(self) -> str:
        return f"{self.name}({self.size_name}={self.size})"

    def resized(self, size: int) -> Task:
        """The same language with another size parameter (length extrapolation uses 2x)."""
        return type(self)(size)

    def probs(self, state: State) -> np.ndarray:
        """``distribution(state)`` as a float64 vector over the whole vocabulary."""
        key = self.distribution_key(state)
        vec = self._probs_cache.get(key)
        if vec is None:
            vec = np.zeros(self.vocab_size, dtype=np.float64)
            for sym, p in self.distribution(state).items():
                vec[EOS if sym == "$" else NUM_SPECIAL + self.symbols.index(sym)] = p
            total = vec.sum()
            if not math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9):
                raise AssertionError(f"{self.config}: probabilities sum to {total} in state {state!r}")
            vec.setflags(write=False)
            self._probs_cache[key] = vec
        return vec

    def walk(self, prefix: str) -> State | None:
        """The state after ``prefix``, or None if the prefix has probability zero."""
        state = self.initial_state()
        for ch in prefix:
            idx = self.symbols.find(ch)
            if idx < 0 or self.probs(state)[NUM_SPECIAL + idx] <= 0.0:
                return None
            state = self.transition(state, ch)
        return state

    def next_probs(self, prefix: str) -> np.ndarray | None:
        """``p(· | prefix)`` over the vocabulary, or None for a zero-probability prefix."""
        state = self.walk(prefix)
        return None if state is None else self.probs(state)

    def is_reachable(self, prefix: str) -> bool:
        """True iff ``prefix`` is a prefix of positive probability."""
        return self.walk(prefix) is not None

    def token_log_probs(self, word: str) -> np.ndarray:
        """Natural-log probabilities of each target token (every symbol, then EOS).

        Entries are ``-inf`` from the first zero-probability token on.
        """
        out = np.full(len(word) + 1, -np.inf)
        state = self.initial_state()
        for i, ch in enumerate(word):
            idx = self.symbols.find(ch)
            p = self.probs(state)[NUM_SPECIAL + idx] if idx >= 0 else 0.0
            if p <= 0.0:
                return out
            out[i] = math.log(p)
            state = self.transition(state, ch)
        p_eos = self.probs(state)[EOS]
        out[-1] = math.log(p_eos) if p_eos > 0 else -np.inf
        return out

    def log_prob(self, word: str) -> float:
        """log p(word) under the data distribution (``-inf`` outside the support)."""
        return float(self.token_log_probs(word).sum())

    def nll_sum_count(self, words: Iterable[str]) -> tuple[float, int]:
        """Bayes-optimal loss as a (sum of nats, number of target tokens) pair."""
        total, count = 0.0, 0
        for word in words:
            lp = self.token_log_probs(word)
            total -= float(lp.sum())
            count += lp.size
        return total, count

    def rule_flags(self, word: str) -> dict[str, bool]:
        return {name: bool(rule.holds(word)) for name, rule in self.rules.items()}

    def completable_flags(self, prefix: str) -> dict[str, bool]:
        return {name: bool(rule.completable(prefix)) for name, rule in self.rules.items()}

    def _cumulative(self, state: State) -> tuple[list[int], list[float]]:
        key = self.distribution_key(state)
        hit = self._cum_cache.get(key)
        if hit is None:
            vec = self.probs(state)
            toks = [int(t) for t in np.flatnonzero(vec > 0)]
            hit = (toks, list(np.cumsum(vec[toks])))
            self._cum_cache[key] = hit
        return hit

    def sample_words(self, rng: np.random.Generator, count: int) -> list[str]:
        """``count`` i.i.d. words, drawn token by token from ``distribution``.

        One uniform per token slot is drawn up front (``count x (max_word_length+1)``),
        so the stream consumed is independent of the words drawn.
        """
        width = self.max_word_length + 1
        uniforms = rng.random((count, width))
        words = []
        # the per-token loop is the cost of building a split: names bound once, cache hits inline
        cache, key_of, cumulative, transition = self._cum_cache, self.distribution_key, self._cumulative, self.transition
        symbols, bisect_right = self.symbols, bisect.bisect_right
        for row in uniforms.tolist():
            state, chars = self.initial_state(), []
            for u in row:
                toks, cum = cache.get(key_of(state)) or cumulative(state)
                tok = toks[min(bisect_right(cum, u * cum[-1]), len(toks) - 1)]
                if tok == EOS:
                    break
                ch = symbols[tok - NUM_SPECIAL]
                chars.append(ch)
                state = transition(state, ch)
            else:
                raise AssertionError(f"{self.config}: sampled past max_word_length")
            words.append("".join(chars))
        return words

    def support(self, limit: int = 10_000) -> list[str]:
        """Every word of positive probability, in lexicographic order of token ids.

        The anchors' data setting (issue #13: aⁿbⁿ with N = 128 trained on its 128 words)
        is "train on the support, each word once" (``--train-set support``). A depth-first
        walk over positive-probability transitions; ValueError once more than ``limit``
        words exist (Dyck's support is astronomically large). Example: AnBn(3).support()
        is ``["aaabbb", "aabb", "ab"]`` (``a`` sorts before ``b``, EOS before both).
        """
        words: list[str] = []
        stack: list[tuple[str, State]] = [("", self.initial_state())]
        while stack:
            prefix, state = stack.pop()
            vec = self.probs(state)
            if vec[EOS] > 0:
                words.append(prefix)
                if len(words) > limit:
                    raise ValueError(f"{self.config} has more than {limit:,} words; "
                                     "train on its support only where it is small")
            # pushed in reverse so the smallest token id is expanded first
            for i in reversed(range(len(self.symbols))):
                if vec[NUM_SPECIAL + i] > 0:
                    ch = self.symbols[i]
                    stack.append((prefix + ch, self.transition(state, ch)))
        return words

    def describe_rules(self) -> list[str]:
        roles = {self.keep_rule: "keep", self.break_rule: "break"}
        return [
            f"{r.name}: {r.description}" + (f"  [{roles[r.name]}]" if r.name in roles else "")
            for r in self.rules.values()
        ]
