"""Fine-tuning functionally identical twins: a golden first run (same start, different
steps), determinism, the bookkeeping by hand, and ``rexbench finetune`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import pytest

from rexbench.baselines.checkpoint import save_checkpoint
from rexbench.baselines.finetune import FinetuneConfig, finetune, mean_excess, spread
from rexbench.baselines.models.registry import make_model
from rexbench.baselines.train import init_params
from rexbench.benchmark.cli import main
from rexbench.tasks import get_task

# The source: the untrained Transformer of seed 0; the target: anbn at N = 8 (small, so
# the test is fast; it shares the vocabulary). AdamW, batch 32, two steps.
CONFIG = FinetuneConfig(optimizer="adamw", steps=2, eval_every=1, batch_size=32)
# Recorded from this code (jax 0.10.2, CPU); the step-0 excess is the same for both twins.
GOLDEN = {
    1.0: [1.8203735069778402, 0.6377373652008016, 0.403489382698818],
    10.0: [1.8203735069778402, 0.6682632879760702, 1.0131033377197225],
}


@pytest.fixture(scope="module")
def runs() -> list[dict]:
    return finetune(make_model("transformer", 5, seed=0), get_task("anbn"), get_task("anbn", 8), (1.0, 10.0), CONFIG)


def test_golden_first_steps(runs: list[dict]) -> None:
    for run in runs:
        assert [s for s, _ in run["curve"]] == [0, 1, 2]
        assert [v for _, v in run["curve"]] == pytest.approx(GOLDEN[run["alpha"]], abs=1e-5)
    a, b = runs
    assert a["curve"][0][1] == pytest.approx(b["curve"][0][1], abs=1e-6)  # one function before fine-tuning
    assert abs(a["curve"][2][1] - b["curve"][2][1]) > 0.1  # two after


def test_deterministic(runs: list[dict]) -> None:
    again = finetune(make_model("transformer", 5, seed=0), get_task("anbn"), get_task("anbn", 8), (10.0, 1.0), CONFIG)
    assert [r["curve"] for r in again] == [runs[1]["curve"], runs[0]["curve"]]  # the order of alphas changes nothing


def test_bookkeeping_by_hand() -> None:
    # trapezoids: (1 + 0.5)/2 * 10 + (0.5 + 0.25)/2 * 10 = 11.25 over 20 steps
    assert mean_excess([[0, 1.0], [10, 0.5], [20, 0.25]]) == pytest.approx(11.25 / 20)
    assert spread([0.5, 0.25, 0.75]) == {"max_minus_min": 0.5, "std": pytest.approx((1 / 24) ** 0.5)}
    assert spread([0.5, None]) == {"max_minus_min": None, "std": None}
    with pytest.raises(ValueError, match="share the vocabulary"):
        finetune(make_model("transformer", 5, seed=0), get_task("anbn"), get_task("dyck"), (1.0,), CONFIG)


def test_finetune_command(tmp_path: Path, capsys) -> None:
    _, stacked = init_params("lstm", 5, [0])
    params = jax.tree.map(lambda x: x[0], stacked)
    ckpt = save_checkpoint(tmp_path / "anbn__lstm__seed0", params,
                           {"model": "lstm", "hyper": {}, "vocab_size": 5, "task": "anbn", "seed": 0, "steps": 0})
    out = tmp_path / "ft"
    argv = ["finetune", "--source", str(ckpt), "--target", "anbn:8", "--alphas", "1,10", "--optimizers", "sgd",
            "--steps", "2", "--eval-every", "1", "--out", str(out)]
    assert main(argv) == 0
    record = json.loads((out / "finetune__lstm-seed0__anbn8__sgd.json").read_text())
    assert record["target"] == "anbn(N=8)" and [r["alpha"] for r in record["runs"]] == [1.0, 10.0]
    assert record["runs"][0]["curve"][0][1] == pytest.approx(record["runs"][1]["curve"][0][1], abs=1e-6)
    assert "spread over twins" in capsys.readouterr().out
    assert main([*argv[:-1], str(tmp_path / "x"), "--steps", "3", "--eval-every", "2"]) == 2  # not a multiple
    assert main(["finetune", "--source", str(tmp_path / "nope"), "--target", "anbn:8", "--out", str(out)]) == 2
    assert main(["finetune", "--source", str(ckpt), "--target", "foo", "--out", str(out)]) == 2
