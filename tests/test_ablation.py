"""The anchors' data setting (task size, ``--train-set support``) and the anbn ablation's plumbing."""

from __future__ import annotations

import itertools
import json
import math
import shutil

import numpy as np
import pytest

from rexbench.baselines.ablation import FACTORS, Factor, existing
from rexbench.baselines.data import load_task_data, sequence_width
from rexbench.benchmark.ablation_board import (
    AblationStoreError,
    ablation_table,
    curve_ratios,
    factor_stats,
    finding,
    load_ablation_store,
    moving_factors,
)
from rexbench.benchmark.cli import main
from rexbench.benchmark.results import load_result
from rexbench.tasks import TASK_NAMES, get_task
from rexbench.tasks.vocab import EOS, PAD, SOS, encode

# small sizes at which every string up to the longest word can be listed by brute force
SMALL = {"anbn": 4, "anbncn": 2, "ban": 6, "bban": 6, "dyck": 6, "csdyck": 6, "icl-single": 3, "icl-rare": 3,
         "icl-heavy": 3}


def test_support_by_hand() -> None:
    assert get_task("anbn", 3).support() == ["aaabbb", "aabb", "ab"]
    words = get_task("anbn", 128).support()
    assert len(words) == 128 and sorted(map(len, words)) == [2 * n for n in range(1, 129)]


@pytest.mark.parametrize("name", TASK_NAMES)
def test_support_is_every_word_of_positive_probability(name: str) -> None:
    """Distinct words of positive probability whose probabilities sum to 1 are the whole
    support (a missing word would hold mass); where it is cheap, also against a brute force
    over every string up to the longest word. In lexicographic token order."""
    task = get_task(name, SMALL[name])
    support = task.support()
    assert len(set(support)) == len(support) and all(task.in_language(w) for w in support)
    assert math.isclose(math.fsum(math.exp(task.log_prob(w)) for w in support), 1.0, rel_tol=1e-9)
    if len(task.symbols) ** task.max_word_length <= 10_000:
        brute = [
            "".join(chars)
            for n in range(task.max_word_length + 1)
            for chars in itertools.product(task.symbols, repeat=n)
            if task.log_prob("".join(chars)) > -math.inf
        ]
        assert sorted(support) == sorted(brute)
    keys = [encode(w, task.symbols)[1:] for w in support]  # the symbols, then EOS (id below every symbol)
    assert keys == sorted(keys)


def test_support_refuses_a_large_language() -> None:
    with pytest.raises(ValueError, match="more than 10,000 words"):
        get_task("dyck").support()


def test_support_training_data() -> None:
    task = get_task("anbn", 128)
    data = load_task_data(task, train_set="support")
    assert data.width == sequence_width(task, "support") == 258 and data.train.shape == (128, 258)
    rows = {tuple(int(t) for t in row if t != PAD) for row in data.train}
    assert rows == {tuple(encode(w, task.symbols)) for w in task.support()}
    assert (data.train[:, 0] == SOS).all() and ((data.train == EOS).sum(axis=1) == 1).all()
    with pytest.raises(ValueError, match="valid: sampled, support"):
        load_task_data(task, train_set="all")


