"""In-context-learning metrics, for any task that exposes probes (:mod:`rexbench.tasks.probes`).

The harness never names the family: it decodes the task's probes, reads each answer (the
completion up to its first terminator or EOS) and asks the probe whether it is one of
its answers. Metrics, all as (successes, count) divided once:

* ``icl_accuracy@k`` for every k of the probe set: probes with k examples whose answer
  follows the target member;
* ``heldout_icl_accuracy@k`` (k >= 1): the same over the probes outside the regime half;
* ``icl_gain`` = ``icl_accuracy@K`` - ``icl_accuracy@0`` (K the largest k): what the
  examples add.

Beside them: ``chance`` (the uniform model over EOS and the symbols, exactly: an answer
``x`` then a terminator has probability ``u^|x| * (T + 1) u`` with ``u = 1/(V - 3)``, T the
number of terminator symbols) and ``bayes`` (the exact accuracy of answering with the
member the task's posterior makes most probable given the prompt, ties split evenly:
the best any model can do, on average, from the prompt alone).

Decoding: greedy (ties at random with the key purpose ``greedy/icl_probes``), at most
``ICL_BUDGET`` (32) new tokens, in the harness's prompt-decode width (so the refusal
checks already cover every position fed). Records: ``completion`` (each cut after its
first terminator; an unfinished one has all 32 tokens) and ``correct`` (a flag column).

Worked example: 72 probes at each of k = 0, 1, 2, 4; a model right on 30, 72, 72, 72 of
them has ``icl_accuracy@0`` = 30/72, ``@1`` = ``@2`` = ``@4`` = 1 and ``icl_gain`` = 42/72.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from rexbench.benchmark.decoding import decode, decode_width
from rexbench.benchmark.metrics import Ratio
from rexbench.benchmark.protocol import ScorableModel
from rexbench.benchmark.records import encode_completions, flags, unflag
from rexbench.benchmark.sampling import derive_key
from rexbench.tasks import Task
from rexbench.tasks.probes import EOS_CHAR, ProbeSet, map_accuracy, probe_set, verdict
from rexbench.tasks.vocab import encode, pad_rows

ICL_BUDGET = 32


def cut(completion: str, terminators: str) -> str:
    """A completion up to and including its first terminator (EOS included)."""
    for i, ch in enumerate(completion):
        if ch == EOS_CHAR or ch in terminators:
            return completion[: i + 1]
    return completion


def probe_tokens(task: Task, probes: ProbeSet) -> tuple[np.ndarray, np.ndarray]:
    rows = [encode(p.prompt, task.symbols)[:-1] for p in probes.probes]  # SOS prompt, no EOS
    return pad_rows(rows), np.array([len(r) for r in rows], dtype=np.int32)


def icl_width(task: Task, probes: ProbeSet) -> int:
    """The prompt-decode width; refuses a probe set too long for it (a task bug, not a model's)."""
    width = decode_width(task)
    longest = int(probe_tokens(task, probes)[1].max())
    if longest + ICL_BUDGET > width:
        raise ValueError(f"{task.name}: probes of {longest} tokens + {ICL_BUDGET} exceed the decode width {width}")
    return width


def decode_probes(model: ScorableModel, task: Task, probes: ProbeSet, seed: int) -> list[str]:
    tokens, lengths = probe_tokens(task, probes)
    comps = decode(model, tokens, lengths, key=derive_key(seed, "greedy/icl_probes"), greedy=True,
                   width=icl_width(task, probes), budget=ICL_BUDGET, desc=f"{task.name}: ICL probes")
    return [cut(c, probes.terminators) for c in encode_completions(comps.generated_NL, comps.finished_N, task.symbols)]


def verdicts(probes: ProbeSet, completions: list[str]) -> np.ndarray:
    return np.array([verdict(p, c, probes.terminators) for p, c in zip(probes.probes, completions, strict=True)])


def aggregate(probes: ProbeSet, correct_N: np.ndarray) -> dict[str, Ratio]:
    """``icl_accuracy@k`` and ``heldout_icl_accuracy@k`` as Ratios."""
    out: dict[str, Ratio] = {}
    regime = np.array([p.regime for p in probes.probes])
    for k in probes.shots:
        idx = np.array(probes.of_k(k))
        out[f"icl_accuracy@{k}"] = Ratio.of(correct_N[idx])
    for k in probes.shots[1:]:
        idx = np.array([i for i in probes.of_k(k) if not regime[i]])
        out[f"heldout_icl_accuracy@{k}"] = Ratio.of(correct_N[idx])
    return out


def gain(values: dict[str, Any], probes: ProbeSet) -> float | None:
    top, zero = values[f"icl_accuracy@{probes.shots[-1]}"], values["icl_accuracy@0"]
    return None if top is None or zero is None else float(top) - float(zero)


def _per_k(probes: ProbeSet, per_probe: list[Fraction]) -> dict[str, float]:
    out = {f"icl_accuracy@{k}": float(sum(per_probe[i] for i in probes.of_k(k)) / len(probes.of_k(k)))
           for k in probes.shots}
    out["icl_gain"] = gain(out, probes)
    return out


def chance(task: Task, probes: ProbeSet) -> dict[str, float]:
    """Exact chance levels of the uniform model over EOS and the symbols."""
    u = Fraction(1, len(task.symbols) + 1)
    stop = (len(probes.terminators) + 1) * u
    return _per_k(probes, [sum((u ** len(a) * stop for a in p.answers), Fraction(0)) for p in probes.probes])


def bayes(task: Task, probes: ProbeSet) -> dict[str, float]:
    """Exact accuracy of answering with the task posterior's most probable member."""
    return _per_k(probes, [map_accuracy(task.member_posterior(p.prompt), p.target) for p in probes.probes])


def icl_summary(task: Task, probes: ProbeSet, completions: list[str], correct: str) -> dict[str, Any]:
    """The result's ``icl`` block from the records (the one definition scoring and the audit share)."""
    ratios = aggregate(probes, unflag(correct))
    values: dict[str, Any] = {k: r.value for k, r in ratios.items()}
    values["icl_gain"] = gain(values, probes)
    return {
        "probes_sha256": probes.sha256,
        "shots": list(probes.shots),
        "budget": ICL_BUDGET,
        "metrics": values,
        "counts": {k: {"successes": r.successes, "count": r.count} for k, r in ratios.items()},
        "chance": chance(task, probes),
        "bayes": bayes(task, probes),
        "records": {"completion": completions, "correct": correct},
    }


def icl_block(model: ScorableModel, task: Task, seed: int) -> dict[str, Any] | None:
    """Decodes the probes of ``task`` (None if it has none) and summarises them."""
    probes = probe_set(task)
    if probes is None:
        return None
    completions = decode_probes(model, task, probes, seed)
    return icl_summary(task, probes, completions, flags(verdicts(probes, completions)))
