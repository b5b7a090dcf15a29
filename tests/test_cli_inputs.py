"""Bad input is refused before any work, in one line, with nothing written; the
published store is written only when named; progress is shown, or not, as asked."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from rexbench.benchmark.cli import main
from rexbench.benchmark.commands import common
from rexbench.benchmark.commands.common import output_dir_problem


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if "error" in line]) == 1, err


@pytest.mark.parametrize("seed", ["4294967296", "-1", "2147483648", "x"])
def test_seed_out_of_range(seed: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    assert main(["score", "--model", "uniform", "--task", "anbn", "--seed", seed, "--out", str(out)]) == 2
    _one_line_error(capsys, "seed")
    assert not out.exists()


@pytest.mark.parametrize("seeds", ["-1", "0,0", "2147483647-2147483648", "3-1", "a-b"])
def test_seed_lists(seeds: str, tmp_path: Path, capsys) -> None:
    assert main(["train", "--model", "linear", "--task", "anbn", "--seeds", seeds, "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, "seed")
    assert common.seed_list("0-2,5") == [0, 1, 2, 5] and common.seed_list("2147483647") == [2**31 - 1]


def _bad_outs(tmp_path: Path) -> list[Path]:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return [a_file, a_file / "sub"]


@pytest.mark.parametrize("argv", [
    ["score", "--model", "uniform", "--task", "anbn", "--out"],
    ["train", "--model", "linear", "--task", "anbn", "--steps", "1", "--out"],
    ["reproduce", "--quick", "--out"],
    ["demo", "--steps", "1", "--out"],
    ["export", "anbn", "--out"],
])
def test_bad_out_is_refused_before_any_work(argv: list[str], tmp_path: Path, capsys) -> None:
    for bad in _bad_outs(tmp_path):
        assert main([*argv, str(bad)]) == 2
        _one_line_error(capsys, "is not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_unwritable_directory_is_found_by_really_writing(tmp_path: Path, monkeypatch) -> None:
    """Permission bits do not stop root and an immutable directory stops everyone, so the
    probe creates a file; here creating it fails as on an immutable or read-only mount."""
    assert output_dir_problem(tmp_path / "new" / "deeper") is None  # nearest existing ancestor is writable

    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(common.tempfile, "mkstemp", refuse)
    assert output_dir_problem(tmp_path) == f"{tmp_path} is not writable (Operation not permitted)"
    assert main(["score", "--model", "uniform", "--task", "anbn", "--out", str(tmp_path / "o")]) == 2


def test_leaderboard_out_must_be_a_file(tmp_path: Path, capsys) -> None:
    assert main(["leaderboard", "--results", "results", "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, "is a directory")


def test_unknown_names_list_the_valid_ones(tmp_path: Path, capsys) -> None:
    assert main(["demo", "--task", "foo", "--out", str(tmp_path / "d")]) == 2
    _one_line_error(capsys, "valid tasks: anbn, anbncn, ban, bban, dyck, csdyck")
    assert main(["score", "--model", "uniform", "--task", "anbn", "--name", "bad name!", "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, "invalid model name")
    assert not (tmp_path / "d").exists()


def test_train_needs_an_out_and_reproduce_defaults_outside_the_published_store(tmp_path: Path, capsys,
                                                                             monkeypatch) -> None:
    assert main(["train", "--model", "linear", "--task", "anbn"]) == 2
    _one_line_error(capsys, "--out")
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "--quick", "--dry-run"]) == 0
    assert "store: runs/quick" in capsys.readouterr().out
    assert main(["reproduce", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "store: runs/grid" in out
    # On an empty store what is left is the whole grid, and each run line carries its share.
    left, whole = re.search(r"still to do: about (\d+) min; whole grid: about (\d+) min", out).groups()
    assert left == whole and int(whole) > 0
    assert all("(about " in line for line in out.splitlines() if "to do: seeds" in line)
    assert not (tmp_path / "results").exists()

    # A killed run's training snapshot: the line says where it resumes, and its estimate is
    # about the steps left (training and curve, not scoring: a bit over half here).
    from rexbench.baselines.reproduce import full_grid, snapshot_dir
    from rexbench.baselines.snapshot import Snapshot, save_snapshot

    run = next(r for r in full_grid() if (r.task, r.model, r.regime) == ("anbn", "transformer", "standard"))
    line = next(line for line in out.splitlines() if line.startswith(run.label() + ":"))
    whole_min = int(re.search(r"about (\d+) min", line).group(1))
    half = run.planned_steps // 2
    save_snapshot(snapshot_dir(tmp_path / "runs/grid", "anbn", "transformer"),
                  {"steps": run.planned_steps, "seeds": [0, 1, 2, 3, 4]}, Snapshot(half, (), [], [], [], 0.0, 1.0, 1.0, 1))
    assert main(["reproduce", "--dry-run"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(run.label() + ":"))
    left_min = int(re.fullmatch(rf".*: to do: seeds 0,1,2,3,4 \(about (\d+) min; a training snapshot at "
                                rf"step {half}\)", line).group(1))
    assert whole_min * (1 - half / run.planned_steps) - 1 <= left_min < whole_min  # both rounded to whole minutes


def test_version_and_describe_size(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == "rexbench 0.1.0 (suite v2)"
    assert main(["describe", "anbn", "--size", "4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("anbn(N=4)") and "Example words (train): " in out
    assert main(["describe", "anbn", "--size", "0"]) == 2
    _one_line_error(capsys, "positive integer")


# --------------------------------------------------------------------------- progress
def test_progress_bars_and_no_progress(tmp_path: Path, capsys) -> None:
    fast = ["--limit", "8"]  # every phase still runs, on 8 rows
    assert main(["score", "--model", "stop-now", "--task", "anbn", "--out", str(tmp_path / "q"), "--no-progress", *fast]) == 0
    assert capsys.readouterr().err == ""
    assert main(["score", "--model", "stop-now", "--task", "anbn", "--out", str(tmp_path / "p"), *fast]) == 0
    err = capsys.readouterr().err
    for what in ("refusal checks", "test loss", "greedy ood_prompts", "EOS-withheld decode", "sampled OOD",
                 "sampling from SOS", "chance levels"):
        assert what in err, what
    assert "%|" in err  # tqdm bars (each prints at least its start)
    a, b = (json.loads((tmp_path / d / "anbn__stop-now__seed0.json").read_text()) for d in ("q", "p"))
    a["manifest"].pop("created"), b["manifest"].pop("created")
    assert a == b  # the bars change nothing


# --------------------------------------------------------------------------- factories
def test_factory_gets_the_task_when_it_asks(tmp_path: Path, monkeypatch) -> None:
    from rexbench.benchmark.loaders import load_model, takes_task
    from rexbench.benchmark.reference import oracle
    from rexbench.tasks import get_task

    seen: list = []
    mod = types.ModuleType("user_factories")

    def simple(vocab_size):
        seen.append(("simple", vocab_size))
        return oracle(get_task("anbn"), "keep")

    def per_task(vocab_size, task=None):
        seen.append(("per_task", vocab_size, task.name))
        return oracle(task, "keep")

    mod.simple, mod.per_task = simple, per_task
    monkeypatch.setitem(sys.modules, "user_factories", mod)
    load_model("user_factories:simple", get_task("ban"))
    load_model("user_factories:per_task", get_task("ban"))
    load_model("user_factories:per_task", get_task("bban"))
    assert seen == [("simple", 5), ("per_task", 5, "ban"), ("per_task", 5, "bban")]
    assert takes_task(lambda v, *, task: 0) and not takes_task(lambda v: 0) and not takes_task(print)


def test_manifest_records_torch_when_the_model_uses_it(monkeypatch) -> None:
    from rexbench.benchmark.manifest import build_manifest
    from rexbench.tasks import get_task

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert "torch" not in build_manifest(get_task("anbn"), parameters=None, train_steps=None, train_seconds=None)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(__version__="2.13.0+cpu"))
    m = build_manifest(get_task("anbn"), parameters=None, train_steps=None, train_seconds=None)
    assert m["torch"] == "2.13.0+cpu"
