"""``rexbench train`` end to end, checkpoint re-scoring, and ``reproduce`` resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rexbench.baselines import reproduce as rp
from rexbench.baselines.checkpoint import load_checkpoint
from rexbench.benchmark.cli import main
from rexbench.benchmark.results import load_result
from rexbench.tasks import get_split

E2E_MODEL = "linear"  # the cheapest baseline: the pipeline is what is under test here


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    rc = main(["train", "--model", E2E_MODEL, "--task", "anbn", "--steps", "30", "--seeds", "0-1",
               "--out", str(out), "--no-progress", "--capability-curve"])
    assert rc == 0
    return out


def test_train_writes_valid_results(trained) -> None:
    for seed in (0, 1):
        result = load_result(trained / f"anbn__{E2E_MODEL}__seed{seed}.json")
        assert result["model"] == E2E_MODEL and result["seed"] == seed
        assert result["checkpoint_rule"] == "min_val_loss"
        assert result["manifest"]["train_steps"] == 30 and result["manifest"]["train_seconds"] > 0
        assert [s for s, _ in result["training"]["capability_curve"]] == [30]  # --capability-curve: one val point
        assert result["manifest"]["parameters"] > 0
        t = result["training"]
        assert t["steps"] == 30 and t["best_step"] == 30  # one validation, after the last step
        assert t["seeds_trained_together"] == [0, 1]
        assert t["train_segments"] == 1
        # The scored model is the kept checkpoint: its val loss is the selected one.
        assert abs(result["metrics"]["val_loss"] - t["best_val_loss_during_training"]) < 1e-5


def test_snapshot_is_gone_once_the_results_are_written(trained) -> None:
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == [
        f"anbn__{E2E_MODEL}__seed0", f"anbn__{E2E_MODEL}__seed1"]


def test_train_killed_after_training_resumes_without_training_again(tmp_path, monkeypatch, capsys) -> None:
    """Killed after its last snapshot (while scoring): the same command again trains
    nothing, writes the results (``train_segments`` 1: one process trained) and removes
    the snapshot and its folder."""
    from rexbench.baselines import train as train_module

    real = train_module.save_snapshot

    def save_then_die(*a, **k):
        real(*a, **k)
        raise KeyboardInterrupt

    argv = ["train", "--model", E2E_MODEL, "--task", "anbn", "--steps", "30", "--seeds", "0", "--out", str(tmp_path),
            "--no-progress"]
    monkeypatch.setattr(train_module, "save_snapshot", save_then_die)
    assert main(argv) == 130
    assert capsys.readouterr().err.strip() == (
        "rexbench train: interrupted (result files are written atomically: none is half-written; the same command "
        "resumes an unfinished run from its last training snapshot, if it wrote one)")
    monkeypatch.undo()
    [snapshot] = (tmp_path / "checkpoints" / f"anbn__{E2E_MODEL}__training").glob("snapshot-*.npz")
    assert not (tmp_path / f"anbn__{E2E_MODEL}__seed0.json").exists()
    assert main(argv) == 0
    assert f"resuming from step 30 of 30 ({snapshot}; delete it to start over)" in capsys.readouterr().out
    result = load_result(tmp_path / f"anbn__{E2E_MODEL}__seed0.json")
    assert result["training"]["train_segments"] == 1 and result["manifest"]["train_steps"] == 30
    assert not snapshot.parent.exists()


def test_grid_killed_while_writing_results_trains_no_seed_again(tmp_path, monkeypatch) -> None:
    """Killed after seed 0's result and before seed 1's: the rerun has seed 1 left, takes
    its lane of the two-seed snapshot of the last step (no training) and writes the same
    result as a run that never stopped."""
    from rexbench.benchmark import results as results_module

    grid = [rp.GridRun("anbn", E2E_MODEL, steps=4)]
    monkeypatch.setattr(rp, "score_references", lambda *a, **k: [])
    rp.reproduce(tmp_path / "whole", grid, seeds=(0, 1), progress=False, log=lambda s: None)

    real, written = results_module.write_result, []

    def write_then_die(*a, **k):
        written.append(real(*a, **k))
        raise KeyboardInterrupt

    monkeypatch.setattr(results_module, "write_result", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        rp.reproduce(tmp_path / "killed", grid, seeds=(0, 1), progress=False, log=lambda s: None)
    monkeypatch.setattr(results_module, "write_result", real)
    assert [p.name for p in written] == [f"anbn__{E2E_MODEL}__seed0.json"]
    logs: list[str] = []
    rp.reproduce(tmp_path / "killed", grid, seeds=(0, 1), progress=False, log=logs.append)
    assert any(line.startswith("resuming from step 4 of 4 (") for line in logs), logs
    a, b = (load_result(tmp_path / d / f"anbn__{E2E_MODEL}__seed1.json") for d in ("whole", "killed"))
    assert a["metrics"] == b["metrics"] and a["records"] == b["records"]
    assert a["training"]["val_curve"] == b["training"]["val_curve"]
    assert b["training"]["seeds_trained_together"] == [1] and b["training"]["train_segments"] == 1
    assert not (tmp_path / "killed" / "checkpoints" / f"anbn__{E2E_MODEL}__training").exists()


def test_checkpoint_reloads_and_rescores(trained, tmp_path) -> None:
    ckpt = trained / "checkpoints" / f"anbn__{E2E_MODEL}__seed1"
    meta = json.loads((ckpt / "checkpoint.json").read_text())
    assert meta["model"] == E2E_MODEL and meta["task"] == "anbn" and meta["seed"] == 1 and meta["steps"] == 30
    model = load_checkpoint(ckpt)
    logits = np.asarray(model(get_split("anbn", "val").tokens(66)[:4]))
    assert logits.shape == (4, 66, 5) and np.isfinite(logits).all()
    rc = main(["score", "--model", f"ckpt:{ckpt}", "--task", "anbn", "--seed", "1", "--out", str(tmp_path)])
    assert rc == 0
    again = load_result(tmp_path / f"anbn__{E2E_MODEL}__seed1.json")
    first = load_result(trained / f"anbn__{E2E_MODEL}__seed1.json")
    assert again["metrics"] == first["metrics"]
    assert again["manifest"]["train_steps"] == 30 and again["checkpoint_rule"] == "min_val_loss"
    # A bare checkpoint directory is the same model as ckpt:PATH.
    bare = tmp_path / "bare"
    assert main(["score", "--model", str(ckpt), "--task", "anbn", "--seed", "1", "--out", str(bare)]) == 0
    assert load_result(bare / f"anbn__{E2E_MODEL}__seed1.json")["metrics"] == first["metrics"]


def test_unknown_names_exit_nonzero(capsys) -> None:
    assert main(["train", "--model", "gpt5", "--task", "anbn", "--out", "unused"]) != 0
    assert "valid models: transformer, lstm, linear, mamba" in capsys.readouterr().err
    assert main(["train", "--model", "lstm", "--task", "anbm", "--out", "unused"]) != 0
    assert "valid tasks: anbn, anbncn, ban, bban, dyck, csdyck" in capsys.readouterr().err
    assert main(["train", "--model", "lstm", "--task", "anbn", "--regime", "x", "--out", "unused"]) != 0
    assert "valid regimes" in capsys.readouterr().err


def test_reproduce_skips_finished_runs(tmp_path, monkeypatch) -> None:
    # the reference rows' own skipping is test_scaleout's rerun test; scoring them here (twice
    # five rows, for seeds 0 and 1) would only add time
    monkeypatch.setattr(rp, "score_references", lambda *a, **k: [])
    grid = [rp.GridRun("anbn", E2E_MODEL, steps=10)]
    rp.reproduce(tmp_path, grid, seeds=(0,), progress=False, save_checkpoints=False, log=lambda s: None)
    assert load_result(tmp_path / f"anbn__{E2E_MODEL}__seed0.json")["manifest"]["train_steps"] == 10

    calls = []
    monkeypatch.setattr(rp, "train_and_score", lambda *a, **k: calls.append((a, k)))
    summary = rp.reproduce(tmp_path, grid, seeds=(0, 1), progress=False, log=lambda s: None)
    assert [a[2] for a, _ in calls] == [[1]]  # seed 0 exists and validates: only seed 1 is trained
    assert summary["skipped"] == [(grid[0].label(), 0)]

    calls.clear()
    (tmp_path / f"anbn__{E2E_MODEL}__seed0.json").write_text("{truncated")  # an interrupted/corrupt file is redone
    rp.reproduce(tmp_path, grid, seeds=(0,), progress=False, log=lambda s: None)
    assert [a[2] for a, _ in calls] == [[0]]

    calls.clear()  # a result trained for another budget is not this run's
    rp.reproduce(tmp_path, [rp.GridRun("anbn", E2E_MODEL, steps=20)], seeds=(0,), progress=False, log=lambda s: None)
    assert [a[2] for a, _ in calls] == [[0]]


def test_a_refused_seed_leaves_the_others_written(tmp_path, monkeypatch) -> None:
    """A seed the harness refuses gets no result file; the run's other seeds still do, and the
    refusal names the seed (the xLSTM's seed 4 on bban once took its four siblings with it)."""
    from rexbench.benchmark import score as score_module
    from rexbench.benchmark.errors import ModelRefused

    real = score_module.score_model

    def refuse_seed_0(model, task, *, seed, **kw):
        if seed == 0:
            raise ModelRefused("batch-dependent: made up by the test")
        return real(model, task, seed=seed, **kw)

    monkeypatch.setattr(score_module, "score_model", refuse_seed_0)
    with pytest.raises(ModelRefused, match=r"linear on anbn\(N=32\): seed 0: batch-dependent: made up"):
        rp.train_and_score(E2E_MODEL, "anbn", [0, 1], tmp_path, steps=4, progress=False, save_checkpoints=False,
                           log=lambda s: None)
    assert not (tmp_path / f"anbn__{E2E_MODEL}__seed0.json").exists()
    assert load_result(tmp_path / f"anbn__{E2E_MODEL}__seed1.json")["seed"] == 1


def test_grid_goes_on_after_a_refusal_and_the_command_fails(tmp_path, monkeypatch, capsys) -> None:
    from rexbench.benchmark.errors import ModelRefused

    calls = []

    def train_and_score(model, task, seeds, out, **kw):
        calls.append(task)
        if task == "anbn":
            raise ModelRefused(f"{model} on {task}: seed 0: not causal: made up by the test")

    monkeypatch.setattr(rp, "train_and_score", train_and_score)
    monkeypatch.setattr(rp, "score_references", lambda *a, **k: [])
    grid = [rp.GridRun("anbn", E2E_MODEL, steps=4), rp.GridRun("ban", E2E_MODEL, steps=4)]
    summary = rp.reproduce(tmp_path, grid, seeds=(0,), progress=False, log=lambda s: None)
    assert calls == ["anbn", "ban"] and summary["refused"] == ["linear on anbn: seed 0: not causal: made up by the test"]

    monkeypatch.setattr(rp, "reproduce", lambda *a, **k: summary)
    assert main(["reproduce", "--models", E2E_MODEL, "--tasks", "anbn,ban", "--out", str(tmp_path / "store"),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "rexbench reproduce: the harness refused a trained model: linear on anbn: seed 0: not causal: made up by the test"


def test_grids() -> None:
    default, full = rp.full_grid(), rp.full_grid(full=True)
    assert len(default) == 6 * 3 + 2 and len(full) == 6 * 5 + 2
    assert {(r.task, r.model) for r in default if r.regime == "standard"} == {
        (t, m) for t in rp.TASK_ORDER for m in ("transformer", "lstm", "linear")}
    assert {(r.task, r.model) for r in full if r.regime == "standard"} == {
        (t, m) for t in rp.TASK_ORDER for m in ("transformer", "lstm", "linear", "mamba", "xlstm")}
    for grid in (default, full):
        assert {r.result_model for r in grid if r.regime != "standard"} == {"transformer-oracle", "transformer-adversarial"}
    assert all(r.steps is not None for r in rp.quick_grid())
    assert {r.model for r in rp.quick_grid()} == set(rp.BASELINES)


def test_grid_steps_capped_and_full() -> None:
    """The default grid caps each run at STEPS[task] (one cap per task, every model);
    the full grid trains the rule's budgets; worked by hand from recipe.BUDGETS."""
    from rexbench.baselines import recipe

    steps = {(r.task, r.model, r.regime): r.planned_steps for r in rp.full_grid()}
    full = {(r.task, r.model, r.regime): r.planned_steps for r in rp.full_grid(full=True)}
    assert full[("dyck", "mamba", "standard")] == 4800 and ("dyck", "mamba", "standard") not in steps
    assert full[("dyck", "lstm", "standard")] == 4800 and steps[("dyck", "lstm", "standard")] == 1200
    assert steps[("anbn", "transformer", "standard")] == full[("anbn", "transformer", "standard")] == 300
    assert steps[("ban", "transformer", "standard")] == 250 and full[("ban", "transformer", "standard")] == 900
    assert steps[("anbn", "transformer", "oracle")] == 300
    assert all(steps[k] == min(full[k], recipe.STEPS[k[0]]) for k in steps)
    assert all(full[k] == recipe.BUDGETS[k[:2]] for k in full)
