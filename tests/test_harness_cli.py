"""``rexbench score`` end to end, and the commands of docs/SUBMITTING.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rexbench.benchmark.cli import main
from rexbench.benchmark.results import load_result

ROOT = Path(__file__).resolve().parents[1]


def test_score_oracle_keep(tmp_path: Path, capsys) -> None:
    assert main(["score", "--model", "oracle-keep", "--task", "anbn", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ood_rule_extrapolation" in out and "chance" in out and "test_loss" in out
    result = load_result(tmp_path / "anbn__oracle-keep__seed0.json")
    assert result["metrics"]["ood_rule_extrapolation"] == 1.0 and result["model"] == "oracle-keep"


def test_unknown_task_lists_valid_names(tmp_path: Path, capsys) -> None:
    assert main(["score", "--model", "uniform", "--task", "nope", "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "anbn" in err and "csdyck" in err and "all" in err
    assert not any(tmp_path.iterdir())


def test_unknown_model_lists_valid_names(tmp_path: Path, capsys) -> None:
    assert main(["score", "--model", "nope", "--task", "anbn", "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "oracle-keep" in err and "uniform" in err and "module.path:factory" in err
    assert main(["score", "--model", "no_such_module:f", "--task", "anbn", "--out", str(tmp_path)]) != 0
    assert "cannot import" in capsys.readouterr().err


def _doc_commands() -> list[str]:
    text = (ROOT / "docs" / "SUBMITTING.md").read_text()
    return sorted(set(re.findall(r"^rexbench score --model (examples\.\w+:make_model) --task anbn", text, re.M)))


# The PyTorch example needs torch, which is not a dependency (CI does not install it);
# scripts/bench_host.py scores it both ways and checks the two agree.
NEEDS_TORCH = "examples.submit_torch:make_model"


def test_docs_list_every_example() -> None:
    assert _doc_commands() == [
        "examples.submit_flax:make_model", "examples.submit_jax:make_model", "examples.submit_numpy:make_model",
        NEEDS_TORCH,
    ]


@pytest.mark.parametrize("spec", [s for s in _doc_commands() if s != NEEDS_TORCH])
def test_documented_examples_run(spec: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    # --limit keeps the test fast: every phase runs (on 16 rows); README's scoring examples run in full
    assert main(["score", "--model", spec, "--task", "anbn", "--out", str(tmp_path), "--limit", "16"]) == 0
    (path,) = tmp_path.glob("anbn__*.json")
    assert (tmp_path / f"run__{path.name.split('__')[1]}__seed0.json").is_file()  # the run summary
    result = load_result(path, allow_limited=True)
    assert result["model"] == spec and result["task"] == "anbn" and result["limit"] == 16


def test_scheme_hook_records_training_provenance(tmp_path: Path, monkeypatch) -> None:
    from rexbench.benchmark.loaders import MODEL_SCHEMES, LoadedModel
    from rexbench.benchmark.reference import uniform

    seen = []

    def load_checkpoint(rest: str, task, **_kw) -> LoadedModel:
        seen.append(rest)
        return LoadedModel(uniform(task), f"ckpt-{rest}", parameters=7, train_steps=100, train_seconds=1.5,
                           checkpoint_rule="min_val_loss")

    monkeypatch.setitem(MODEL_SCHEMES, "ckpt", load_checkpoint)
    assert main(["score", "--model", "ckpt:runs/x", "--task", "anbn", "--seed", "2", "--out", str(tmp_path)]) == 0
    assert seen == ["runs/x"]
    result = load_result(tmp_path / "anbn__ckpt-runs-x__seed2.json")
    assert result["checkpoint_rule"] == "min_val_loss" and result["seed"] == 2
    assert (result["manifest"]["parameters"], result["manifest"]["train_steps"], result["manifest"]["train_seconds"]) == (7, 100, 1.5)
