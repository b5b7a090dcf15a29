"""The three submission kinds computing the same function get the same scores; the same
model and seed give identical metrics."""

from __future__ import annotations

from functools import lru_cache

import pytest
from test_harness_support import Bigram, bigram_jax, bigram_numpy, bigram_table

from rexbench.benchmark.score import score_model
from rexbench.tasks import get_task

TASK = get_task("anbn")
TABLE = bigram_table(TASK.vocab_size, seed=11, scale=1.5)
KINDS = {"flax": lambda: Bigram(TABLE), "jax": lambda: bigram_jax(TABLE), "numpy": lambda: bigram_numpy(TABLE)}


@lru_cache(maxsize=None)
def scored(kind: str, seed: int = 0) -> dict:
    return score_model(KINDS[kind](), TASK, seed=seed, model_name=f"bigram-{kind}")


@pytest.mark.parametrize("kind", ["jax", "numpy"])
def test_kinds_score_the_same(kind: str) -> None:
    ref, other = scored("flax"), scored(kind)
    capability = [k for k in ref["metrics"] if not k.endswith("_loss")]
    for key in capability:
        assert other["metrics"][key] == ref["metrics"][key], key
        assert other["counts"][key] == ref["counts"][key], key
    for key in ("test_loss", "val_loss", "excess_loss"):
        assert other["metrics"][key] == pytest.approx(ref["metrics"][key], rel=1e-6, abs=1e-7)
    assert other["chance"] == ref["chance"]


def test_parameters_recorded_per_kind() -> None:
    V = TASK.vocab_size
    assert scored("flax")["manifest"]["parameters"] == V * V
    assert scored("jax")["manifest"]["parameters"] == V * V
    assert scored("numpy")["manifest"]["parameters"] is None


def test_same_model_and_seed_identical_metrics() -> None:
    first = scored("flax")
    again = score_model(Bigram(TABLE), TASK, seed=0, model_name="bigram-flax")
    assert again["metrics"] == first["metrics"]
    assert again["counts"] == first["counts"]
    assert again["chance"] == first["chance"] and again["chance_stderr"] == first["chance_stderr"]


def test_seed_changes_sampled_metrics_only_through_keys() -> None:
    s0, s1 = scored("numpy", 0), scored("numpy", 1)
    assert s1["seed"] == 1
    assert s0["metrics"]["test_loss"] == s1["metrics"]["test_loss"]
    assert s0["counts"]["generation_accuracy"] != s1["counts"]["generation_accuracy"] or (
        s0["counts"]["sampled_ood_rule_extrapolation"] != s1["counts"]["sampled_ood_rule_extrapolation"]
    )
