"""The ICL reference pair: ``icl-oracle`` and ``icl-ignore`` (tasks with probes only).

Both output ``log p(. | prefix)`` of a *frame* distribution wherever the prefix is a
frame (every finished example a word of a member -- for ``icl-oracle`` of one member --
and the current example the start of a word of an allowed member within the cap), and
``oracle-keep``'s logits elsewhere (prefixes no member explains):

* ``icl-oracle`` uses the posterior: the examples so far fix the member. On every
  prefix of positive probability this *is* the task's distribution (``member_posterior``
  weights, the hazard of m), so its excess loss is 0; off the support (e.g. a k >= 1
  probe of ``icl-single``) it keeps using the examples, and where the law of m has no
  mass left an example ends with EOS;
* ``icl-ignore`` predicts every example from the prior mixture, as if it were the first
  (the hazard of m still counts the examples). On ``icl-single`` it equals the task on
  every prefix of positive probability (excess 0); on ``icl-rare`` / ``icl-heavy`` it
  pays ln 3 nats for every example after the first (docs/ICL.md).

Worked example (``icl-single``): after ``abb|aab`` ``icl-oracle`` puts all mass on ``b``
(the member is a^n b^2n, and ``aab`` continues ``aabbbb``); ``icl-ignore`` weighs the
members 1/6 : 1/4 : 1/4 as after ``aab`` alone and so prefers ``b`` with 5/8, then after
``aabb`` ``b`` again (1/4 against 1/6) -- here the prior happens to agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from rexbench.benchmark.protocol import HostFunction
from rexbench.benchmark.reference import ZERO_LOGIT, OracleWalker
from rexbench.tasks import EOS, SOS, Task
from rexbench.tasks.icl_members import MEMBERS, member_of
from rexbench.tasks.probes import probe_set
from rexbench.tasks.vocab import NUM_SPECIAL


def frame_probs(task: Any, word: str, forget: bool) -> dict[str, Fraction] | None:
    """Next-token law after ``word`` under the frame distribution, or None off the frame."""
    *done, current = word.split("|")
    finished = [member_of(x) for x in done]
    if any(h is None for h in finished):
        return None
    allowed = list(MEMBERS) if forget or not finished else [finished[0]]
    if not forget and any(h != finished[0] for h in finished):
        return None
    if not current:
        return {"a": Fraction(1)}
    mass = {"a": Fraction(0), "b": Fraction(0), "end": Fraction(0)}
    for h in allowed:
        ns = h.ns(task.size)
        for n in h.consistent_ns(current, ns):
            w = h.word(n)
            mass["end" if len(w) == len(current) else w[len(current)]] += Fraction(1, len(ns))
    total = sum(mass.values())
    if total == 0:
        return None
    sep, eos = task.stop_split(len(done) + 1)
    out = {"a": mass["a"] / total, "b": mass["b"] / total, "|": mass["end"] / total * sep, "$": mass["end"] / total * eos}
    return {k: v for k, v in out.items() if v > 0}


class IclWalker:
    """Host model of one of the pair (``forget`` = icl-ignore); rows keep (ok, word)."""

    def __init__(self, task: Task, forget: bool) -> None:
        if probe_set(task) is None:
            raise ValueError(f"icl-oracle / icl-ignore need a task with ICL probes; {task.name} has none")
        self.task, self.forget = task, forget
        self.keep = OracleWalker(task, "keep")
        self._cache: dict[str, np.ndarray] = {}
        self._uniform = np.zeros(task.vocab_size, dtype=np.float32)

    def logits(self, word: str) -> np.ndarray:
        vec = self._cache.get(word)
        if vec is None:
            probs = frame_probs(self.task, word, self.forget)
            if probs is None:
                vec = self.keep.zero_logits(word)
            else:
                vec = np.full(self.task.vocab_size, ZERO_LOGIT, dtype=np.float32)
                for sym, p in probs.items():
                    vec[EOS if sym == "$" else NUM_SPECIAL + self.task.symbols.index(sym)] = math.log(p)
                vec.setflags(write=False)
            self._cache[word] = vec
        return vec

    def advance(self, row: tuple[int, str], tok: int) -> tuple[int, str]:
        state, word = row  # state: 0 before SOS, 1 inside a sequence, 2 malformed
        if state == 0:
            return (1, "") if tok == SOS else (2, "")
        if state == 2 or not NUM_SPECIAL <= tok < self.task.vocab_size:
            return (2, word)
        return (1, word + self.task.symbols[tok - NUM_SPECIAL])

    def output(self, row: tuple[int, str]) -> np.ndarray:
        return self.logits(row[1]) if row[0] == 1 else self._uniform

    def forward(self, tokens_BT: np.ndarray) -> np.ndarray:
        B, T = tokens_BT.shape
        out = np.empty((B, T, self.task.vocab_size), dtype=np.float32)
        for b, toks in enumerate(tokens_BT.tolist()):
            row = (0, "")
            for t, tok in enumerate(toks):
                row = self.advance(row, tok)
                out[b, t] = self.output(row)
                if row[0] == 2:  # malformed stays malformed (PAD after EOS): uniform to the end
                    out[b, t + 1:] = self._uniform
                    break
        return out

    def init_state(self, batch_size: int) -> list[tuple[int, str]]:
        return [(0, "")] * batch_size

    def step(self, rows: list, tokens_B: np.ndarray, position: int) -> tuple[np.ndarray, list]:
        rows = [self.advance(r, t) for r, t in zip(rows, tokens_B.tolist(), strict=True)]
        return np.stack([self.output(r) for r in rows]), rows


def icl_reference(task: Task, forget: bool) -> HostFunction:
    walker = IclWalker(task, forget)
    return HostFunction(walker.forward, walker.init_state, walker.step, parameters=None)


ICL_REFERENCE_MODELS: dict[str, Callable[[Task], HostFunction]] = {
    "icl-oracle": lambda task: icl_reference(task, forget=False),
    "icl-ignore": lambda task: icl_reference(task, forget=True),
}
