"""The in-context-learning probe interface: what a task exposes so the harness can
measure ICL without knowing the task.

A task with probes has a method ``icl_probe_set() -> ProbeSet`` and a method
``member_posterior(prefix) -> dict[str, Fraction]`` (the exact posterior over the hidden
member given a prefix). A probe is a prompt (``SOS`` + ``prompt``) made of ``k`` examples
of a target member and separators, then a *query*: the start of one more example that the
family alone leaves ambiguous. The model's completion, up to its first terminator (a
symbol of ``terminators`` or EOS), is the *answer*; the verdict is whether the answer is
one of ``answers`` (query + answer is a word of the target member).

Worked example (``icl-rare``): the probe ``abb|aab`` has k = 1 (``abb``, a word of
``a^n b^2n``), target ``anb2n`` and query ``aab``, answers ``("bbb",)`` and foil ``b``
(the answer of ``a^n b^n``, the first other member ``aab`` is consistent with). The completion
``bbb|aab$`` has the answer ``bbb`` (correct); ``b$`` has ``b`` (it followed ``a^n b^n``:
wrong); 32 tokens without a terminator have no answer (wrong).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

EOS_CHAR = "$"


@dataclass(frozen=True)
class Probe:
    k: int
    prompt: str  # symbols after SOS: k examples, each followed by a terminator, then the query
    target: str  # the member the examples are drawn from
    answers: tuple[str, ...]  # the answers that follow the target
    regime: bool  # in the fixed half a regime may train on (k >= 1 only)
    foil: str  # an answer that follows another member the query is consistent with (what anti-ICL trains)


@dataclass(frozen=True)
class ProbeSet:
    """Every probe of a task, in a fixed order, with the facts the harness needs."""

    task: str
    shots: tuple[int, ...]  # the k values, ascending; 0 first
    terminators: str  # symbols that end an answer (EOS always does)
    probes: tuple[Probe, ...]

    def of_k(self, k: int) -> list[int]:
        return [i for i, p in enumerate(self.probes) if p.k == k]

    def jsonl(self) -> bytes:
        rows = ({"k": p.k, "prompt": p.prompt, "target": p.target, "answers": list(p.answers), "regime": p.regime,
                 "foil": p.foil}
                for p in self.probes)
        return "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows).encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.jsonl()).hexdigest()


def probe_set(task: Any) -> ProbeSet | None:
    """The task's probe set, or None for a task without ICL probes."""
    make = getattr(task, "icl_probe_set", None)
    return None if make is None else make()


def answer_of(completion: str, terminators: str) -> str | None:
    """The completion (record encoding: symbols, ``$`` EOS, ``^`` SOS, ``_`` PAD) up to its
    first terminator, or None when no terminator comes first (an unfinished answer)."""
    for i, ch in enumerate(completion):
        if ch == EOS_CHAR or ch in terminators:
            return completion[:i]
    return None


def verdict(probe: Probe, completion: str, terminators: str) -> bool:
    answer = answer_of(completion, terminators)
    return answer is not None and answer in probe.answers


def map_accuracy(posterior: dict[str, Fraction], target: str) -> Fraction:
    """Expected verdict of following the posterior's most probable member (a uniformly
    random one among ties): 1/|argmax| if the target is among them, else 0."""
    if not posterior:
        return Fraction(0)
    top = max(posterior.values())
    best = [m for m, p in posterior.items() if p == top]
    return Fraction(1, len(best)) if target in best else Fraction(0)
