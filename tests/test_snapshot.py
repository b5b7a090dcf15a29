"""Training snapshots (baselines/snapshot.py): a killed run resumes to the same numbers, bit
for bit; a snapshot of another plan or a damaged one is ignored, never trusted."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from rexbench.baselines import train as train_module
from rexbench.baselines.recipe import DEFAULT
from rexbench.baselines.snapshot import _META, load_snapshot
from rexbench.baselines.train import train

RECIPE = DEFAULT.replace(eval_every=2)  # 6 steps = 3 chunks; the kill comes after the second
# a step size so large that the val loss goes up again: with the adversarial regime both
# seeds' best step is 4, where the kill comes, so the resumed run must keep the snapshot's
# best parameters, val and step (a fresh best_val of inf would pick step 6)
WILD = DEFAULT.replace(eval_every=2, peak_lr=1.0, warmup_steps=1)
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


def _snapshot(folder):
    [path] = folder.glob("snapshot-*.npz")
    return path


# linear: one sequence per row (the batch streams are replayed), a regime's extra batches,
# the capability curve, and a best step before the end; lstm: packed rows (the run's
# layout is re-derived).
@pytest.mark.parametrize("model, regime, curve, recipe", [("linear", "adversarial", True, WILD),
                                                          ("lstm", "standard", False, RECIPE)])
def test_killed_run_resumes_bit_for_bit(model, regime, curve, recipe, tmp_path, monkeypatch) -> None:
    hyper = {"embed_dim": 8, "hidden_dim": 8, "num_layers": 1} if model == "lstm" else None  # a small compile
    kw = dict(steps=STEPS, regime=regime, recipe=recipe, capability_curve=curve, progress=False, hyper=hyper)
    whole = train(model, "anbn", (0, 1), **kw)
    assert whole.train_segments == 1
    if recipe is WILD:
        assert list(whole.best_step) == [4, 4]

    _kill_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train(model, "anbn", (0, 1), snapshot=tmp_path, snapshot_every=0, log=lambda s: None, **kw)
    monkeypatch.undo()
    logs: list[str] = []
    resumed = train(model, "anbn", (0, 1), snapshot=tmp_path, snapshot_every=0, log=logs.append, **kw)
    assert logs == [f"resuming from step 4 of {STEPS} ({_snapshot(tmp_path)}; delete it to start over)"]
    assert resumed.train_segments == 2 and resumed.snapshot_files == (str(_snapshot(tmp_path)),)
    _same_run(whole, resumed)
    if curve:
        assert [step for step, _ in resumed.capability_curve] == [2, 4, 6]

    # the last snapshot is of step 6: a third call trains nothing and returns the same run
    logs.clear()
    again = train(model, "anbn", (0, 1), snapshot=tmp_path, snapshot_every=0, log=logs.append, **kw)
    assert logs == [f"resuming from step 6 of {STEPS} ({_snapshot(tmp_path)}; delete it to start over)"]
    assert again.train_segments == 2 and again.compile_seconds == resumed.compile_seconds
    _same_run(whole, again)
    # ... and so does a run of seed 1 alone: its lane of the two-seed snapshot
    alone = train(model, "anbn", (1,), snapshot=tmp_path, snapshot_every=0, log=logs.append, **kw)
    for x, y in zip(jax.tree.leaves(alone.best_params), jax.tree.leaves(whole.best_params), strict=True):
        np.testing.assert_array_equal(np.asarray(x)[0], np.asarray(y)[1])
    assert _json(alone.val_curve) == [[s, [v[1]]] for s, v in _json(whole.val_curve)]


def _rewrite(path, edit) -> None:
    """The snapshot at ``path`` with ``edit(meta)`` applied, re-saved as a valid npz."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays[_META].tobytes().decode())
    edit(meta)
    arrays[_META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)


