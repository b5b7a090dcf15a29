"""The reference models of SPEC §6: the oracles, the trivial policies and ``uniform``.

Oracles and trivial policies are host models. On every prefix of positive probability
they output ``log p(· | prefix)`` from ``task.probs`` (so their test loss is the optimal
loss: excess exactly 0), with ``ZERO_LOGIT`` (a large finite negative) for tokens of
probability zero and for SOS/PAD. They differ only on prefixes of probability zero,
where they are one-hot (logit 0 on one token, ``ZERO_LOGIT`` elsewhere) unless stated:

* ``oracle-keep`` emits the next symbol of ``keep_rule.complete(word_so_far)``; when that
  completion is empty (the keep rule holds) it puts logit 0 on EOS and
  ``FALLBACK_LOGIT`` (-8) on every symbol after which the keep rule stays completable, so
  greedy decoding stops there and EOS-withheld decoding (``ood_stop_rule``) continues
  without ever leaving the rule's reach (its P(EOS) is highest exactly on the prefixes
  where the rule holds: ``ood_stop_rule`` = 1). EOS when the keep rule is no longer
  completable;
* ``oracle-break`` emits EOS when the word so far already violates the keep rule, else
  the first symbol (in alphabet order) after which it is violated (EOS if no symbol
  does that);
* ``stop-now`` (trivial policy) emits EOS on every prefix of probability zero: every
  prompt's completion is empty;
* ``best-constant`` (trivial policy) completes every prompt of the task's prompt length
  with the same constant string ``c`` of at most two symbols, then EOS: on a
  zero-probability word ``w`` with ``j = len(w) - prompt_length``, it emits ``c[j]`` if
  ``0 <= j < len(c)`` and ``w`` ends in ``c[:j]``, else EOS. ``c`` is the constant with the
  highest headline on the task (:func:`best_constant`, ties to the shorter, then to the
  first in symbol order), and it is named in the result (``reference.constant``).

A position whose prefix is malformed (no leading SOS, or an EOS/SOS/PAD after position 0,
i.e. everything after the end of a sequence) gets uniform logits (all zeros).

Both oracles walk each row incrementally (one task transition per token) and cache their
output vectors per distribution state and per zero-probability word, both for the full
forward pass and for the incremental ``step`` used when decoding.

``uniform`` is a pure JAX function: equal logits (0) on every symbol and EOS,
``ZERO_LOGIT`` on SOS and PAD, at every position.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from rexbench.benchmark.protocol import HostFunction, JaxFunction
from rexbench.tasks import EOS, PAD, SOS, Task, get_split
from rexbench.tasks.vocab import NUM_SPECIAL

ZERO_LOGIT = -1e4  # logit of a probability-zero token: finite, exp() underflows to 0 in float32
FALLBACK_LOGIT = -8.0  # oracle-keep's symbols after a word that keeps the rule (below EOS's 0)
MODES: tuple[str, ...] = ("keep", "break", "stop", "constant")

# Per-row walk state: (mode, task_state, word). Modes:
_START, _POSITIVE, _ZERO, _BAD = 0, 1, 2, 3
RowState = tuple[int, Any, str]


class OracleWalker:
    """Incremental evaluation of one oracle on a task (``mode`` = "keep" or "break")."""

    def __init__(self, task: Task, mode: str, constant: str = "") -> None:
        if mode not in MODES:
            raise ValueError(f"oracle mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.task = task
        self.mode = mode
        self.constant = constant
        self.keep = task.rules[task.keep_rule]
        V = task.vocab_size
        self._uniform_V = np.zeros(V, dtype=np.float32)
        self._positive: dict[Any, np.ndarray] = {}
        self._zero: dict[str, np.ndarray] = {}
        self._one_hot = {tok: self._make_one_hot(tok) for tok in range(V)}

    # ------------------------------------------------------------------ output vectors
    def _make_one_hot(self, tok: int) -> np.ndarray:
        vec = np.full(self.task.vocab_size, ZERO_LOGIT, dtype=np.float32)
        vec[tok] = 0.0
        vec.setflags(write=False)
        return vec

    def positive_logits(self, state: Any) -> np.ndarray:
        """``log p(· | prefix)`` in float32, ``ZERO_LOGIT`` where p = 0."""
        key = self.task.distribution_key(state)
        vec = self._positive.get(key)
        if vec is None:
            probs_V = self.task.probs(state)
            vec = np.full(self.task.vocab_size, ZERO_LOGIT, dtype=np.float32)
            positive = probs_V > 0
            vec[positive] = np.log(probs_V[positive]).astype(np.float32)
            vec.setflags(write=False)
            self._positive[key] = vec
        return vec

    def target_token(self, word: str) -> int:
        """The token this oracle emits after the zero-probability ``word``."""
        symbols = self.task.symbols
        if self.mode == "stop":
            return EOS
        if self.mode == "constant":
            j = len(word) - self.task.prompt_length
            if 0 <= j < len(self.constant) and word.endswith(self.constant[:j]):
                return NUM_SPECIAL + symbols.index(self.constant[j])
            return EOS
        if self.mode == "keep":
            if not self.keep.completable(word):
                return EOS
            extension = self.keep.complete(word)
            return EOS if not extension else NUM_SPECIAL + symbols.index(extension[0])
        if not self.keep.holds(word):
            return EOS
        for i, ch in enumerate(symbols):
            if not self.keep.holds(word + ch):
                return NUM_SPECIAL + i
        return EOS

    def zero_logits(self, word: str) -> np.ndarray:
        vec = self._zero.get(word)
        if vec is None:
            tok = self.target_token(word)
            vec = self._one_hot[tok]
            if self.mode == "keep" and tok == EOS and self.keep.holds(word):
                vec = vec.copy()
                for i, ch in enumerate(self.task.symbols):
                    if self.keep.completable(word + ch):
                        vec[NUM_SPECIAL + i] = FALLBACK_LOGIT
                vec.setflags(write=False)
            self._zero[word] = vec
        return vec

    # ------------------------------------------------------------------ walking
    def advance(self, row: RowState, tok: int) -> RowState:
        """The row state after feeding ``tok``."""
        mode, state, word = row
        if mode == _START:
            return (_POSITIVE, self.task.initial_state(), "") if tok == SOS else (_BAD, None, "")
        if mode == _BAD or tok < NUM_SPECIAL or tok >= self.task.vocab_size:
            return (_BAD, None, word)
        ch = self.task.symbols[tok - NUM_SPECIAL]
        if mode == _POSITIVE and self.task.probs(state)[tok] > 0.0:
            return (_POSITIVE, self.task.transition(state, ch), word + ch)
        return (_ZERO, None, word + ch)

    def logits(self, row: RowState) -> np.ndarray:
        mode, state, word = row
        if mode == _POSITIVE:
            return self.positive_logits(state)
        if mode == _ZERO:
            return self.zero_logits(word)
        return self._uniform_V

    # ------------------------------------------------------------------ host-model API
    def forward(self, tokens_BT: np.ndarray) -> np.ndarray:
        """Full forward pass ``int32 [B, T] -> float32 [B, T, V]``."""
        B, T = tokens_BT.shape
        out_BTV = np.empty((B, T, self.task.vocab_size), dtype=np.float32)
        for b, row_tokens in enumerate(tokens_BT.tolist()):
            row: RowState = (_START, None, "")
            for t, tok in enumerate(row_tokens):
                row = self.advance(row, tok)
                out_BTV[b, t] = self.logits(row)
                if row[0] == _BAD:  # malformed stays malformed (PAD after EOS): uniform to the end
                    out_BTV[b, t + 1:] = self._uniform_V
                    break
        return out_BTV

    def init_state(self, batch_size: int) -> list[RowState]:
        return [(_START, None, "")] * batch_size

    def step(self, rows: list[RowState], tokens_B: np.ndarray, position: int) -> tuple[np.ndarray, list[RowState]]:
        rows = [self.advance(row, tok) for row, tok in zip(rows, tokens_B.tolist(), strict=True)]
        return np.stack([self.logits(row) for row in rows]), rows


def oracle(task: Task, mode: str, constant: str = "") -> HostFunction:
    """The host model of one mode: ``oracle-keep`` ("keep"), ``oracle-break`` ("break"),
    ``stop-now`` ("stop") or the constant policy ``constant`` ("constant")."""
    walker = OracleWalker(task, mode, constant)
    return HostFunction(walker.forward, walker.init_state, walker.step, parameters=None)


def constant_candidates(task: Task) -> list[str]:
    """Every string of at most two symbols: shortest first, then in symbol order."""
    out = [""]
    for length in (1, 2):
        out += ["".join(c) for c in itertools.product(task.symbols, repeat=length)]
    return out


def best_constant(task: Task) -> tuple[str, int, int]:
    """(constant, headline successes, headline prompts) of the best constant completion.

    The headline of "complete every headline prompt ``p`` with ``c``, then EOS" is the
    fraction of ``p + c`` that satisfy the keep rule (every such completion is finished
    and well formed), computed exactly here; the first maximum in
    :func:`constant_candidates` order wins.
    """
    ood = get_split(task, "ood_prompts")
    keep = task.rules[task.keep_rule]
    prompts = [p for p, ok in zip(ood.words, ood.completable[task.keep_rule], strict=True) if ok]
    best = ("", -1)
    for c in constant_candidates(task):
        hits = sum(bool(keep.holds(p + c)) for p in prompts)
        if hits > best[1]:
            best = (c, hits)
    return best[0], best[1], len(prompts)


def uniform_logits(vocab_size: int) -> np.ndarray:
    """0 on EOS and every symbol, ``ZERO_LOGIT`` on SOS and PAD (float32 ``[V]``)."""
    vec = np.zeros(vocab_size, dtype=np.float32)
    vec[[SOS, PAD]] = ZERO_LOGIT
    return vec


def _uniform_apply(params: jnp.ndarray, tokens_BT: jnp.ndarray) -> jnp.ndarray:
    return jnp.broadcast_to(params, (*tokens_BT.shape, params.shape[-1]))


def _uniform_init_cache(params: jnp.ndarray, batch_size: int, max_len: int) -> jnp.ndarray:
    return jnp.zeros((), jnp.int32)


def _uniform_step(
    params: jnp.ndarray, cache: jnp.ndarray, tokens_B: jnp.ndarray, position: jnp.ndarray
) -> tuple[jnp.ndarray, jnp.ndarray]:
    return jnp.broadcast_to(params, (tokens_B.shape[0], params.shape[-1])), cache


def uniform(task: Task) -> JaxFunction:
    """The uniform-random model: the chance level (it has no learned parameters)."""
    return JaxFunction(
        _uniform_apply, jnp.asarray(uniform_logits(task.vocab_size)), _uniform_init_cache, _uniform_step, parameters=0
    )


REFERENCE_MODELS: dict[str, Callable[[Task], Any]] = {
    "oracle-keep": lambda task: oracle(task, "keep"),
    "oracle-break": lambda task: oracle(task, "break"),
    "stop-now": lambda task: oracle(task, "stop"),
    "best-constant": lambda task: oracle(task, "constant", best_constant(task)[0]),
    "uniform": uniform,
}
TRIVIAL_POLICIES: tuple[str, ...] = ("stop-now", "best-constant")


def reference_info(name: str, task: Task) -> dict[str, Any] | None:
    """The ``reference`` block of a reference row's result (None for other models)."""
    if name not in REFERENCE_MODELS:
        return None
    info: dict[str, Any] = {"name": name}
    if name == "best-constant":
        c, hits, n = best_constant(task)
        info.update(constant=c, headline=[hits, n],
                    candidates="every string of at most two symbols (the empty one included)")
    return info
