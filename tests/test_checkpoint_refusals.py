"""Bad checkpoints given to ``rexbench score --model PATH|ckpt:PATH``: each one line, exit 2,
no traceback, nothing written; a checkpoint is scored only on its own task and vocabulary."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import jax
import pytest

from rexbench.baselines.checkpoint import META_FILE, PARAMS_FILE, save_checkpoint
from rexbench.baselines.train import init_params
from rexbench.benchmark.cli import main


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ck")
    _, stacked = init_params("linear", 5, [0])
    params = jax.tree.map(lambda x: x[0], stacked)
    return save_checkpoint(root / "anbn__linear__seed0", params,
                           {"model": "linear", "hyper": {}, "vocab_size": 5, "task": "anbn", "seed": 0, "steps": 1})


def _meta(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        meta = json.loads((path / META_FILE).read_text())
        edit(meta)
        (path / META_FILE).write_text(json.dumps(meta))

    return apply


CASES = [
    ("params missing", lambda p: (p / PARAMS_FILE).unlink(), "params.msgpack"),
    ("meta missing", lambda p: (p / META_FILE).unlink(), "checkpoint.json"),
    ("params not msgpack", lambda p: (p / PARAMS_FILE).write_bytes(b"\x00garbage" * 10), "cannot read params.msgpack"),
    ("meta not JSON", lambda p: (p / META_FILE).write_text("{oops"), "not a rexbench checkpoint directory"),
    ("other model kind", _meta(lambda m: m.update(model="lstm")), "stored parameters do not match model 'lstm'"),
    ("unknown model", _meta(lambda m: m.update(model="gpt5")), "is not a baseline; valid: transformer"),
    ("shape mismatch", _meta(lambda m: m.update(hyper={"d_model": 24})), "parameter"),
    ("bad hyper", _meta(lambda m: m.update(hyper={"no_such_option": 1})), "cannot build model 'linear'"),
    ("other format", _meta(lambda m: m.update(format="x/9")), "unknown checkpoint format"),
    ("other task", _meta(lambda m: m.update(task="ban")), "trained on task 'ban', not 'anbn'"),
    ("other vocabulary", _meta(lambda m: m.update(vocab_size=7)), "vocabulary 7 does not match task 'anbn'"),
]


@pytest.mark.parametrize(("label", "damage", "needle"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("scheme", ["", "ckpt:"])
def test_bad_checkpoint_is_one_line(label, damage, needle, scheme, good: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    damage(bad)
    out = tmp_path / "out"
    rc = main(["score", "--model", f"{scheme}{bad}", "--task", "anbn", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_path_and_bad_out(good: Path, tmp_path: Path, capsys) -> None:
    assert main(["score", "--model", f"ckpt:{tmp_path / 'nope'}", "--task", "anbn", "--out", str(tmp_path / "o")]) == 2
    assert "not a rexbench checkpoint directory" in capsys.readouterr().err
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["score", "--model", str(good), "--task", "anbn", "--out", str(a_file / "sub")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_other_task_only_when_asked_and_recorded(good: Path, tmp_path: Path, capsys) -> None:
    """``anbn`` and ``ban`` share V = 5: without the flag the checkpoint is refused on ``ban``;
    with it, the result says which task the model was trained on, and a leaderboard row
    cannot mix it with results of models trained on ``ban``."""
    from rexbench.benchmark.leaderboard import row_signature
    from rexbench.benchmark.results import load_result

    out = tmp_path / "out"
    assert main(["score", "--model", str(good), "--task", "ban", "--out", str(out), "--no-progress"]) == 2
    assert "trained on task 'anbn', not 'ban'" in capsys.readouterr().err and not out.exists()
    assert main(["score", "--model", str(good), "--task", "ban", "--out", str(out), "--no-progress",
                 "--allow-task-mismatch", "--name", "linear-from-anbn", "--limit", "8"]) == 0  # --limit: fast
    result = load_result(out / "ban__linear-from-anbn__seed0.json", allow_limited=True)
    assert result["trained_on_task"] == "anbn" and result["task"] == "ban" and result["model"] == "linear-from-anbn"
    assert row_signature(result)["trained_on_task"] == "anbn"
