"""Checkpoints of trained baselines: one directory per (task, model, seed).

Layout of a checkpoint directory::

    params.msgpack    the selected parameters (flax.serialization msgpack of the NNX
                      parameter state as a pure dict of float32 arrays)
    checkpoint.json   what is needed to rebuild the module and what it is: format,
                      model, hyper, vocab_size, task, seed, regime, steps (run),
                      best_step, val_loss, checkpoint_rule, parameters, train_seconds,
                      recipe, suite_version

Both files are written atomically (temp file + ``os.replace``), ``checkpoint.json`` last,
so a directory with a ``checkpoint.json`` is complete. Why msgpack rather than
orbax-checkpoint's StandardCheckpointer: a ~100k-parameter model is ~0.5 MB, which
msgpack writes in ~2 ms as one file (orbax: ~50 ms, eight files and a background thread
per save); see docs/RECIPE.md.

:func:`load_checkpoint` rebuilds the module (``nnx.eval_shape`` of the registry
constructor, then the stored values; every parameter must be present with its shape).
:func:`loaded_model` and :func:`load_if_checkpoint` are what ``rexbench score --model``
uses for ``ckpt:PATH`` and a bare checkpoint directory (registered, lazily, by
``benchmark/commands/train.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx, serialization, traverse_util

from rexbench.baselines.models.registry import count_params, make_model
from rexbench.benchmark.errors import ModelLoadError
from rexbench.benchmark.fileio import atomic_write_bytes, atomic_write_json

FORMAT = "rexbench-checkpoint/1"
PARAMS_FILE = "params.msgpack"
META_FILE = "checkpoint.json"


class CheckpointError(ModelLoadError):
    """A checkpoint directory that cannot be loaded, or not for the task it is scored on."""


def checkpoint_dirname(task: str, model: str, seed: int) -> str:
    return f"{task}__{model}__seed{seed}"


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / META_FILE).is_file() and (Path(path) / PARAMS_FILE).is_file()


def _pure(params: nnx.State) -> dict[str, Any]:
    return jax.tree.map(lambda x: np.asarray(x), nnx.to_pure_dict(params))


def save_checkpoint(path: str | os.PathLike[str], params: nnx.State | nnx.Module, meta: dict[str, Any]) -> Path:
    """Writes ``params`` (a parameter state or a module) and ``meta`` into directory ``path``.

    ``meta`` must hold at least ``model``, ``hyper`` and ``vocab_size``; ``format`` and
    ``parameters`` are added.
    """
    path = Path(path)
    if isinstance(params, nnx.Module):
        params = nnx.state(params, nnx.Param)
    missing = [k for k in ("model", "hyper", "vocab_size") if k not in meta]
    if missing:
        raise CheckpointError(f"checkpoint metadata lacks {', '.join(missing)}")
    atomic_write_bytes(path / PARAMS_FILE, serialization.msgpack_serialize(_pure(params)))
    atomic_write_json(path / META_FILE, {**meta, "format": FORMAT, "parameters": count_params(params)})
    return path


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    meta_path = Path(path) / META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"{path}: not a rexbench checkpoint directory ({type(err).__name__}: {err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: {META_FILE} is not a JSON object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {meta.get('format')!r}, expected {FORMAT!r}")
    from rexbench.baselines.models.registry import MODEL_NAMES

    if meta.get("model") not in MODEL_NAMES:
        raise CheckpointError(f"{path}: model {meta.get('model')!r} is not a baseline; valid: {', '.join(MODEL_NAMES)}")
    if not isinstance(meta.get("vocab_size"), int) or not isinstance(meta.get("hyper", {}), dict):
        raise CheckpointError(f"{path}: {META_FILE} needs an integer vocab_size and a hyper object")
    return meta


def load_checkpoint(path: str | os.PathLike[str]) -> nnx.Module:
    """The NNX module stored in checkpoint directory ``path``."""
    meta = read_meta(path)
    name, vocab, hyper = meta["model"], int(meta["vocab_size"]), dict(meta.get("hyper") or {})
    try:
        abstract = nnx.eval_shape(lambda: make_model(name, vocab, seed=0, **hyper))
    except Exception as err:
        raise CheckpointError(f"{path}: cannot build model {name!r} with {hyper}: {type(err).__name__}: {err}") from None
    graphdef, state = nnx.split(abstract)
    try:
        raw = serialization.msgpack_restore((Path(path) / PARAMS_FILE).read_bytes())
        stored = traverse_util.flatten_dict(nnx.restore_int_paths(raw))
    except Exception as err:  # missing file, not msgpack, not a nested dict of arrays
        raise CheckpointError(f"{path}: cannot read {PARAMS_FILE}: {type(err).__name__}: {err}") from None
    expected = {path_: var for path_, var in nnx.to_flat_state(state)}
    if set(stored) != set(expected):
        diff = sorted(map(str, set(stored) ^ set(expected)))[:5]
        raise CheckpointError(f"{path}: stored parameters do not match model {name!r} {hyper}: {diff}")
    for key, var in expected.items():
        value = np.asarray(stored[key])
        if value.shape != var.shape or value.dtype != var.dtype:
            raise CheckpointError(f"{path}: parameter {'/'.join(map(str, key))} has {value.shape} {value.dtype}, "
                                  f"model expects {var.shape} {var.dtype}")
    nnx.replace_by_pure_dict(state, traverse_util.unflatten_dict({k: jax.numpy.asarray(v) for k, v in stored.items()}))
    return nnx.merge(graphdef, state)


# --------------------------------------------------------------------------- harness hook
def loaded_model(path: str, task: Any, *, allow_task_mismatch: bool = False) -> Any:
    """The checkpoint as a harness model, refused (CheckpointError) unless it was trained on
    ``task`` (or ``allow_task_mismatch``: then recorded as ``trained_on_task``) with
    ``task``'s vocabulary."""
    from rexbench.benchmark.loaders import LoadedModel

    meta = read_meta(path)
    mismatch = meta.get("task") != task.name
    if mismatch and not allow_task_mismatch:
        raise CheckpointError(f"{path}: trained on task {meta.get('task')!r}, not {task.name!r}; "
                              "score it on the task it was trained on (or pass --allow-task-mismatch)")
    if meta["vocab_size"] != task.vocab_size:
        raise CheckpointError(f"{path}: vocabulary {meta['vocab_size']} does not match task {task.name!r} (V = {task.vocab_size})")
    return LoadedModel(
        model=load_checkpoint(path),
        name=meta.get("result_model", meta["model"]),
        parameters=meta.get("parameters"),
        train_steps=meta.get("steps"),
        train_seconds=meta.get("train_seconds"),
        checkpoint_rule=meta.get("checkpoint_rule", "none"),
        trained_on_task=str(meta.get("task")) if mismatch else None,
    )


def load_if_checkpoint(spec: str, task: Any, *, allow_task_mismatch: bool = False) -> Any:
    """Path loader of ``rexbench.benchmark.loaders.PATH_LOADERS``: a checkpoint directory ->
    LoadedModel, any other path -> None."""
    if is_checkpoint(spec):
        return loaded_model(spec, task, allow_task_mismatch=allow_task_mismatch)
    if Path(spec).is_dir() and ((Path(spec) / META_FILE).exists() or (Path(spec) / PARAMS_FILE).exists()):
        missing = [f for f in (META_FILE, PARAMS_FILE) if not (Path(spec) / f).is_file()]
        raise CheckpointError(f"{spec}: incomplete checkpoint directory, missing {', '.join(missing)}")
    return None
