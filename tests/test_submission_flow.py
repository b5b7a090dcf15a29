"""The submission flow: ``--limit`` smoke tests (marked, never on the leaderboard),
``--log-samples``, the run summary, ``rexbench.evaluate`` and ``rexbench verify``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rexbench
from rexbench.benchmark.audit import audit_result
from rexbench.benchmark.cli import main
from rexbench.benchmark.errors import ResultError
from rexbench.benchmark.results import dump_result, load_result
from rexbench.benchmark.verify import compare

LIMIT = 8


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    argv = ["score", "--model", "stop-now", "--task", "anbn", "--limit", str(LIMIT), "--log-samples", "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    return out


def test_limit_scores_the_first_rows_only(smoke: Path) -> None:
    res = load_result(smoke / "anbn__stop-now__seed0.json", allow_limited=True)
    task = rexbench.get_task("anbn")
    assert res["limit"] == LIMIT
    c = res["counts"]
    assert len(rexbench.get_split(task, "id_prompts")) == 5  # anbn has 5 ID prompts: all kept
    assert c["id_accuracy"]["count"] == 5 and c["length_extrapolation"]["count"] == LIMIT
    headline = sum(rexbench.get_split(task, "ood_prompts").completable[task.keep_rule][:LIMIT])
    assert c["ood_rule_extrapolation"]["count"] == headline
    assert c["generation_accuracy"]["count"] == LIMIT
    # test loss over the first 8 test sequences: each has len(word) + 1 targets (symbols and EOS)
    words = rexbench.get_split(task, "test").words[:LIMIT]
    assert c["test_loss"]["tokens"] == sum(len(w) + 1 for w in words)
    audit_result(task, res)  # the audit understands a limited result


def test_limited_results_never_reach_the_leaderboard(smoke: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(ResultError, match="scored with --limit 8"):
        load_result(smoke / "anbn__stop-now__seed0.json")
    assert main(["leaderboard", "--results", str(smoke), "--out", str(tmp_path / "lb.md")]) == 2
    assert "never accepted by the leaderboard" in capsys.readouterr().err
    # removing the mark does not help: the records no longer match the full splits
    res = json.loads((smoke / "anbn__stop-now__seed0.json").read_text())
    del res["limit"]
    store = tmp_path / "store"
    store.mkdir()
    (store / "anbn__stop-now__seed0.json").write_text(dump_result(res))
    assert main(["leaderboard", "--results", str(store), "--out", str(tmp_path / "lb.md")]) == 2
    assert "records." in capsys.readouterr().err


def test_log_samples_and_run_summary(smoke: Path) -> None:
    res = load_result(smoke / "anbn__stop-now__seed0.json", allow_limited=True)
    rows = [json.loads(line) for line in (smoke / "anbn__stop-now__seed0.samples.jsonl").read_text().splitlines()]
    by_block: dict[str, list[dict]] = {}
    for row in rows:
        by_block.setdefault(row["block"], []).append(row)
    assert [len(by_block[b]) for b in ("id_prompts", "ood_prompts", "length_prompts", "generation")] == [5, 8, 8, 8]
    ood = res["records"]["ood_prompts"]
    assert [r["completion"] for r in by_block["ood_prompts"]] == ood["completion"]
    assert "".join("1" if r["rules"]["R1"] else "0" for r in by_block["ood_prompts"]) == ood["rules"]["R1"]
    assert sum(r["keep"] for r in by_block["sampled_ood"]) == res["counts"]["sampled_ood_rule_extrapolation"]["successes"]
    summary = json.loads((smoke / "run__stop-now__seed0.json").read_text())
    assert summary["limit"] == LIMIT and summary["tasks"]["anbn"]["file"] == "anbn__stop-now__seed0.json"
    assert summary["tasks"]["anbn"]["metrics"]["ood_stop_rule"] == res["metrics"]["ood_stop_rule"]


def test_verify_reproduces_and_catches_another_model(smoke: Path, capsys) -> None:
    path = str(smoke / "anbn__stop-now__seed0.json")
    assert main(["verify", path, "--model", "stop-now", "--no-progress"]) == 0
    assert "verified exactly" in capsys.readouterr().out
    assert main(["verify", path, "--model", "oracle-keep", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "records.length_prompts.completion[0]: stored '$'" in out


def test_verify_catches_a_consistent_hand_edit(smoke: Path, tmp_path: Path, capsys) -> None:
    """A completion edited together with its verdict, counts and metrics passes the audit
    (the file agrees with itself) but not verification (it is not the model's)."""
    res = load_result(smoke / "anbn__stop-now__seed0.json", allow_limited=True)
    rec = res["records"]["id_prompts"]
    assert rec["in_language"][0] == "1"
    rec["completion"][0] = "a$"
    rec["in_language"] = "0" + rec["in_language"][1:]
    res["counts"]["id_accuracy"]["successes"] -= 1
    res["metrics"]["id_accuracy"] = res["counts"]["id_accuracy"]["successes"] / res["counts"]["id_accuracy"]["count"]
    edited = tmp_path / "anbn__stop-now__seed0.json"
    edited.write_text(dump_result(res))
    load_result(edited, allow_limited=True)  # self-consistent
    assert main(["verify", str(edited), "--model", "stop-now", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "records.id_prompts.completion[0]" in out and "counts.id_accuracy.successes" in out


def test_compare_by_hand() -> None:
    a = {"metrics": {"test_loss": 0.5, "id_accuracy": 0.25}, "counts": {"test_loss": {"nats": 5.0, "tokens": 10}},
         "records": {"generation": {"finished": "0110"}}, "seed": 0}
    b = json.loads(json.dumps(a))
    assert compare(a, b) == []
    b["metrics"]["test_loss"], b["counts"]["test_loss"]["nats"] = 0.5000001, 5.000001
    assert [d.path for d in compare(a, b)] == ["metrics.test_loss", "counts.test_loss.nats"]
    assert compare(a, b, loss_tolerance=1e-6) == []
    b["records"]["generation"]["finished"] = "0100"
    b["seed"] = 1
    assert [str(d) for d in compare(a, b, loss_tolerance=1e-6)] == [
        "seed: stored 0, re-scored 1", "records.generation.finished[2]: stored '1', re-scored '0'"]


def test_evaluate_in_python(tmp_path: Path) -> None:
    results = rexbench.evaluate("oracle-keep", tasks=["anbn"], seed=3, limit=4, progress=False, out=tmp_path,
                                name="my-oracle")
    res = results["anbn"]
    assert res["model"] == "my-oracle" and res["seed"] == 3 and res["limit"] == 4
    assert res["metrics"]["ood_rule_extrapolation"] in (1.0, None)
    assert (tmp_path / "anbn__my-oracle__seed3.json").is_file() and (tmp_path / "run__my-oracle__seed3.json").is_file()
    with pytest.raises(rexbench.tasks.UnknownTaskError):
        rexbench.evaluate("oracle-keep", tasks=["anbn", "nope"], progress=False)
