"""Verdicts and metrics on hand-built completions (no model involved).

anbn: symbols a=3, b=4; SOS=0, EOS=1, PAD=2. Keep rule R1: #a = #b; R2: every a before
every b.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.decoding import Completions
from benchmark.metrics import Ratio, generation_accuracy, id_accuracy, length_extrapolation, ood_metrics
from benchmark.verdicts import completion_symbols, in_language, keeps_rule, whole_word
from tasks import get_task

A, B, EOS, PAD, SOS = 3, 4, 1, 2, 0


def comps(rows: list[list[int]], finished: list[bool], budget: int = 8) -> Completions:
    gen = np.full((len(rows), budget), PAD, dtype=np.int32)
    for i, r in enumerate(rows):
        gen[i, : len(r)] = r
    return Completions(gen, np.array(finished, dtype=bool))


@pytest.fixture(scope="module")
def anbn():
    return get_task("anbn")


def test_completion_symbols() -> None:
    assert completion_symbols([A, B, EOS, PAD], True, "ab") == "ab"
    assert completion_symbols([EOS], True, "ab") == ""
    assert completion_symbols([A, B, A, B], False, "ab") is None  # unfinished
    assert completion_symbols([A, SOS, B, EOS], True, "ab") is None  # SOS before EOS: malformed
    assert completion_symbols([A, PAD, EOS], True, "ab") is None  # PAD before EOS: malformed
    assert completion_symbols([A, 9, EOS], True, "ab") is None  # unknown id: malformed
    assert completion_symbols([A, EOS, SOS, PAD], True, "ab") == "a"  # after EOS nothing counts
    assert completion_symbols([A, B], True, "ab") is None  # "finished" without an EOS


def test_whole_word_and_verdicts(anbn) -> None:
    assert whole_word("aab", [B, EOS], True, "ab") == "aabb"
    assert in_language(anbn, "aabb") and not in_language(anbn, "abab") and not in_language(anbn, None)
    assert not in_language(anbn, "")  # n >= 1
    r1, r2 = anbn.rules["R1"], anbn.rules["R2"]
    assert keeps_rule(r1, "abab") and not keeps_rule(r2, "abab")
    assert not keeps_rule(r1, None)


def test_id_accuracy_by_hand(anbn) -> None:
    prompts = ["aaabbb", "aaabbb", "aaabbb", "aaab"]
    c = comps(
        [
            [EOS],  # aaabbb: in the language
            [B, EOS],  # aaabbbb: #b > #a
            [A, B],  # unfinished
            [B, B, EOS],  # aaabbb
        ],
        [True, True, False, True],
    )
    assert id_accuracy(anbn, prompts, c) == Ratio(2, 4)
    assert Ratio(2, 4).value == 0.5


def test_ood_metrics_by_hand(anbn) -> None:
    # R1 (#a = #b) is completable after any prompt; R2 (no "ba") is not after "ba".
    prompts = ["abab", "abba", "bb", "ab"]
    completable = {
        "R1": np.array([True, True, True, True]),
        "R2": np.array([False, False, True, True]),
    }
    c = comps(
        [
            [EOS],  # abab: R1 holds, R2 fails (and is excluded: not completable)
            [B, A, SOS, EOS],  # malformed -> fails everything, but it did emit EOS (finished)
            [A, A, B],  # unfinished: fails
            [A, B, EOS],  # abab: R1 holds; R2 fails
        ],
        [True, True, False, True],
    )
    keep, rules, finished = ood_metrics(anbn, prompts, completable, c)
    assert keep == rules["R1"] == Ratio(2, 4)
    assert rules["R2"] == Ratio(0, 2)  # only "bb" and "ab" count
    assert finished == Ratio(3, 4)


def test_ood_rule_not_completable_is_excluded_from_denominator(anbn) -> None:
    prompts = ["ba", "ab"]
    c = comps([[EOS], [EOS]], [True, True])
    _, rules, _ = ood_metrics(anbn, prompts, {"R1": np.array([True, True]), "R2": np.array([False, True])}, c)
    assert rules["R2"] == Ratio(1, 1)
    _, rules, _ = ood_metrics(anbn, prompts, {"R1": np.array([True, True]), "R2": np.array([False, False])}, c)
    assert rules["R2"] == Ratio(0, 0) and rules["R2"].value is None


def test_length_extrapolation_uses_doubled_task(anbn) -> None:
    prompt = "a" * 40
    c = comps([[B] * 40 + [EOS], [B] * 39 + [EOS], [B] * 40], [True, True, False], budget=64)
    # a^40 b^40 is in a^n b^n with N = 64 (not with N = 32)
    assert not anbn.in_language("a" * 40 + "b" * 40)
    assert length_extrapolation(anbn, [prompt] * 3, c) == Ratio(1, 3)


def test_generation_accuracy_by_hand(anbn) -> None:
    c = comps([[A, B, EOS], [EOS], [A, A, B, B, EOS], [B, A, EOS], [A, B]], [True, True, True, True, False])
    assert generation_accuracy(anbn, c) == Ratio(2, 5)


def test_ratio_of_flags() -> None:
    assert Ratio.of(np.array([True, False, True])) == Ratio(2, 3)
    assert Ratio.of(np.array([], dtype=bool)).value is None
