"""Model specs of ``rexbench score --model``: names, schemes and ``module:factory``.

A spec resolves, for one task, to a :class:`LoadedModel` (the model object plus what
the manifest should record). In order:

1. a **name** in :data:`MODEL_LOADERS` (``oracle-keep``, ``oracle-break``, ``uniform``;
   other code may register more, e.g. trained baselines): ``loader(task)``;
2. ``SCHEME:REST`` with ``SCHEME`` in :data:`MODEL_SCHEMES` (empty here; e.g. a
   checkpoint loader may register ``"ckpt"``): ``loader(REST, task)``;
3. an existing **path** that one of :data:`PATH_LOADERS` recognises (e.g. a trained
   baseline's checkpoint directory): the first ``loader(path, task)`` not returning None;
4. ``module.path:factory``: imports the module (the current directory is put on
   ``sys.path``) and calls ``factory(task.vocab_size)`` -- or ``factory(task.vocab_size,
   task=task)`` when the factory has a ``task`` parameter, so that one factory can load
   per-task weights (``anbn``, ``ban`` and ``bban`` share V = 5) -- which may return any
   model kind accepted by :func:`rexbench.benchmark.protocol.as_model`, or a :class:`LoadedModel`.

A model trained on another task (a checkpoint records its task) is refused unless
``allow_task_mismatch``; the result then records ``trained_on_task``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rexbench.benchmark.errors import ModelLoadError
from rexbench.benchmark.icl_reference import ICL_REFERENCE_MODELS
from rexbench.benchmark.reference import REFERENCE_MODELS, reference_info
from rexbench.tasks import Task


@dataclass(frozen=True)
class LoadedModel:
    """A model object with its provenance for the result manifest."""

    model: Any
    name: str
    parameters: int | None = None
    train_steps: int | None = None
    train_seconds: float | None = None
    checkpoint_rule: str = "none"
    reference: dict | None = None  # the result's ``reference`` block (reference rows only)
    trained_on_task: str | None = None  # set only when scored on another task, explicitly allowed


class UnknownModelError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def _reference_loader(name: str) -> Callable[[Task], LoadedModel]:
    return lambda task: LoadedModel(REFERENCE_MODELS[name](task), name, reference=reference_info(name, task))


MODEL_LOADERS: dict[str, Callable[[Task], LoadedModel]] = {name: _reference_loader(name) for name in REFERENCE_MODELS}
# The ICL reference pair (tasks with probes only; benchmark/icl_reference.py).
MODEL_LOADERS.update({name: (lambda task, name=name, make=make: LoadedModel(make(task), name, reference={"name": name}))
                      for name, make in ICL_REFERENCE_MODELS.items()})
# Scheme and path loaders take ``allow_task_mismatch`` as a keyword.
MODEL_SCHEMES: dict[str, Callable[..., LoadedModel]] = {}
# Tried in order on a spec that names an existing path; a loader returns None for a path
# that is not its kind.
PATH_LOADERS: list[Callable[..., LoadedModel | None]] = []


def valid_models_message() -> str:
    names = ", ".join(sorted(MODEL_LOADERS))
    schemes = "".join(f", {s}:..." for s in sorted(MODEL_SCHEMES))
    paths = ", a checkpoint directory" if PATH_LOADERS else ""
    return f"valid models: {names}{schemes}{paths}, or module.path:factory (factory(vocab_size) -> model)"


def takes_task(factory: Callable[..., Any]) -> bool:
    """Whether ``factory`` accepts a ``task`` keyword (the task-aware factory signature)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    p = params.get("task")
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


def load_model(spec: str, task: Task, *, allow_task_mismatch: bool = False) -> LoadedModel:
    """Resolves ``spec`` for ``task``; raises :class:`UnknownModelError` listing the valid names."""
    if spec in MODEL_LOADERS:
        return MODEL_LOADERS[spec](task)
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in MODEL_SCHEMES:
        return MODEL_SCHEMES[scheme](rest, task, allow_task_mismatch=allow_task_mismatch)
    if os.path.exists(spec):
        for path_loader in PATH_LOADERS:
            loaded = path_loader(spec, task, allow_task_mismatch=allow_task_mismatch)
            if loaded is not None:
                return loaded
    if not sep or not scheme or not rest:
        raise UnknownModelError(f"unknown model {spec!r}; {valid_models_message()}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(scheme)
    except ImportError as err:
        raise UnknownModelError(f"cannot import module {scheme!r} of model {spec!r}: {err}; {valid_models_message()}") from None
    factory = getattr(module, rest, None)
    if not callable(factory):
        raise UnknownModelError(f"module {scheme!r} has no callable {rest!r}; {valid_models_message()}")
    try:
        obj = factory(task.vocab_size, task=task) if takes_task(factory) else factory(task.vocab_size)
    except Exception as err:
        raise ModelLoadError(f"the factory {spec!r} raised {type(err).__name__}: {err}") from err
    return obj if isinstance(obj, LoadedModel) else LoadedModel(obj, spec)