@pytest.mark.parametrize("argv, message", [
    (["--model", "lstm", "--task", "anbn:x"], "expected NAME or NAME:SIZE"),
    (["--model", "lstm", "--task", "anbn:0"], "N must be >= 1"),
    (["--model", "lstm", "--task", "dyck", "--train-set", "support"], "more than 10,000 words"),
    (["--model", "transformer", "--task", "anbn:128"], "position table has 256 rows"),
    (["--model", "lstm", "--task", "anbn", "--train-set", "every"], "invalid choice"),
])
def test_train_refuses_before_any_work(argv, message, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = None
    try:
        code = main(["train", *argv, "--out", str(out), "--no-progress"])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


@pytest.fixture(scope="module")
def support_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation")
    rc = main(["train", "--model", "linear", "--task", "anbn:8", "--train-set", "support", "--steps", "20",
               "--seeds", "0-1", "--out", str(out / "rexbench"), "--no-progress", "--no-checkpoints",
               "--capability-curve"])
    assert rc == 0
    return out


def test_support_run_records_its_setting(support_run) -> None:
    result = load_result(support_run / "rexbench" / "anbn__linear__seed0.json")
    assert result["task_config"] == {"name": "anbn", "size_name": "N", "size": 8, "config": "anbn(N=8)"}
    assert result["training"]["train_set"] == "support" and len(result["training"]["capability_curve"]) == 1


def test_existing_checks_every_field_of_the_plan(support_run) -> None:
    plan = Factor("rexbench", "test", model="linear", size=8, train_set="support", steps=20)
    assert existing(support_run, plan, 0) == (True, "done")
    assert existing(support_run, plan, 2) == (False, "missing")
    from dataclasses import replace

    assert "train_steps is 20" in existing(support_run, replace(plan, steps=30), 0)[1]
    assert "training set is 'support'" in existing(support_run, replace(plan, train_set="sampled"), 0)[1]
    assert "N is 8" in existing(support_run, replace(plan, size=16), 0)[1]
    assert existing(support_run, replace(plan, model="transformer"), 0) == (False, "missing")


def test_factors_each_move_one_thing() -> None:
    base = FACTORS[0]
    assert base.name == "rexbench"
    for f in FACTORS[1:]:
        moved = [f.model != base.model and "model", (f.size, f.train_set) != (base.size, base.train_set) and "data",
                 f.recipe != base.recipe and "recipe", f.steps != base.steps and "steps"]
        # the data factor also needs a longer position table; the last one moves everything
        assert f.full_only or sum(map(bool, moved)) == 1 or (f.name == "data" and f.model == "transformer-l1024")


def _fake(seed: int, selected: float, curve: list[tuple[int, int, int]]) -> dict:
    return {"seed": seed, "model": "m", "task_config": {"config": "anbn(N=32)"}, "checkpoint_rule": "min_val_loss",
            "manifest": {"train_steps": 100}, "metrics": {"excess_loss": 0.001, "ood_rule_extrapolation": selected},
            "training": {"best_step": 100, "recipe": {"peak_lr": 0.003}, "hyper": {}, "capability_curve": [
                [step, {"ood_rule_extrapolation": [k, n], "ood_rule_given_finished": [k, max(k, 1)]}]
                for step, k, n in curve]}}


def test_board_statistics_by_hand() -> None:
    """The module docstring's worked example, and Welch's p against a hand computation."""
    a = _fake(0, 0.5, [(50, 2, 10), (100, 5, 10)])
    b = _fake(1, 0.1, [(50, 4, 10), (100, 1, 10)])
    assert curve_ratios(a) == [0.2, 0.5]
    stats = factor_stats([a, b])
    assert np.mean(stats["last"]) == pytest.approx(0.3) and np.mean(stats["max"]) == pytest.approx(0.45)
    assert stats["anchor"] == [1.0, 1.0]  # k of k finished
    base = [_fake(s, v, [(100, 1, 10)]) for s, v in enumerate((0.0, 0.1, 0.2))]
    other = [_fake(s, v, [(100, 1, 10)]) for s, v in enumerate((0.1, 0.2, 0.3))]
    lines = ablation_table({"rexbench": base, "x": other})
    # diff 0.1, se = sqrt(2 * 0.01 / 3) = 0.08165, t = 1.2247 on df 4: two-sided p = 0.288
    assert "+0.100" in lines[-1] and "(p = 0.29)" in lines[-1] and lines[-1].startswith("| x | none |")
    # p = 0.29: its interval contains 0, so it is not named as moving the headline
    assert moving_factors({"rexbench": base, "x": other}) == []
    assert finding({"rexbench": base, "x": other}).startswith("No factor moves")
    # +0.5 on the same spread: t = 6.12 on df 4, p = 0.0036, named
    far = [_fake(s, v, [(100, 1, 10)]) for s, v in enumerate((0.5, 0.6, 0.7))]
    [(name, diff, p)] = moving_factors({"rexbench": base, "x": other, "far": far})
    assert name == "far" and diff == pytest.approx(0.5) and p == pytest.approx(0.0036, abs=1e-4)


def test_ablation_store_refuses_bad_files(support_run, tmp_path) -> None:
    store = tmp_path / "store"
    shutil.copytree(support_run, store / "ablation")
    factors = load_ablation_store(store)
    assert list(factors) == ["rexbench"] and [r["seed"] for r in factors["rexbench"]] == [0, 1]
    assert load_ablation_store(tmp_path / "none") == {}

    path = store / "ablation" / "rexbench" / "anbn__linear__seed1.json"
    good = path.read_text()
    obj = json.loads(good)
    del obj["training"]["capability_curve"]
    path.write_text(json.dumps(obj))
    with pytest.raises(AblationStoreError, match="no training.capability_curve"):
        load_ablation_store(store)
    obj = json.loads(good)
    obj["training"]["train_set"] = "sampled"  # claims another setting than its folder's other seed
    path.write_text(json.dumps(obj))
    with pytest.raises(AblationStoreError, match=r"trained differently .*\(training set\)"):
        load_ablation_store(store)
    path.write_text(good)
    (store / "ablation" / "rexbench").rename(store / "ablation" / "other")
    with pytest.raises(AblationStoreError, match="no rexbench/ folder"):
        load_ablation_store(store)


def test_ablation_goes_on_after_a_refusal_and_the_command_fails(tmp_path, monkeypatch, capsys) -> None:
    """Like the grid: a refused factor's seeds get no result file, the other factors still
    train, and ``reproduce --ablation`` lists every refusal at the end and exits 1."""
    from rexbench.baselines import ablation as ab
    from rexbench.baselines import reproduce as rp
    from rexbench.benchmark.errors import ModelRefused

    calls = []

    def train_and_score(model, task, seeds, out, **kw):
        calls.append(out.name)
        if out.name == "dropout":
            raise ModelRefused(f"{model} on {task}: seed 3: not causal: made up by the test")

    monkeypatch.setattr(rp, "train_and_score", train_and_score)
    summary = ab.run_ablation(tmp_path, seeds=(3,), only=("rexbench", "dropout", "optimizer"), progress=False,
                              log=lambda s: None)
    assert calls == ["rexbench", "dropout", "optimizer"]
    assert summary["refused"] == ["ablation dropout: transformer-dropout on anbn: seed 3: not causal: made up by the test"]
    assert summary["trained"] == ["rexbench", "dropout", "optimizer"]

    monkeypatch.setattr(ab, "run_ablation", lambda *a, **k: summary)
    assert main(["reproduce", "--ablation", "--out", str(tmp_path / "store"), "--no-progress"]) == 1
    assert capsys.readouterr().err.strip() == ("rexbench reproduce: the harness refused a trained model: ablation "
                                               "dropout: transformer-dropout on anbn: seed 3: not causal: made up by the test")
