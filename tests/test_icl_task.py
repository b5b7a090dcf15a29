"""The in-context-learning family: the posterior, the exact distribution and the optimal
loss against hand computations and a brute-force enumeration of whole documents."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from fractions import Fraction

import pytest

from rexbench.tasks import get_split, get_task
from rexbench.tasks.icl import RARE_DELTA
from rexbench.tasks.icl_members import MEMBERS

F = Fraction


def brute_documents(task) -> dict[str, Fraction]:
    """P(document) for every document, from the definition: member uniform, m from the
    law, examples i.i.d. uniform over the member's words of at most ``cap`` symbols."""
    out: dict[str, Fraction] = defaultdict(Fraction)
    for h in MEMBERS:
        words = [h.word(n) for n in h.ns(task.size)]
        for m, pm in task.m_law.items():
            for xs in itertools.product(words, repeat=m):
                out["|".join(xs)] += F(1, 3) * pm * F(1, len(words)) ** m
    return dict(out)


def brute_next(docs: dict[str, Fraction], prefix: str) -> dict[str, Fraction]:
    mass: dict[str, Fraction] = defaultdict(Fraction)
    for doc, p in docs.items():
        if doc.startswith(prefix):
            mass[doc[len(prefix)] if len(doc) > len(prefix) else "$"] += p
    total = sum(mass.values())
    return {k: v / total for k, v in mass.items()}


def test_member_ranges_and_laws() -> None:
    task = get_task("icl-rare")
    assert [len(h.ns(12)) for h in MEMBERS] == [6, 4, 4]
    assert sum(task.m_law.values()) == 1 and 1 - task.m_law[1] == RARE_DELTA == F(1, 400)
    heavy = get_task("icl-heavy").m_law
    assert heavy[1] == F(60, 137) and heavy[5] == F(12, 137)  # 1/m over H_5 = 137/60
    assert get_task("icl-single").m_law == {1: 1}
    assert get_task("icl-rare").max_word_length == 64 and get_task("icl-single").max_word_length == 12
    assert get_task("icl-rare").vocab_size == 6


def test_posterior_by_hand() -> None:
    task = get_task("icl-rare")
    # aab: anbn has 1 of 6 words starting aab (aabb), the others 1 of 4 -> 1/6 : 1/4 : 1/4
    assert task.member_posterior("aab") == {"anbn": F(1, 4), "anb2n": F(3, 8), "a2nbn": F(3, 8)}
    # one finished example identifies the member
    assert task.member_posterior("abb|a") == {"anbn": 0, "anb2n": 1, "a2nbn": 0}
    # a: every word starts with a -> the prior
    assert task.member_posterior("a") == {"anbn": F(1, 3), "anb2n": F(1, 3), "a2nbn": F(1, 3)}
    assert task.member_posterior("ab|abb") == {}  # no member explains both
    d = task.exact_distribution(task.walk("aab"))
    assert d == {"b": F(5, 8), "|": F(3, 8) * F(1, 400), "$": F(3, 8) * F(399, 400)}
    assert task.exact_distribution(task.walk("abb|aa")) == {"a": F(2, 3), "b": F(1, 3)}
    # the hazard of m on icl-rare: after the 2nd example P(| ) = P(m >= 3 | m >= 2) = 3/4
    assert task.stop_split(2) == (F(3, 4), F(1, 4)) and task.stop_split(5) == (0, 1)


@pytest.mark.parametrize(("name", "cap"), [("icl-single", 6), ("icl-rare", 6), ("icl-heavy", 5)])
def test_distribution_equals_brute_force_on_a_small_cap(name: str, cap: int) -> None:
    task = get_task(name, cap)
    docs = brute_documents(task)
    assert sum(docs.values()) == 1
    prefixes = {doc[:i] for doc in docs for i in range(len(doc) + 1)}
    for prefix in prefixes:
        assert task.exact_distribution(task.walk(prefix)) == brute_next(docs, prefix), prefix
    for doc, p in docs.items():
        assert task.log_prob(doc) == pytest.approx(math.log(p), rel=1e-12, abs=1e-12)


def test_optimal_loss_equals_brute_force_on_test() -> None:
    """The Bayes-optimal loss on the real test split from the enumerated documents."""
    for name in ("icl-rare", "icl-heavy"):
        task = get_task(name)
        docs = brute_documents(task)
        words = get_split(task, "test").words
        nats = -sum(math.log(docs[w]) for w in words)
        tokens = sum(len(w) + 1 for w in words)
        total, count = task.nll_sum_count(words)
        assert count == tokens and total == pytest.approx(nats, rel=1e-12)


def test_rules_worked_examples() -> None:
    task = get_task("icl-single")
    r1, r2 = task.rules["R1"], task.rules["R2"]
    assert r1.holds("aabb") and r1.holds("abb|abb") and not r1.holds("ab|abb")
    assert r1.complete("ab|abb") == "a" and r1.complete("aaa") == "abb" and r1.complete("ab|") == "a"
    assert not r2.completable("ab|a")  # icl-single: one example at most
    rare = get_task("icl-rare")
    assert rare.rules["R2"].completable("abb|a") and not rare.rules["R2"].completable("ab|abb")
    assert rare.rules["R2"].complete("abb|a") == "bb" and rare.in_language("abb|abb")
    assert not rare.in_language("a" * 7 + "b" * 7)  # beyond the cap of 12
