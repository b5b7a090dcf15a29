"""Recomputing a result's ``icl`` block from its own records: what the leaderboard checks.

:func:`check_icl` refuses (``ResultError``, naming the field) a result whose ``icl`` block
is missing on a task with probes (or present on one without), whose probe digest differs
from the running harness's, whose completions are malformed (wrong number, characters
outside the encoding, not cut after their first terminator, an unfinished one shorter
than the budget), whose ``correct`` flags differ from the verdicts recomputed from the
stored completions, or whose counts, metrics, chance or Bayes values differ from the ones
recomputed (:func:`rexbench.benchmark.icl.icl_summary`, the function scoring uses).
"""

from __future__ import annotations

import math
from typing import Any

from rexbench.benchmark.errors import ResultError
from rexbench.benchmark.icl import ICL_BUDGET, cut, icl_summary, verdicts
from rexbench.benchmark.records import flags
from rexbench.tasks import Task
from rexbench.tasks.probes import probe_set


def _fail(path: str, message: str) -> None:
    raise ResultError(f"{path}: {message}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(_same(a[k], b[k]) for k in b)
    if b is None or isinstance(b, (str, list)):
        return a == b
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_icl(task: Task, result: dict) -> None:
    probes = probe_set(task)
    block = result.get("icl")
    if probes is None:
        if block is not None:
            _fail("icl", f"task {task.name} has no ICL probes")
        return
    if not isinstance(block, dict):
        _fail("icl", f"missing or not an object (task {task.name} has ICL probes)")
    if block.get("probes_sha256") != probes.sha256:
        _fail("icl.probes_sha256", f"stored {block.get('probes_sha256')!r}, the harness's probes are {probes.sha256}")
    records = block.get("records")
    if not isinstance(records, dict):
        _fail("icl.records", "missing or not an object")
    comps = records.get("completion")
    if not isinstance(comps, list) or len(comps) != len(probes.probes) or not all(isinstance(c, str) for c in comps):
        _fail("icl.records.completion", f"expected {len(probes.probes)} completion strings")
    allowed = set(task.symbols + "$^_")
    for i, c in enumerate(comps):
        if not set(c) <= allowed or cut(c, probes.terminators) != c or (len(c) > ICL_BUDGET) or (
                len(c) < ICL_BUDGET and not (c and (c[-1] == "$" or c[-1] in probes.terminators))):
            _fail(f"icl.records.completion[{i}]", f"not a completion of at most {ICL_BUDGET} tokens cut after its first terminator")
    correct = flags(verdicts(probes, comps))
    if records.get("correct") != correct:
        _fail("icl.records.correct", "differs from the verdicts recomputed from the stored completions")
    fresh = icl_summary(task, probes, comps, correct)
    for key in ("shots", "budget", "counts", "metrics", "chance", "bayes"):
        if not _same(block.get(key), fresh[key]):
            _fail(f"icl.{key}", f"stored {block.get(key)!r}, recomputed {fresh[key]!r}")
