"""The leaderboard: regenerated from a hand-made store and compared with a file whose
numbers were worked out by hand (tests/fixtures/leaderboard_expected.md); bad stores
are refused; ``--check`` catches a stale file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.results import result_filename, validate_result
from tasks import split_digests

FIXTURES = Path(__file__).parent / "fixtures"
RULES = ("R1", "R2")
CHANCE = {"id_accuracy": 0.2, "ood_rule_extrapolation": 0.1, "ood_rules": {"R1": 0.1, "R2": 0.5},
          "ood_finished": 0.9, "length_extrapolation": 0.0, "sampled_ood_rule_extrapolation": 0.1,
          "generation_accuracy": 0.05}


def make_result(model: str, seed: int, test_nats: float, ood: tuple[int, int], id_acc: tuple[int, int],
                length: tuple[int, int], finished: tuple[int, int], parameters: int | None) -> dict:
    """A schema-valid anbn result whose numbers are given directly (10 test tokens,
    optimal loss exactly 0.1 nats/token)."""
    ratio = {"successes": 0, "count": 1}
    pairs = {"id_accuracy": id_acc, "ood_rule_extrapolation": ood, "ood_finished": finished,
             "length_extrapolation": length, "sampled_ood_rule_extrapolation": ood, "generation_accuracy": (0, 1)}
    counts = {k: {"successes": s, "count": n} for k, (s, n) in pairs.items()}
    counts["ood_rules"] = {"R1": counts["ood_rule_extrapolation"], "R2": ratio}
    metrics = {k: s / n for k, (s, n) in pairs.items()}
    metrics["ood_rules"] = {"R1": metrics["ood_rule_extrapolation"], "R2": 0.0}
    losses = {"test_loss": (test_nats, 10), "optimal_loss": (1.0, 10), "val_loss": (test_nats, 10)}
    for key, (nats, tokens) in losses.items():
        metrics[key] = nats / tokens
        counts[key] = {"nats": nats, "tokens": tokens}
    metrics["excess_loss"] = metrics["test_loss"] - metrics["optimal_loss"]
    counts["excess_loss"] = {"nats": test_nats - 1.0, "tokens": 10}
    result = {
        "benchmark": "rexbench", "suite_version": "1", "harness_version": "0.1.0", "task": "anbn",
        "task_config": {"name": "anbn", "size_name": "N", "size": 32, "config": "anbn(N=32)"},
        "model": model, "seed": seed, "checkpoint_rule": "min_val_loss", "metrics": metrics,
        "chance": CHANCE, "chance_stderr": {**{k: 0.01 for k in CHANCE}, "ood_rules": {"R1": 0.01, "R2": 0.01}},
        "counts": counts, "decoding": {},
        "manifest": {"rexbench_version": "0.1.0", "python": "3.11", "jax": "x", "jaxlib": "x", "flax": "x",
                     "platform": "test", "device": "cpu", "split_sha256": split_digests("anbn"),
                     "parameters": parameters, "train_steps": None, "train_seconds": None, "created": "2026-11-26T00:00:00Z"},
    }
    validate_result(result)
    return result


def fixture_store(root: Path) -> Path:
    store = root / "results"
    store.mkdir(parents=True)
    rows = []
    for seed in (0, 1):
        rows.append(make_result("oracle-keep", seed, 1.0, (4, 4), (1, 1), (1, 1), (4, 4), None))
        rows.append(make_result("oracle-break", seed, 1.0, (0, 4), (1, 1), (0, 1), (4, 4), None))
    for seed, (nats, ood) in enumerate([(2.0, 2), (3.0, 3), (4.0, 4)]):
        rows.append(make_result("alpha", seed, nats, (ood, 4), (1, 1), (0, 1), (4, 4), 1234))
    for seed, (id_ok, fin) in enumerate([(0, 2), (1, 3), (1, 4)]):
        rows.append(make_result("beta", seed, 2.5, (0, 4), (id_ok, 1), (0, 1), (fin, 4), 99))
    for res in rows:
        (store / result_filename(res["task"], res["model"], res["seed"])).write_text(json.dumps(res))
    return store


def run(root: Path, *extra: str) -> int:
    return main(["leaderboard", "--results", str(root / "results"), "--out", str(root / "leaderboard.md"), *extra])


def test_leaderboard_matches_hand_worked_expectation(tmp_path: Path) -> None:
    fixture_store(tmp_path)
    assert run(tmp_path) == 0
    assert (tmp_path / "leaderboard.md").read_text() == (FIXTURES / "leaderboard_expected.md").read_text()
    png = tmp_path / "results" / "figures" / "anbn.png"
    first = png.read_bytes()
    assert first.startswith(b"\x89PNG")
    assert run(tmp_path) == 0 and png.read_bytes() == first  # deterministic figure


def test_check_detects_stale_leaderboard(tmp_path: Path, capsys) -> None:
    fixture_store(tmp_path)
    assert run(tmp_path, "--check") == 1  # missing
    assert run(tmp_path) == 0
    assert run(tmp_path, "--check") == 0
    extra = make_result("beta", 3, 2.5, (4, 4), (1, 1), (0, 1), (4, 4), 99)
    (tmp_path / "results" / "anbn__beta__seed3.json").write_text(json.dumps(extra))
    assert run(tmp_path, "--check") == 1
    assert "stale" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: "{not json", "cannot read a JSON result"),
        (lambda d: json.dumps({**d, "suite_version": "0"}), "suite_version '0' differs"),
        (lambda d: json.dumps({**d, "manifest": {**d["manifest"], "split_sha256": {**d["manifest"]["split_sha256"], "test": "0" * 64}}}),
         "split 'test' of anbn(N=32) differs"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "metrics"}), "metrics"),
    ],
)
def test_bad_file_is_refused_with_name_and_reason(tmp_path: Path, capsys, damage, reason: str) -> None:
    store = fixture_store(tmp_path)
    bad = store / "anbn__alpha__seed1.json"
    bad.write_text(damage(json.loads(bad.read_text())))
    assert run(tmp_path) == 2
    err = capsys.readouterr().err
    assert "anbn__alpha__seed1.json" in err and reason in err
    assert not (tmp_path / "leaderboard.md").exists() and not (store / "figures").exists()


def test_committed_leaderboard_is_up_to_date() -> None:
    """CI: leaderboard.md is exactly what the committed results/ store generates."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "results").is_dir():
        pytest.fail("results/ store is missing")
    assert main(["leaderboard", "--results", str(root / "results"), "--out", str(root / "leaderboard.md"), "--check"]) == 0