def test_another_plan_or_a_damaged_snapshot_starts_over(tmp_path, monkeypatch) -> None:
    kw = dict(steps=STEPS, recipe=RECIPE, progress=False, snapshot=tmp_path, snapshot_every=0)
    whole = train("linear", "anbn", (0,), steps=STEPS, recipe=RECIPE, progress=False)
    _kill_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        train("linear", "anbn", (0,), log=lambda s: None, **kw)
    monkeypatch.undo()
    path = _snapshot(tmp_path)
    good = path.read_bytes()
    with np.load(path) as npz:
        plan = json.loads(npz[_META].tobytes().decode())["plan"]
        like = [npz[f"leaf{i}"] for i in range(len(npz.files) - 1)]

    logs: list[str] = []  # another plan (seed 1; 8 steps): not a candidate, and left as it is
    for other in (dict(seeds=(1,)), dict(seeds=(0,), steps=8)):
        run = train("linear", "anbn", log=logs.append, **{**kw, **other})
        assert run.train_segments == 1 and not logs
        [mine] = run.snapshot_files
        assert path.read_bytes() == good and mine != str(path)

    # damaged or inconsistent: ignored, with one line saying why (checked on the loader,
    # then once end to end through a run, which then equals one that never had a snapshot)
    damages = {
        "half a file": (lambda: path.write_bytes(good[: len(good) // 2]), "unreadable"),
        "not a zip file": (lambda: path.write_bytes(b"not a zip file"), "unreadable"),
        "no plan": (lambda: _rewrite(path, lambda m: m.pop("plan")), "unreadable"),
        "a plan of the wrong type": (lambda: _rewrite(path, lambda m: m.update(plan=[1, 2])), "unreadable"),
        "a step off the chunks": (lambda: _rewrite(path, lambda m: m.update(done=3)), "step 3 is not a validation step"),
        "a step past the end": (lambda: _rewrite(path, lambda m: m.update(done=8)), "step 8 is not a validation step"),
        "a curve that ends elsewhere": (lambda: _rewrite(path, lambda m: m.update(val_curve=[])),
                                        "its val_curve does not end at step 2"),
        "bad times": (lambda: _rewrite(path, lambda m: m.update(train_seconds=-1.0)), "times or segment count"),
    }
    for what, (damage, why) in damages.items():
        path.write_bytes(good)
        assert load_snapshot(tmp_path, plan, like, log=logs.append) is not None and not logs
        damage()
        assert load_snapshot(tmp_path, plan, like, log=logs.append) is None, what
        assert len(logs) == 1 and why in logs[0] and logs[0].endswith("starting at step 0"), (what, logs)
        logs.clear()
    fresh = train("linear", "anbn", (0,), log=logs.append, **kw)  # the last damage, through a run
    assert fresh.train_segments == 1 and len(logs) == 1 and "times or segment count" in logs[0]
    _same_run(whole, fresh)


def test_snapshot_arrays_must_fit_the_run(tmp_path, monkeypatch) -> None:
    """A snapshot whose plan matches but whose arrays are of another shape (a hand-edited
    file, another model build) is refused by the shape check, not loaded into the run."""
    _kill_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        train("linear", "anbn", (0,), steps=STEPS, recipe=RECIPE, progress=False, snapshot=tmp_path,
              snapshot_every=0, log=lambda s: None)
    path = _snapshot(tmp_path)
    with np.load(path) as npz:
        meta = json.loads(npz[_META].tobytes().decode())
        like = [npz[f"leaf{i}"] for i in range(meta["leaves"])]
    logs: list[str] = []
    snap, found = load_snapshot(tmp_path, meta["plan"], like, log=logs.append)
    assert snap.done == 2 and found == path and not logs
    wrong = [np.zeros((3,) + x.shape[1:], x.dtype) for x in like]
    assert load_snapshot(tmp_path, meta["plan"], wrong, log=logs.append) is None
    assert logs == [f"ignoring the training snapshot {path}: its arrays do not fit this run; starting at step 0"]


def test_an_unwritable_snapshot_folder_costs_nothing(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the snapshot folder should be")
    logs: list[str] = []
    run = train("linear", "anbn", (0,), steps=STEPS, recipe=RECIPE, progress=False, snapshot=blocker / "sub",
                snapshot_every=0, log=logs.append)
    assert run.steps == STEPS and run.snapshot_files == ()
    assert len(logs) == 1 and logs[0].startswith(f"could not write a training snapshot in {blocker / 'sub'}")
    assert logs[0].endswith("training goes on without")
