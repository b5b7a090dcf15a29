"""The reference models end to end on every task: non-identifiability as a test, and the
uniform model against its own (independently estimated) chance levels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_harness_support import scored_reference

from rexbench.benchmark.metrics import CAPABILITY_KEYS
from rexbench.benchmark.reference import FALLBACK_LOGIT, REFERENCE_MODELS, ZERO_LOGIT, oracle
from rexbench.tasks import EOS, SOS, TASK_NAMES, get_split, get_task


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_oracles_same_loss_opposite_extrapolation(task_name: str) -> None:
    keep = scored_reference(task_name, "oracle-keep")
    brk = scored_reference(task_name, "oracle-break")
    for res in (keep, brk):
        m = res["metrics"]
        assert abs(m["excess_loss"]) < 1e-4
        assert m["id_accuracy"] == 1.0
        assert m["generation_accuracy"] == 1.0
        assert m["ood_finished"] == 1.0
    assert keep["metrics"]["test_loss"] == brk["metrics"]["test_loss"]
    assert keep["metrics"]["ood_rule_extrapolation"] == 1.0
    assert keep["metrics"]["sampled_ood_rule_extrapolation"] == 1.0
    # SPEC §6: the pair also separates on rule-keeping without the stopping decision
    assert keep["metrics"]["ood_stop_rule"] == 1.0 and brk["metrics"]["ood_stop_rule"] == 0.0
    assert keep["metrics"]["heldout_ood_rule_extrapolation"] == 1.0
    chance = brk["chance"]["ood_rule_extrapolation"]
    assert brk["metrics"]["ood_rule_extrapolation"] <= chance
    assert brk["metrics"]["ood_rule_extrapolation"] == 0.0
    assert brk["metrics"]["sampled_ood_rule_extrapolation"] == 0.0


def _flat(block: dict) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in CAPABILITY_KEYS:
        if isinstance(block[key], dict):
            out.update({f"{key}.{r}": v for r, v in block[key].items()})
        else:
            out[key] = block[key]
    return out


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_uniform_scores_its_chance_levels(task_name: str) -> None:
    res = scored_reference(task_name, "uniform")
    values, chance, stderr = _flat(res["metrics"]), _flat(res["chance"]), _flat(res["chance_stderr"])
    counts = {}
    for key in CAPABILITY_KEYS:
        c = res["counts"][key]
        counts.update({f"{key}.{r}": v for r, v in c.items()} if key == "ood_rules" else {key: c})
    for key, value in values.items():
        if value is None:
            assert chance[key] is None and counts[key]["count"] == 0
            continue
        p, n = chance[key], counts[key]["count"]
        if n * p < 5:  # rare successes: the normal bound is meaningless, use the Poisson tail
            k = counts[key]["successes"]
            lam = n * (p + 4 * stderr[key])
            tail = 1.0 - sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k))
            assert tail > 1e-3, (key, k, lam, tail)
            continue
        # the model's own Monte-Carlo error (Bernoulli bound over its n rows) + the chance estimate's
        combined = math.sqrt(p * (1 - p) / n + stderr[key] ** 2)
        assert abs(value - p) <= 4 * combined + 1e-12, (key, value, p, combined)


@pytest.mark.parametrize("task_name", ["anbn", "dyck"])
def test_oracle_logits_reproduce_next_probs(task_name: str) -> None:
    task = get_task(task_name)
    host = oracle(task, "keep")
    words = get_split(task, "test").words[:50]
    tokens = get_split(task, "test").tokens(task.max_word_length + 2)[:50]
    logits = host.fn(tokens)
    assert logits.dtype == np.float32 and np.isfinite(logits).all()
    for b, word in enumerate(words):
        for t in range(len(word) + 1):
            probs = task.next_probs(word[:t])
            expected = np.where(probs > 0, np.log(np.where(probs > 0, probs, 1.0)), ZERO_LOGIT)
            np.testing.assert_allclose(logits[b, t], expected, rtol=1e-6, atol=1e-6)
        assert (logits[b, len(word) + 1 :] == 0).all()  # after EOS: uniform


def test_oracles_one_hot_on_zero_probability_prefixes() -> None:
    task = get_task("anbn")
    # "ba": zero probability; keep completes #a = #b (already equal -> EOS, with the symbols
    # that keep the rule completable -- both, on anbn -- at FALLBACK_LOGIT); break appends a symbol
    tokens = np.array([[SOS, 4, 3]], dtype=np.int32)
    keep = oracle(task, "keep").fn(tokens)[0, 2]
    brk = oracle(task, "break").fn(tokens)[0, 2]
    assert keep.argmax() == EOS and keep[EOS] == 0.0 and (keep[3:] == FALLBACK_LOGIT).all()
    assert (keep[[SOS, 2]] == ZERO_LOGIT).all()
    assert brk.argmax() == 3 and sorted(brk)[-2] == ZERO_LOGIT
    # "bab": #b > #a -> keep emits a; break: keep rule already violated -> EOS
    tokens = np.array([[SOS, 4, 3, 4]], dtype=np.int32)
    assert oracle(task, "keep").fn(tokens)[0, 3].argmax() == 3
    assert oracle(task, "break").fn(tokens)[0, 3].argmax() == EOS


def test_uniform_reference_logits() -> None:
    task = get_task("dyck")
    fn = REFERENCE_MODELS["uniform"](task)
    logits = np.asarray(fn.apply_fn(fn.params, np.zeros((2, 3), np.int32)))
    assert logits.shape == (2, 3, task.vocab_size)
    assert (logits[..., [SOS, 2]] == ZERO_LOGIT).all() and (logits[..., 1:2] == 0).all() and (logits[..., 3:] == 0).all()
