"""Training snapshots (baselines/snapshot.py): a killed run resumes to the same numbers, bit
for bit; a snapshot of another plan or a damaged one is ignored, never trusted."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from rexbench.baselines import train as train_module
from rexbench.baselines.recipe import DEFAULT
from rexbench.baselines.snapshot import FILE, load_snapshot
from rexbench.baselines.train import train

RECIPE = DEFAULT.replace(eval_every=2)  # 6 steps = 3 chunks; the kill comes after the second
STEPS = 6


def _json(x):
    return json.loads(json.dumps(x))


def _kill_after(monkeypatch, saves: int) -> None:
    """Makes the process 'die' (KeyboardInterrupt) right after its ``saves``-th snapshot."""
    real, calls = train_module.save_snapshot, []

    def save_then_die(*a, **k):
        path = real(*a, **k)
        calls.append(path)
        if len(calls) == saves:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(train_module, "save_snapshot", save_then_die)


def _same_run(a, b) -> None:
    for x, y in zip(jax.tree.leaves(a.best_params), jax.tree.leaves(b.best_params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    np.testing.assert_array_equal(a.best_val_loss, b.best_val_loss)
    np.testing.assert_array_equal(a.best_step, b.best_step)
    assert _json(a.val_curve) == _json(b.val_curve) and _json(a.train_curve) == _json(b.train_curve)
    assert _json(a.capability_curve) == _json(b.capability_curve)
    assert a.steps == b.steps == STEPS


# linear: one sequence per row (the batch streams are replayed), a regime's extra batches
# and the capability curve; lstm: packed rows (the run's layout is re-derived).
@pytest.mark.parametrize("model, regime, curve", [("linear", "adversarial", True), ("lstm", "standard", False)])
def test_killed_run_resumes_bit_for_bit(model, regime, curve, tmp_path, monkeypatch) -> None:
    kw = dict(steps=STEPS, regime=regime, recipe=RECIPE, capability_curve=curve, progress=False)
    whole = train(model, "anbn", (0, 1), **kw)
    assert whole.train_segments == 1

    _kill_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train(model, "anbn", (0, 1), snapshot=tmp_path, snapshot_every=0, log=lambda s: None, **kw)
    monkeypatch.undo()
    logs: list[str] = []
    resumed = train(model, "anbn", (0, 1), snapshot=tmp_path, snapshot_every=0, log=logs.append, **kw)
    assert logs == [f"resuming from step 4 of {STEPS} ({tmp_path / FILE}; delete it to start over)"]
    assert resumed.train_segments == 2
    _same_run(whole, resumed)
    if curve:
        assert [step for step, _ in resumed.capability_curve] == [2, 4, 6]

    # the last snapshot is of step 6: a third call trains nothing and returns the same run
    logs.clear()
    again = train(model, "anbn", (0, 1), snapshot=tmp_path, snapshot_every=0, log=logs.append, **kw)
    assert logs == [f"resuming from step 6 of {STEPS} ({tmp_path / FILE}; delete it to start over)"]
    assert again.train_segments == 3 and again.compile_seconds == resumed.compile_seconds
    _same_run(whole, again)


def test_another_plan_or_a_damaged_snapshot_starts_over(tmp_path, monkeypatch) -> None:
    kw = dict(steps=STEPS, recipe=RECIPE, progress=False, snapshot=tmp_path, snapshot_every=0)
    whole = train("linear", "anbn", (0,), steps=STEPS, recipe=RECIPE, progress=False)
    _kill_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        train("linear", "anbn", (0,), log=lambda s: None, **kw)
    monkeypatch.undo()
    snap = (tmp_path / FILE).read_bytes()

    logs: list[str] = []  # seed 1 is another plan: ignored, trained from step 0, overwritten
    other = train("linear", "anbn", (1,), log=logs.append, **kw)
    assert len(logs) == 1 and logs[0].startswith(f"ignoring the training snapshot {tmp_path / FILE}: another plan (seeds differ)")
    assert other.train_segments == 1

    for damage in (snap[: len(snap) // 2], b"not a zip file", snap.replace(b'"done": 2', b'"done": 9')):
        (tmp_path / FILE).write_bytes(damage)
        logs.clear()
        fresh = train("linear", "anbn", (0,), log=logs.append, **kw)
        assert len(logs) == 1 and logs[0].startswith("ignoring the"), logs
        assert "starting at step 0" in logs[0] and fresh.train_segments == 1
        _same_run(whole, fresh)


def test_snapshot_arrays_must_fit_the_run(tmp_path, monkeypatch) -> None:
    """A snapshot whose plan matches but whose arrays are of another shape (a hand-edited
    file, another model build) is refused by the shape check, not loaded into the run."""
    _kill_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        train("linear", "anbn", (0,), steps=STEPS, recipe=RECIPE, progress=False, snapshot=tmp_path,
              snapshot_every=0, log=lambda s: None)
    with np.load(tmp_path / FILE) as npz:
        meta = json.loads(npz["meta"].tobytes().decode())
        like = [npz[f"leaf{i}"] for i in range(meta["leaves"])]
    logs: list[str] = []
    assert load_snapshot(tmp_path, meta["plan"], like, log=logs.append).done == 2 and not logs
    wrong = [np.zeros((3,) + x.shape, x.dtype) for x in like]
    assert load_snapshot(tmp_path, meta["plan"], wrong, log=logs.append) is None
    assert logs == [f"ignoring the training snapshot {tmp_path / FILE}: its arrays or step do not fit this run; "
                    "starting at step 0"]
