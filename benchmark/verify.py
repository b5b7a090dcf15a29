"""``rexbench verify``: re-score a result's model and compare every stored number and record.

The leaderboard's audit (:mod:`rexbench.benchmark.audit`) proves a file is consistent with
itself: its counts, verdicts and chance levels are what its own completions imply. It
cannot tell whether the completions are the model's. Verification can: it scores the
submitted model again with the result's task, seed and limit, and compares, field by
field, everything the harness computes — every metric, count, chance level, decoding
setting and per-prompt record. Only the manifest (when, where, with which library
versions) and ``training`` (how the model was made) are not compared.

Capabilities and records are compared exactly: decoding is deterministic given the seed.
Losses are compared exactly by default as well; ``loss_tolerance`` (nats per token)
admits the float reassociation of another CPU or accelerator, and only for the losses.

Example::

    >>> diffs = compare(stored, rescored)           # [] when identical
    >>> [d.path for d in diffs]
    ['metrics.test_loss', 'records.ood_prompts.completion[17]']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rexbench.benchmark.results import LOSS_KEYS

# Computed by the harness from the model, the task and the seed: all compared.
COMPARED_KEYS: tuple[str, ...] = (
    "benchmark", "suite_version", "harness_version", "task", "task_config", "model", "seed", "checkpoint_rule",
    "metrics", "chance", "chance_stderr", "counts", "records", "decoding", "limit", "trained_on_task", "reference",
)


@dataclass(frozen=True)
class Difference:
    path: str
    stored: Any
    rescored: Any

    def __str__(self) -> str:
        return f"{self.path}: stored {_short(self.stored)}, re-scored {_short(self.rescored)}"


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _loss_path(path: str) -> bool:
    """``metrics.<loss>`` or ``counts.<loss>.nats``: the only float-valued numbers that a
    model computes (capabilities are counts of decodes)."""
    parts = path.split(".")
    return (parts[0] == "metrics" and len(parts) == 2 and parts[1] in LOSS_KEYS) or (
        parts[0] == "counts" and len(parts) == 3 and parts[1] in LOSS_KEYS and parts[2] == "nats")


def _walk(a: Any, b: Any, path: str, tol: float, out: list[Difference]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            _walk(a.get(key, _MISSING), b.get(key, _MISSING), f"{path}.{key}", tol, out)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _walk(x, y, f"{path}[{i}]", tol, out)
        return
    if isinstance(a, str) and isinstance(b, str) and len(a) == len(b) and a != b and path.startswith("records."):
        i = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)  # a flag column: name the row
        out.append(Difference(f"{path}[{i}]", a[i], b[i]))
        return
    if a == b and type(a) is type(b):
        return
    if tol > 0.0 and _loss_path(path) and isinstance(a, float) and isinstance(b, float):
        if path.startswith("counts."):
            return  # decided per token, by metrics.<loss> (summed nats scale with the token count)
        if abs(a - b) <= tol:
            return
    out.append(Difference(path, None if a is _MISSING else a, None if b is _MISSING else b))


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def compare(stored: dict, rescored: dict, loss_tolerance: float = 0.0) -> list[Difference]:
    """Every difference between two results on :data:`COMPARED_KEYS` (with
    ``loss_tolerance`` > 0, losses within that many nats per token count as equal)."""
    out: list[Difference] = []
    for key in COMPARED_KEYS:
        _walk(stored.get(key, _MISSING), rescored.get(key, _MISSING), key, loss_tolerance, out)
    return out
