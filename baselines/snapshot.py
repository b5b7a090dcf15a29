"""Training snapshots: a run killed part-way resumes where it stopped, to the same numbers.

The ``--full`` grid's longest runs take one to two hours each on a 2-core CPU, and a
process can die at any time (a closed laptop, a session's end). :func:`rexbench.baselines.train.train`
with ``snapshot=DIR`` writes, after a compiled chunk (at most every ``snapshot_every``
seconds, and always after the last one), everything the rest of the run depends on to one
file, ``DIR/snapshot.npz``: the stacked parameters, optimizer states, best parameters,
best val loss and best step of every seed, the steps done, and the curves so far. A later
call with the same plan finds it and continues from there. Nothing else needs saving:
every seed's batch order is re-derived from its seed (the streams are replayed to the
step reached), and the compiled chunk is the same program, so **a resumed run gives the
same numbers bit for bit** as one that never stopped (tested in ``tests/test_snapshot.py``).

What must match (:func:`plan_of`): model, hyperparameters, task and its size, regime,
seeds, steps, recipe, training set and the digest of its rows (:func:`data_digest`),
capability-curve settings, and the suite, rexbench and JAX versions. A snapshot of any other plan, or one that cannot be read (a torn or
hand-edited file), is ignored with one log line and the run starts from step 0 (and
overwrites it); it is never an error, because a fresh start is always correct. The file
is written atomically (one ``os.replace``), so a kill mid-write leaves the previous one.

Worked example: ``rexbench reproduce --full --models xlstm --tasks dyck`` is killed at step
2,150 of 4,800, after its snapshot of step 2,150 (chunks of 50 steps); the same command
again logs ``resuming from step 2150 of 4800`` and trains the remaining 2,650 steps.
``train_seconds`` then counts the time spent training in both processes (not the time in
between) and ``training.train_segments`` is 2.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from rexbench.benchmark.fileio import atomic_write_bytes

PyTree = Any
FILE = "snapshot.npz"
_META = "meta"  # the npz entry holding the JSON part (uint8 bytes: no pickle needed to read it)


@dataclass
class Snapshot:
    """The state of a run after ``done`` steps (host arrays, seed axis first, no padding lanes)."""

    done: int
    state: PyTree  # (params, opt_state, best_params, best_val, best_step)
    val_curve: list[Any]
    train_curve: list[Any]
    capability_curve: list[Any]
    capability_seconds: float
    train_seconds: float  # time spent in train() by the earlier processes, in all
    compile_seconds: float
    segments: int  # processes that trained this run so far


def plan_of(**plan: Any) -> dict[str, Any]:
    """What a snapshot must match to be resumed: the caller's plan plus the versions whose
    change could change the numbers (JSON-normalised, so a loaded plan compares equal)."""
    from rexbench.benchmark import __version__
    from rexbench.tasks import SUITE_VERSION

    full = {**plan, "suite_version": SUITE_VERSION, "rexbench": __version__, "jax": jax.__version__}
    return json.loads(json.dumps(full, sort_keys=True))


def data_digest(data: Any) -> str:
    """sha256 of a run's training and val rows (a :class:`~rexbench.baselines.data.TaskData`):
    a snapshot resumes only on the same data, however it was made."""
    h = hashlib.sha256()
    for rows in (data.train, data.val):
        rows = np.ascontiguousarray(rows)
        h.update(f"{rows.dtype.str}{rows.shape}".encode())
        h.update(rows.tobytes())
    return h.hexdigest()


def save_snapshot(folder: str | os.PathLike[str], plan: dict[str, Any], snap: Snapshot) -> Path:
    leaves = [np.asarray(x) for x in jax.tree.leaves(snap.state)]
    meta = {
        "plan": plan, "done": snap.done, "val_curve": snap.val_curve, "train_curve": snap.train_curve,
        "capability_curve": snap.capability_curve, "capability_seconds": snap.capability_seconds,
        "train_seconds": snap.train_seconds, "compile_seconds": snap.compile_seconds, "segments": snap.segments,
        "leaves": len(leaves),
    }
    buf = io.BytesIO()
    arrays = {f"leaf{i}": x for i, x in enumerate(leaves)}
    np.savez(buf, **arrays, **{_META: np.frombuffer(json.dumps(meta).encode(), np.uint8)})
    path = Path(folder) / FILE
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_snapshot(folder: str | os.PathLike[str], plan: dict[str, Any], like: PyTree,
                  log: Callable[[str], None] = print) -> Snapshot | None:
    """The snapshot in ``folder`` if it is of ``plan`` and its arrays fit ``like`` (the run's
    fresh state, same tree); else None, with a line on ``log`` saying why it is not used."""
    path = Path(folder) / FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(npz[_META].tobytes().decode())
            leaves = [npz[f"leaf{i}"] for i in range(int(meta["leaves"]))]
        done, segments = int(meta["done"]), int(meta["segments"])
        curves = [list(meta[k]) for k in ("val_curve", "train_curve", "capability_curve")]
        seconds = [float(meta[k]) for k in ("capability_seconds", "train_seconds", "compile_seconds")]
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as err:
        log(f"ignoring the unreadable training snapshot {path} ({type(err).__name__}: {err}); starting at step 0")
        return None
    if meta["plan"] != plan:
        diff = sorted(k for k in set(plan) | set(meta["plan"]) if plan.get(k) != meta["plan"].get(k))
        log(f"ignoring the training snapshot {path}: another plan ({', '.join(diff)} differ); starting at step 0")
        return None
    expected = jax.tree.leaves(like)
    fits = len(leaves) == len(expected) and all(
        a.shape == np.shape(b) and a.dtype == np.asarray(b).dtype for a, b in zip(leaves, expected, strict=True))
    if not fits or not 0 < done <= plan["steps"]:
        log(f"ignoring the training snapshot {path}: its arrays or step do not fit this run; starting at step 0")
        return None
    state = jax.tree.unflatten(jax.tree.structure(like), leaves)
    return Snapshot(done, state, *curves, *seconds, segments=segments)


def snapshot_progress(folder: str | os.PathLike[str]) -> tuple[int, int, list[int]] | None:
    """(steps done, steps planned, seeds) of ``folder``'s snapshot, None if it has none
    readable: for ``reproduce --dry-run``, which does not check the plan."""
    try:
        with np.load(Path(folder) / FILE, allow_pickle=False) as npz:
            meta = json.loads(npz[_META].tobytes().decode())
        return int(meta["done"]), int(meta["plan"]["steps"]), [int(s) for s in meta["plan"]["seeds"]]
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError):
        return None


def discard_snapshot(folder: str | os.PathLike[str]) -> None:
    """Removes ``folder``'s snapshot (and the folder, when that leaves it empty)."""
    folder = Path(folder)
    (folder / FILE).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
