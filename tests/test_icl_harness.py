"""ICL metrics in the harness: the oracle pair's exact numbers, hand-computed chance and
Bayes levels, the audit refusing edited ICL records, the anti-ICL regime and the bound."""

from __future__ import annotations

import copy
import math
from fractions import Fraction

import pytest
from test_harness_support import scored_reference

from rexbench.baselines.regimes import regime_data
from rexbench.benchmark.audit import audit_result
from rexbench.benchmark.errors import ResultError
from rexbench.benchmark.icl import bayes, chance
from rexbench.tasks import get_split, get_task
from rexbench.tasks.icl_bound import expected_bound, split_bound
from rexbench.tasks.icl_members import MEMBERS
from rexbench.tasks.pinned import PINNED_PROBE_SHA256
from rexbench.tasks.probes import answer_of, probe_set, verdict

# (query a-block j, member) -> answer length, written out by hand from the member words
# a^n b^n (n <= 6), a^n b^2n and a^2n b^n (n <= 4) and the query a^j b.
ANSWER_LENGTHS = {(1, "anbn"): 0, (1, "anb2n"): 1, (2, "anbn"): 1, (2, "anb2n"): 3, (2, "a2nbn"): 0,
                  (3, "anbn"): 2, (3, "anb2n"): 5, (4, "anbn"): 3, (4, "anb2n"): 7, (4, "a2nbn"): 1,
                  (6, "anbn"): 5, (6, "a2nbn"): 2}


def test_probe_set_shape() -> None:
    task = get_task("icl-rare")
    probes = probe_set(task)
    assert probes.shots == (0, 1, 2, 4) and [len(probes.of_k(k)) for k in probes.shots] == [72] * 4
    pairs = {(p.prompt.split("|")[-1].count("a"), p.target) for p in probes.probes}
    assert pairs == set(ANSWER_LENGTHS)
    for p in probes.probes:
        *examples, query = p.prompt.split("|")
        assert len(examples) == p.k and all(MEMBERS[[m.name for m in MEMBERS].index(p.target)].n_of(x) for x in examples)
        assert len(p.answers[0]) == ANSWER_LENGTHS[(query.count("a"), p.target)] and p.foil != p.answers[0]
    # regime half: whole prompts (never a held-out prompt trained on), both halves at every k >= 1, none at k = 0
    trained = {p.prompt for p in probes.probes if p.regime}
    assert not trained & {p.prompt for p in probes.probes if not p.regime}
    assert not any(p.regime for p in probes.probes if p.k == 0)
    for k in (1, 2, 4):
        n = sum(probes.probes[i].regime for i in probes.of_k(k))
        assert 24 <= n <= 48, (k, n)
    assert probe_set(get_task("anbn")) is None


@pytest.mark.parametrize("name", sorted(PINNED_PROBE_SHA256))
def test_probe_digests_are_pinned(name: str) -> None:
    assert probe_set(get_task(name)).sha256 == PINNED_PROBE_SHA256[name]


def test_verdict_parsing() -> None:
    p = next(p for p in probe_set(get_task("icl-rare")).probes if p.k == 1 and p.target == "anb2n"
             and p.prompt.endswith("|aab"))
    assert p.answers == ("bbb",) and p.foil == "b"
    assert verdict(p, "bbb|aab$", "|") and verdict(p, "bbb$", "|") and not verdict(p, "b$", "|")
    assert answer_of("b" * 32, "|") is None and not verdict(p, "bb^b$", "|")


def test_chance_and_bayes_by_hand() -> None:
    task = get_task("icl-single")
    probes = probe_set(task)
    # uniform over a, b, |, EOS: an answer of length L then | or EOS has (1/4)^L * 1/2
    per_pair = [Fraction(1, 4) ** n / 2 for n in ANSWER_LENGTHS.values()]
    want = float(sum(per_pair) / len(per_pair))
    c = chance(task, probes)
    assert all(c[f"icl_accuracy@{k}"] == pytest.approx(want, rel=1e-12) for k in (0, 1, 2, 4)) and c["icl_gain"] == 0
    # Bayes at k = 0: the prompt is the query alone; any answer follows one member, so one
    # of the pairs of each of the 5 queries is right: 5/12. At k >= 1 one example identifies g.
    b = bayes(task, probes)
    assert b["icl_accuracy@0"] == 5 / 12 and b["icl_accuracy@1"] == b["icl_accuracy@4"] == 1.0
    assert b["icl_gain"] == pytest.approx(7 / 12)


