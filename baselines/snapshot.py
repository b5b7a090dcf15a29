"""Training snapshots: a run killed part-way resumes where it stopped, to the same numbers.

The ``--full`` grid's longest runs take one to two hours each on a 2-core CPU, and a
process can die at any time (a closed laptop, a session's end). :func:`rexbench.baselines.train.train`
with ``snapshot=DIR`` writes, after a compiled chunk (about every ``snapshot_every``
seconds, or every chunk where one chunk takes longer, and always after the last one),
everything the rest of the run depends on to one file, ``DIR/snapshot-<plan digest>.npz``:
the stacked parameters, optimizer states, best parameters, best val loss and best step of
every seed, the steps done, and the curves so far. A later call with the same plan finds
it and continues from there. Nothing else needs saving: every seed's batch order is
re-derived from its seed (the streams are replayed to the step reached), and the compiled
chunk is the same program, so **a resumed run gives the same numbers bit for bit** as one
that never stopped (tested in ``tests/test_snapshot.py``).

The plan (:func:`plan_of`): model, hyperparameters, task and its size, regime, seeds,
steps, recipe, training set and the digest of its rows (:func:`data_digest`),
capability-curve settings, how the seeds are applied (``lax.map``/``vmap``), the backend
and device kind, ``XLA_FLAGS``, and the versions of the suite, rexbench, JAX, jaxlib,
Flax, optax and NumPy. The file's name carries the plan's digest, so runs of different
plans in one folder never touch each other's snapshots. A snapshot of the same plan but a
superset of the seeds also serves: its lanes of the wanted seeds are taken (a seed's
numbers do not depend on the seeds trained beside it; bit for bit with ``lax.map``). That
is the case of a run killed while its results were being written: the results already
written leave fewer seeds to do, and their trained state is in the snapshot of the last
step. A snapshot that cannot be read, or whose contents are inconsistent with its plan
(array shapes, a step that is not a chunk boundary, curves that do not end there), is
ignored with one log line and the run starts from step 0; a snapshot that cannot be
written is reported once and training goes on without. Starting over is always correct,
so a snapshot is never an error. The checks catch damage and mistakes, not forgery: a
hand-made snapshot is a hand-trained model, and the harness scores the parameters it gets
like any other submission's.

Worked example: ``rexbench reproduce --full --models xlstm --tasks dyck`` is killed at step
2,150 of 4,800, after its snapshot of step 2,150 (chunks of 50 steps); the same command
again logs ``resuming from step 2150 of 4800`` and trains the remaining 2,650 steps.
``train_seconds`` then counts the time both processes spent in ``train`` up to their last
snapshot or the end (not the time in between), and ``training.train_segments`` is 2.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from rexbench.benchmark.fileio import atomic_write_bytes

PyTree = Any
PREFIX = "snapshot-"
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


def _plain(x: Any) -> Any:  # numpy scalars (a sweep's hyperparameters) as JSON numbers
    return x.item() if hasattr(x, "item") else str(x)


def plan_of(**plan: Any) -> dict[str, Any]:
    """What a snapshot must match to be resumed: the caller's plan plus the software and
    platform whose change could change the numbers (JSON-normalised, so a loaded plan
    compares equal)."""
    import flax
    import jaxlib
    import optax

    from rexbench.benchmark import __version__
    from rexbench.tasks import SUITE_VERSION

    full = {**plan, "suite_version": SUITE_VERSION, "rexbench": __version__, "jax": jax.__version__,
            "jaxlib": jaxlib.__version__, "flax": flax.__version__, "optax": optax.__version__,
            "numpy": np.__version__, "backend": jax.default_backend(), "device_kind": jax.devices()[0].device_kind,
            "xla_flags": sorted(os.environ.get("XLA_FLAGS", "").split())}
    return json.loads(json.dumps(full, sort_keys=True, default=_plain))


def plan_digest(plan: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]


def snapshot_path(folder: str | os.PathLike[str], plan: dict[str, Any]) -> Path:
    return Path(folder) / f"{PREFIX}{plan_digest(plan)}.npz"


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
    path = snapshot_path(folder, plan)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _metas(folder: str | os.PathLike[str]) -> list[tuple[Path, dict[str, Any] | Exception]]:
    """Every snapshot file in ``folder`` with its JSON part, or the error reading it raised."""
    try:
        paths = sorted(Path(folder).glob(f"{PREFIX}*.npz")) if Path(folder).is_dir() else []
    except OSError:
        return []
    found: list[tuple[Path, dict[str, Any] | Exception]] = []
    for path in paths:
        try:
            with np.load(path, allow_pickle=False) as npz:
                found.append((path, json.loads(npz[_META].tobytes().decode())))
        except Exception as err:  # noqa: BLE001 -- any damage means: do not use it
            found.append((path, err))
    return found


def _chunk_ends(done: int, steps: int, every: int) -> list[int]:
    """The validation steps of a run up to ``done``: multiples of ``every``, and ``steps``."""
    return [min(s, steps) for s in range(every, done + every, every) if s - every < done]


def _check(meta: dict[str, Any], plan: dict[str, Any], lanes: list[int]) -> tuple[int, list[list[Any]], list[float], int]:
    """(done, [val, train, capability] curves of ``lanes``, [capability, train, compile]
    seconds, segments) of a snapshot's meta; ValueError if it is not consistent with ``plan``."""
    done, steps, every = int(meta["done"]), int(plan["steps"]), int(plan["recipe"]["eval_every"])
    if not 0 < done <= steps or (done % every and done != steps):
        raise ValueError(f"step {done} is not a validation step of this {steps}-step run")
    ends = _chunk_ends(done, steps, every)
    curve_every = plan["curve_every"] or every
    cap_ends = [s for s in ends if s % curve_every == 0 or s == steps] if plan["capability_curve"] else []
    curves = []
    for key, want in (("val_curve", ends), ("train_curve", ends), ("capability_curve", cap_ends)):
        points = meta[key]
        if [int(p[0]) for p in points] != want or any(len(p[1]) != len(meta["plan"]["seeds"]) for p in points):
            raise ValueError(f"its {key} does not end at step {done}")
        curves.append([(int(p[0]), [p[1][i] for i in lanes]) for p in points])
    seconds = [float(meta[k]) for k in ("capability_seconds", "train_seconds", "compile_seconds")]
    if not all(math.isfinite(s) and s >= 0 for s in seconds) or int(meta["segments"]) < 1:
        raise ValueError("its times or segment count are not valid")
    return done, curves, seconds, int(meta["segments"])


