"""Fine-tuning functionally identical twins: a golden first run (same start, different
steps), determinism, the bookkeeping by hand, and ``rexbench finetune`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import pytest

from rexbench.baselines.checkpoint import save_checkpoint
from rexbench.baselines.finetune import FinetuneConfig, finetune
from rexbench.baselines.models.registry import make_model
from rexbench.baselines.train import init_params
from rexbench.benchmark.cli import main
from rexbench.benchmark.finetune_records import FinetuneRecordError, check_record, mean_excess, spread, steps_to_tau
from rexbench.benchmark.metrics import prompt_sets
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
    return finetune(make_model("transformer", 5, seed=0), get_task("anbn"), get_task("anbn", 8), (1.0, 10.0), CONFIG,
                    capabilities=False)


def test_golden_first_steps(runs: list[dict]) -> None:
    for run in runs:
        assert [s for s, _ in run["curve"]] == [0, 1, 2]
        assert [v for _, v in run["curve"]] == pytest.approx(GOLDEN[run["alpha"]], abs=1e-5)
    a, b = runs
    assert a["curve"][0][1] == pytest.approx(b["curve"][0][1], abs=1e-6)  # one function before fine-tuning
    assert abs(a["curve"][2][1] - b["curve"][2][1]) > 0.1  # two after


def test_deterministic(runs: list[dict]) -> None:
    again = finetune(make_model("transformer", 5, seed=0), get_task("anbn"), get_task("anbn", 8), (10.0, 1.0), CONFIG,
                     capabilities=False)
    assert [r["curve"] for r in again] == [runs[1]["curve"], runs[0]["curve"]]  # the order of alphas changes nothing


def test_bookkeeping_by_hand() -> None:
    # trapezoids: (1 + 0.5)/2 * 10 + (0.5 + 0.25)/2 * 10 = 11.25 over 20 steps
    assert mean_excess([[0, 1.0], [10, 0.5], [20, 0.25]]) == pytest.approx(11.25 / 20)
    assert mean_excess([[0, 1.0], [10, None], [20, None]]) is None  # diverged
    assert steps_to_tau([[0, 1.0], [10, 0.5], [20, 0.25]], 0.5) == 10
    assert steps_to_tau([[0, 1.0], [10, None]], 0.5) is None
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
    path = out / "finetune__anbn__lstm-seed0__anbn8__sgd.json"
    record = json.loads(path.read_text())
    check_record(record, str(path))
    assert record["target"]["config"] == "anbn(N=8)" and [r["alpha"] for r in record["runs"]] == [1.0, 10.0]
    a, b = record["runs"]
    assert a["curve"][0][1] == pytest.approx(b["curve"][0][1], abs=1e-6)
    assert a["source_val_loss_before"] == pytest.approx(b["source_val_loss_before"], abs=1e-6)
    assert a["source_capabilities_before"] == b["source_capabilities_before"]  # one function: one behaviour
    # the headline is over the target's headline prompts, the retention over the source's
    assert a["target_capabilities"]["ood_rule_extrapolation"][1] == int(prompt_sets(get_task("anbn", 8)).headline.sum())
    assert a["source_capabilities_after"]["ood_rule_extrapolation"][1] == int(prompt_sets(get_task("anbn")).headline.sum())
    assert "spread over twins" in capsys.readouterr().out
    assert main([*argv[:-1], str(tmp_path / "x"), "--steps", "3", "--eval-every", "2"]) == 2  # not a multiple
    assert main(["finetune", "--source", str(tmp_path / "nope"), "--target", "anbn:8", "--out", str(out)]) == 2
    assert main(["finetune", "--source", str(ckpt), "--target", "foo", "--out", str(out)]) == 2


def _record(seed: int, means: list[float], source_loss: float = 0.1) -> dict:
    """A hand-made record whose curves are flat at each twin's mean excess."""
    caps = {k: [1, 2] for k in ("ood_rule_extrapolation", "ood_stop_rule")} | {
        "ood_finished": [2, 2], "ood_rule_given_finished": [1, 2]}
    runs = [{"alpha": a, "curve": [[0, m], [10, m]], "steps_to_tau": 0 if m <= 0.01 else None, "mean_excess": m,
             "final_excess": m, "source_val_loss_before": source_loss, "source_val_loss_after": source_loss,
             "source_capabilities_before": caps, "source_capabilities_after": caps, "target_capabilities": caps}
            for a, m in zip((0.1, 1.0, 10.0), means, strict=True)]
    return {"kind": "finetune", "source": {"task": "anbn", "model": "transformer", "seed": seed},
            "target": {"name": "anbn", "size": 64, "config": "anbn(N=64)"},
            "config": {"optimizer": "adamw", "steps": 10, "eval_every": 10, "tau": 0.01}, "runs": runs}


def test_check_record_refuses_tampering() -> None:
    rec = _record(0, [0.02, 0.03, 0.05])
    name = "finetune__anbn__transformer-seed0__anbn64__adamw.json"
    check_record(rec, name)
    for field, value, match in (("mean_excess", 0.001, "mean_excess is 0.001, its curve gives 0.03"),
                                ("steps_to_tau", 0, "steps_to_tau is 0, its curve gives None"),
                                ("curve", [[0, 0.03]], "curve steps")):
        bad = json.loads(json.dumps(rec))
        bad["runs"][1][field] = value
        with pytest.raises(FinetuneRecordError, match=match):
            check_record(bad, name)
    bad = json.loads(json.dumps(rec))
    bad["runs"][0]["target_capabilities"]["ood_finished"] = [1, 2]  # headline = finished x given broken
    with pytest.raises(FinetuneRecordError, match="finished x rule_given_finished"):
        check_record(bad, name)
    with pytest.raises(FinetuneRecordError, match="file name does not match"):
        check_record(rec, "finetune__anbn__transformer-seed1__anbn64__adamw.json")


def test_summary_by_hand() -> None:
    from rexbench.benchmark.finetune_board import finetune_section
    from rexbench.benchmark.finetune_records import summarise

    # twins: spreads 0.03 and 0.02 (mean 0.025); seeds at alpha 1: 0.03 vs 0.031 -> 0.001
    rows = summarise([_record(1, [0.021, 0.031, 0.041]), _record(0, [0.02, 0.03, 0.05], source_loss=0.1005)])
    (row,) = rows
    assert row["seeds"] == [0, 1]
    assert [t["max_minus_min"] for t in row["twin_spread"]] == pytest.approx([0.03, 0.02])
    assert row["seed_spread"][1.0]["max_minus_min"] == pytest.approx(0.001)
    assert row["seeds_matched"] and row["seed_source_loss_range"] == pytest.approx(0.0005)
    text = "\n".join(finetune_section(rows))
    # std by hand: [0.02, 0.03, 0.05] -> sqrt(4.6667e-4 / 3) = 0.012472; [0.021, 0.031, 0.041] -> 0.008165;
    # mean 0.010318; seeds [0.03, 0.031] -> 0.0005
    assert "| 0.0300, 0.0200 | 0.0250 | 0.0103 | 0.0010 | 0.0005 | 0.0005 (matched) | 25.0× |" in text
    far = summarise([_record(0, [0.02, 0.03, 0.05]), _record(1, [0.02, 0.03, 0.05], source_loss=0.11)])
    assert not far[0]["seeds_matched"] and "**not matched**" in "\n".join(finetune_section(far))