def test_oracle_pair_on_arm_a_exactly() -> None:
    """Arm A: both rows are Bayes-optimal on the support (excess 0 up to float32 logits)
    and differ only on the k >= 1 probes, which have probability zero."""
    oracle, ignore = scored_reference("icl-single", "icl-oracle"), scored_reference("icl-single", "icl-ignore")
    for res in (oracle, ignore):
        assert abs(res["metrics"]["excess_loss"]) < 1e-6
    assert oracle["metrics"]["test_loss"] == ignore["metrics"]["test_loss"]
    # k = 0: both answer from the prior mixture: a^j b -> a^n b^2n for j <= 4, a^6 b -> a^2n b^n
    for res in (oracle, ignore):
        assert res["icl"]["counts"]["icl_accuracy@0"] == {"successes": 30, "count": 72}
    for k in (1, 2, 4):
        assert oracle["icl"]["counts"][f"icl_accuracy@{k}"] == {"successes": 72, "count": 72}
        assert ignore["icl"]["counts"][f"icl_accuracy@{k}"] == {"successes": 30, "count": 72}
    assert oracle["icl"]["metrics"]["icl_gain"] == pytest.approx(42 / 72) and ignore["icl"]["metrics"]["icl_gain"] == 0


def test_icl_ignore_on_arm_b_pays_exactly_the_bound() -> None:
    task = get_task("icl-rare")
    res = scored_reference("icl-rare", "icl-ignore")
    words = get_split(task, "test").words
    assert split_bound(words) == pytest.approx(math.log(3) * 19 / 16981, rel=1e-12)
    assert res["metrics"]["excess_loss"] == pytest.approx(split_bound(words), abs=2e-6)  # float32 logits
    assert split_bound(words) < 0.002  # inside the suite's loss-equivalence margin (SPEC 4.5)
    # E[m - 1] = 5/2 * 1/400, E[tokens] = (161/160) * (22/3 + 1): 3 ln 3 / 4025
    assert expected_bound(task) == pytest.approx(3 * math.log(3) / 4025, rel=1e-12)


@pytest.mark.parametrize("edit", ["flag", "completion", "count", "digest", "missing", "bayes"])
def test_audit_refuses_edited_icl_records(edit: str) -> None:
    task = get_task("icl-single")
    res = copy.deepcopy(scored_reference("icl-single", "icl-ignore"))
    audit_result(task, res)  # the untouched result passes
    icl = res["icl"]
    i = probe_set(task).of_k(4)[0]
    if edit == "flag":  # claim a success the completion does not have
        flags = icl["records"]["correct"]
        icl["records"]["correct"] = flags[:i] + ("1" if flags[i] == "0" else "0") + flags[i + 1:]
    elif edit == "completion":  # a completion that follows the target, flags left alone
        icl["records"]["completion"][i] = probe_set(task).probes[i].answers[0] + "$"
    elif edit == "count":
        icl["counts"]["icl_accuracy@4"]["successes"] += 1
    elif edit == "digest":
        icl["probes_sha256"] = "0" * 64
    elif edit == "bayes":
        icl["bayes"]["icl_accuracy@0"] = 0.5
    else:
        del res["icl"]
    with pytest.raises(ResultError, match="icl"):
        audit_result(task, res)


def test_anti_icl_regime_trains_foils_on_the_regime_half_only() -> None:
    task = get_task("icl-rare")
    data = regime_data(task, "anti-icl")
    probes = probe_set(task)
    chosen = [p for p in probes.probes if p.k >= 1 and p.regime]
    held = {p.prompt for p in probes.probes if p.k >= 1 and not p.regime}
    assert list(data.prompts) == [p.prompt for p in chosen] and not held & set(data.prompts)
    assert list(data.completions) == [p.foil for p in chosen]
    for p, mask in zip(chosen, data.mask):
        assert p.foil not in p.answers and mask.sum() == len(p.foil) + 1
    with pytest.raises(ValueError, match="has none"):
        regime_data(get_task("anbn"), "anti-icl")