def load_snapshot(folder: str | os.PathLike[str], plan: dict[str, Any], like: PyTree,
                  log: Callable[[str], None] = print) -> tuple[Snapshot, Path] | None:
    """The snapshot in ``folder`` of ``plan`` -- or of ``plan`` with a superset of its
    seeds, its lanes of ``plan``'s seeds -- if it is consistent and its arrays fit ``like``
    (the run's fresh state, same tree), with its path; else None (and, for a snapshot that
    was a candidate but is not used, one line on ``log`` saying why)."""
    folder = Path(folder)
    mine = snapshot_path(folder, plan)
    seeds = list(plan["seeds"])
    others = {k: v for k, v in plan.items() if k != "seeds"}
    candidates: list[tuple[int, Path, dict[str, Any]]] = []
    for path, meta in _metas(folder):
        try:
            if isinstance(meta, Exception):
                raise meta
            theirs = meta["plan"]
            superset = ({k: v for k, v in theirs.items() if k != "seeds"} == others
                        and set(seeds) < set(theirs["seeds"]))
        except Exception as err:  # noqa: BLE001 -- unreadable, or a meta without a usable plan
            if path == mine:
                log(f"ignoring the unreadable training snapshot {path} ({type(err).__name__}: {err}); "
                    "starting at step 0")
            continue
        if path == mine and theirs == plan:
            candidates.append((2, path, meta))  # its own plan first
        elif superset:
            candidates.append((1, path, meta))
    for _, path, meta in sorted(candidates, key=lambda c: (-c[0], -int(c[2]["done"]))):
        try:
            lanes = [list(meta["plan"]["seeds"]).index(s) for s in seeds]
            done, curves, seconds, segments = _check(meta, plan, lanes)
            with np.load(path, allow_pickle=False) as npz:
                leaves = [npz[f"leaf{i}"][lanes] for i in range(int(meta["leaves"]))]
            expected = jax.tree.leaves(like)
            if len(leaves) != len(expected) or any(
                    a.shape != np.shape(b) or a.dtype != np.asarray(b).dtype for a, b in zip(leaves, expected)):
                raise ValueError("its arrays do not fit this run")
            state = jax.tree.unflatten(jax.tree.structure(like), leaves)
        except Exception as err:  # noqa: BLE001
            log(f"ignoring the training snapshot {path}: {err}; starting at step 0")
            continue
        return Snapshot(done, state, *curves, *seconds, segments=segments), path
    return None


def snapshot_progress(folder: str | os.PathLike[str], steps: int, seeds: Sequence[int]) -> int | None:
    """The step from which a run of ``steps`` steps over ``seeds`` would resume from a
    snapshot in ``folder`` (its own or a superset of its seeds), None if none: for
    ``reproduce --dry-run``, which does not build the whole plan (so it can be wrong about
    one of another recipe or version, which the run itself then ignores)."""
    best = None
    for _, meta in _metas(folder):
        try:
            if int(meta["plan"]["steps"]) == steps and set(seeds) <= set(meta["plan"]["seeds"]):
                best = max(best or 0, int(meta["done"]))
        except Exception:  # noqa: BLE001, S112 -- unreadable or malformed: the run will ignore it too
            continue
    return best


def discard_snapshot(path: str | os.PathLike[str]) -> None:
    """Removes a snapshot file, any temp files a killed write left beside it, and then its
    folder and the folder above when that leaves them empty."""
    path = Path(path)
    path.unlink(missing_ok=True)
    for tmp in path.parent.glob(f".{path.name}.*.tmp") if path.parent.is_dir() else []:
        tmp.unlink(missing_ok=True)
    for folder in (path.parent, path.parent.parent):
        try:
            folder.rmdir()  # only if empty
        except OSError:
            break
