"""The trivial-policy reference rows (SPEC §6) and the v2 keep rules they must not satisfy."""

from __future__ import annotations

import pytest
from test_harness_support import scored_reference

from rexbench.benchmark.reference import best_constant, constant_candidates
from rexbench.tasks import TASK_NAMES, get_split, get_task


def _headline_of_constant(task, c: str) -> float:
    """Independent recomputation: the fraction of headline prompts p with keep(p + c)."""
    ood = get_split(task, "ood_prompts")
    keep = task.rules[task.keep_rule]
    prompts = [p for p, ok in zip(ood.words, ood.completable[task.keep_rule]) if ok]
    return sum(keep.holds(p + c) for p in prompts) / len(prompts)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_best_constant_is_clearly_below_oracle_keep(name: str) -> None:
    task = get_task(name)
    c, hits, n = best_constant(task)
    values = {cand: _headline_of_constant(task, cand) for cand in constant_candidates(task)}
    assert hits / n == max(values.values()) == values[c]
    assert len(constant_candidates(task)) == 1 + len(task.symbols) + len(task.symbols) ** 2
    assert hits / n <= 0.6  # oracle-keep scores 1.0 on every task


def test_no_reset_satisfies_the_bban_keep_rule() -> None:
    """v1's bban keep rule ("#a after the last b is even") was satisfied by the constant
    completion "b" on every prompt. v2's ("#a even") is satisfied by any constant on the
    prompts of one parity of #a only: 124 of the 248 OOD prompts have an even number of a's."""
    task = get_task("bban")
    assert task.rules["R1"].holds("bbbaa") and not task.rules["R1"].holds("bbbab")
    for c in constant_candidates(task):
        assert _headline_of_constant(task, c) == pytest.approx(0.5, abs=0.01), c
    assert _headline_of_constant(task, "b") == 124 / 248
    # every word of the language keeps it
    assert all(task.rules["R1"].holds(w) for w in get_split(task, "train").words)


def test_trivial_rows_end_to_end_on_anbn() -> None:
    stop = scored_reference("anbn", "stop-now")["metrics"]
    assert stop["ood_rule_extrapolation"] == 69 / 251 and stop["ood_finished"] == 1.0
    assert abs(stop["excess_loss"]) < 1e-4  # Bayes-optimal on the support
    best = scored_reference("bban", "best-constant")
    c, hits, n = best_constant(get_task("bban"))
    assert best["metrics"]["ood_rule_extrapolation"] == hits / n
    assert best["reference"]["constant"] == c and best["reference"]["headline"] == [hits, n]
