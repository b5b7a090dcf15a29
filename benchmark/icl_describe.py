"""The in-context-learning section of ``rexbench describe`` (tasks with probes only).

It prints the probe set (k values, counts, a worked example with its answer and foil),
the exact chance and Bayes levels per k, and, for a task whose documents can hold more
than one example, the exact bound of :mod:`rexbench.tasks.icl_bound`.

Worked example (``rexbench describe icl-rare``)::

    In-context learning: 288 probes, 72 at each k in 0, 1, 2, 4 (sha256 741bd13d…)
      e.g. k=1: SOS abb|aab -> target anb2n, answer 'bbb' (then | or EOS), foil 'b'
      Bayes  icl_accuracy@0 0.4167 @1 1.0000 ...
"""

from __future__ import annotations

from typing import Any

from rexbench.benchmark.icl import bayes, chance
from rexbench.tasks import get_split
from rexbench.tasks.probes import probe_set


def icl_lines(task: Any) -> list[str]:
    probes = probe_set(task)
    if probes is None:
        return []
    counts = ", ".join(str(k) for k in probes.shots)
    ex = next(p for p in probes.probes if p.k == 1)
    lines = [
        f"In-context learning: {len(probes.probes)} probes, {len(probes.of_k(0))} at each k in {counts} "
        f"(sha256 {probes.sha256[:16]}…)",
        f"  e.g. k=1: SOS {ex.prompt} -> target {ex.target}, answer {ex.answers[0]!r} (then {probes.terminators} or EOS), "
        f"foil {ex.foil!r} (another member's answer; what --regime anti-icl trains on the regime half)",
    ]
    for name, vals in (("Bayes ", bayes(task, probes)), ("chance", chance(task, probes))):
        lines.append(f"  {name} " + " ".join(f"{k.replace('icl_accuracy', '')} {v:.4f}" for k, v in vals.items()))
    if max(task.m_law) > 1:
        from rexbench.tasks.icl_bound import expected_bound, split_bound

        lines.append(f"  Bound on the excess loss of ICL-ignoring models (docs/ICL.md): {expected_bound(task):.6f} nats/token "
                     f"expected, {split_bound(get_split(task, 'test').words):.6f} on test")
    else:
        lines.append("  m = 1 always: every k >= 1 probe has probability zero, so ICL is loss-neutral here")
    return lines
