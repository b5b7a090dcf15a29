"""Recomputing a result from its own records (SPEC §5, §7): what the leaderboard checks.

:func:`audit_result` refuses (``ResultError``, naming the field and both values) a
schema-valid, suite-compatible result when:

1. its ``records`` are malformed: a block or column missing, a wrong number of rows for
   the task's prompt sets, a character outside the encoding, an unfinished completion
   shorter than the budget, a stop-rule completion of the wrong length or a chosen
   length outside ``prompt length … max length``, prompt indices that are not the
   headline prompts / the sampled subset;
2. a stored **verdict** differs from the one recomputed from the stored completion with
   the task's own rules (:func:`rexbench.benchmark.records.recompute_verdicts`);
3. a stored **count** differs from the aggregate recomputed from the stored verdicts
   (:func:`rexbench.benchmark.metrics.aggregate`, the function scoring itself uses) — which also
   pins every denominator to the task's prompt sets and every identity between metrics
   (``ood_rules[keep]`` = the headline; headline = finished × rule-given-finished);
4. a stored **chance level** differs from the harness's own (deterministic) estimate;
5. on a task with ICL probes, its ``icl`` block does not recompute from its own records
   (:mod:`rexbench.benchmark.icl_audit`).

Metric values are already tied to counts by :func:`rexbench.benchmark.results.validate_result`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from rexbench.benchmark.chance import chance_levels
from rexbench.benchmark.decoding import BUDGET
from rexbench.benchmark.errors import ResultError
from rexbench.benchmark.icl_audit import check_icl
from rexbench.benchmark.metrics import CAPABILITY_KEYS, aggregate, counts, expected_rows, prompt_sets
from rexbench.benchmark.records import GREEDY_BLOCKS, RECORD_BLOCKS, is_finished
from rexbench.tasks import Task, get_split

_FLAGS = re.compile(r"[01]*")


def _fail(path: str, message: str) -> None:
    raise ResultError(f"{path}: {message}")


def _block(records: dict, name: str, keys: tuple[str, ...]) -> dict:
    block = records.get(name)
    if not isinstance(block, dict):
        _fail(f"records.{name}", "missing or not an object")
    missing = [k for k in keys if k not in block]
    if missing:
        _fail(f"records.{name}", f"missing column(s) {', '.join(missing)}")
    return block


def _flag_column(x: Any, path: str, rows: int) -> None:
    if not isinstance(x, str) or not _FLAGS.fullmatch(x):
        _fail(path, "expected a string of 0/1 flags")
    if len(x) != rows:
        _fail(path, f"has {len(x)} rows, the task has {rows}")


def _strings(x: Any, path: str, rows: int, alphabet: str) -> list[str]:
    if not isinstance(x, list) or not all(isinstance(c, str) for c in x):
        _fail(path, "expected a list of strings")
    if len(x) != rows:
        _fail(path, f"has {len(x)} rows, the task has {rows}")
    allowed = set(alphabet)
    for i, c in enumerate(x):
        if not set(c) <= allowed:
            _fail(f"{path}[{i}]", f"characters outside the encoding {alphabet!r}: {c[:40]!r}")
    return x


def _int_list(x: Any, path: str, expected: list[int] | None = None) -> list[int]:
    if not isinstance(x, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in x):
        _fail(path, "expected a list of integers")
    if expected is not None and x != expected:
        _fail(path, "differs from the task's prompt set")
    return x


def check_records(task: Task, records: Any, limit: int | None = None) -> None:
    """Structure of ``records`` for ``task`` (item 1 above)."""
    if not isinstance(records, dict):
        _fail("records", "expected an object")
    rows = expected_rows(task, limit)
    alphabet = task.symbols + "$^_"
    for name in GREEDY_BLOCKS:
        verdict = "rules" if name == "ood_prompts" else "in_language"
        block = _block(records, name, ("completion", "finished", verdict))
        comps = _strings(block["completion"], f"records.{name}.completion", rows[name], alphabet)
        for i, c in enumerate(comps):
            done = c.find("$")
            if (done >= 0 and done != len(c) - 1) or (done < 0 and len(c) != BUDGET) or len(c) > BUDGET:
                _fail(f"records.{name}.completion[{i}]", f"not a completion of at most {BUDGET} tokens ending at its first EOS")
        _flag_column(block["finished"], f"records.{name}.finished", rows[name])
        if name == "ood_prompts":
            rules = block["rules"]
            if not isinstance(rules, dict) or sorted(rules) != sorted(task.rules):
                _fail("records.ood_prompts.rules", f"expected one column per rule {sorted(task.rules)}")
            for r, col in rules.items():
                _flag_column(col, f"records.ood_prompts.rules.{r}", rows[name])
        else:
            _flag_column(block["in_language"], f"records.{name}.in_language", rows[name])
    sets = prompt_sets(task, limit)
    sr = _block(records, "ood_stop_rule", ("prompt_index", "completion", "chosen_length", "keep"))
    _int_list(sr["prompt_index"], "records.ood_stop_rule.prompt_index", np.flatnonzero(sets.headline).tolist())
    comps = _strings(sr["completion"], "records.ood_stop_rule.completion", rows["ood_stop_rule"], task.symbols)
    extra = task.max_word_length - task.prompt_length
    if any(len(c) != extra for c in comps):
        _fail("records.ood_stop_rule.completion", f"every row must have {extra} symbols (up to the maximum length)")
    chosen = _int_list(sr["chosen_length"], "records.ood_stop_rule.chosen_length")
    if len(chosen) != rows["ood_stop_rule"] or not all(task.prompt_length <= n <= task.max_word_length for n in chosen):
        _fail("records.ood_stop_rule.chosen_length",
              f"expected {rows['ood_stop_rule']} lengths in {task.prompt_length}..{task.max_word_length}")
    _flag_column(sr["keep"], "records.ood_stop_rule.keep", rows["ood_stop_rule"])
    so = _block(records, "sampled_ood", ("prompt_index", "finished", "keep"))
    _int_list(so["prompt_index"], "records.sampled_ood.prompt_index", sets.sampled_index.tolist())
    for col in ("finished", "keep"):
        _flag_column(so[col], f"records.sampled_ood.{col}", rows["sampled_ood"])
    gen = _block(records, "generation", ("finished", "in_language"))
    for col in ("finished", "in_language"):
        _flag_column(gen[col], f"records.generation.{col}", rows["generation"])
    extra_blocks = sorted(set(records) - set(RECORD_BLOCKS))
    if extra_blocks:
        _fail("records", f"unknown block(s) {', '.join(extra_blocks)}")
    # a sampled "keep" or "in_language" verdict needs a finished row
    for name, col in (("sampled_ood", "keep"), ("generation", "in_language")):
        block = records[name]
        if any(v == "1" and f == "0" for v, f in zip(block[col], block["finished"], strict=True)):
            _fail(f"records.{name}.{col}", "a row passes its verdict without having finished")


def _first_difference(a: str, b: str) -> int:
    return next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)


def check_verdicts(task: Task, records: dict, limit: int | None = None) -> None:
    """Stored verdict columns against the ones recomputed from the completions (item 2)."""
    from rexbench.benchmark.records import recompute_verdicts

    words = {name: get_split(task, name).words[:limit] for name in GREEDY_BLOCKS}
    for name in GREEDY_BLOCKS:
        for i, c in enumerate(records[name]["completion"]):
            if (records[name]["finished"][i] == "1") != is_finished(c):
                _fail(f"records.{name}.finished[{i}]", f"stored {records[name]['finished'][i]}, but the completion {c[:40]!r} says otherwise")
    fresh = recompute_verdicts(task, records, words)
    for name, cols in fresh.items():
        for col, value in cols.items():
            stored = records[name][col]
            pairs = value.items() if isinstance(value, dict) else [(None, value)]
            for rule, recomputed in pairs:
                have = stored[rule] if rule is not None else stored
                if have != recomputed:
                    i = _first_difference(have, recomputed)
                    path = f"records.{name}.{col}" + (f".{rule}" if rule else "")
                    _fail(f"{path}[{i}]", f"stored verdict {have[i]}, recomputed from the completion {recomputed[i]}")


def _walk_pairs(stored: Any, fresh: Any, path: str) -> None:
    if isinstance(fresh, dict) and set(fresh) == {"successes", "count"}:
        if stored != fresh:
            _fail(path, f"stored {stored}, recomputed from the records {fresh}")
        return
    if not isinstance(stored, dict):
        _fail(path, "expected an object")
    for k, v in fresh.items():
        _walk_pairs(stored.get(k), v, f"{path}.{k}")


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def check_chance(task: Task, result: dict) -> None:
    """Stored chance levels against the harness's own deterministic estimate (item 4)."""
    levels = chance_levels(task, result.get("limit"))
    for block, fresh in (("chance", levels.values()), ("chance_stderr", levels.stderrs())):
        for key in CAPABILITY_KEYS:
            want, have = fresh[key], result[block][key]
            pairs = want.items() if isinstance(want, dict) else [(None, want)]
            for rule, w in pairs:
                h = have.get(rule) if (rule is not None and isinstance(have, dict)) else have
                if not _close(h, w):
                    _fail(f"{block}.{key}" + (f".{rule}" if rule else ""), f"stored {h!r}, the harness computes {w!r}")


def audit_result(task: Task, result: dict) -> None:
    """Items 1–4 of the module docstring; raises :class:`ResultError`."""
    limit = result.get("limit")
    check_records(task, result["records"], limit)
    check_verdicts(task, result["records"], limit)
    fresh = counts(aggregate(task, result["records"], limit))
    for key in CAPABILITY_KEYS:
        _walk_pairs(result["counts"].get(key), fresh[key], f"counts.{key}")
    check_chance(task, result)
    check_icl(task, result)  # the ICL block of a task with probes (benchmark/icl_audit.py)
