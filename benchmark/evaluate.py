"""``rexbench.evaluate``: the Python entry point, as ``rexbench score`` on the command line.

Example::

    import rexbench
    results = rexbench.evaluate("oracle-keep", tasks=["anbn", "ban"], seed=0)
    results["anbn"]["metrics"]["ood_rule_extrapolation"]   # 1.0

``model`` is a spec string of ``rexbench score --model`` (a reference name, ``ckpt:PATH``,
a checkpoint directory, ``module.path:factory``) resolved per task, or a model object of
any kind :func:`rexbench.benchmark.protocol.as_model` accepts, used for every task. Every
task is scored before anything is written, as on the command line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rexbench.benchmark.loaders import LoadedModel, load_model
from rexbench.benchmark.progress import progress_bars
from rexbench.benchmark.results import write_result
from rexbench.benchmark.run_files import write_run_summary, write_samples
from rexbench.benchmark.score import score_loaded
from rexbench.tasks import TASK_NAMES, Task, get_task


def _stderr_progress() -> Any:
    t0 = time.perf_counter()
    return lambda message: print(f"[{time.perf_counter() - t0:7.1f} s] {message}", file=sys.stderr, flush=True)


def evaluate(
    model: Any,
    tasks: Sequence[str] | str | None = None,
    *,
    seed: int = 0,
    name: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    allow_task_mismatch: bool = False,
    limit: int | None = None,
    log_samples: bool = False,
) -> dict[str, dict]:
    """Scores ``model`` on ``tasks`` (default: every task); returns ``{task: result}``.

    ``name`` is the result's model name (default: the spec, or ``"model"`` for an object).
    ``out``: also write each result there (atomically, after every task has been scored).
    ``progress``: phase lines and progress bars on stderr. ``allow_task_mismatch``: score a
    checkpoint on a task it was not trained on (recorded as ``trained_on_task``).
    ``limit``: a smoke test (see ``rexbench score --limit``). With ``out``, also the run
    summary and, with ``log_samples``, every decoded row (:mod:`rexbench.benchmark.run_files`).
    Raises :class:`~rexbench.benchmark.errors.ModelRefused` / ``ModelLoadError`` /
    :class:`~rexbench.tasks.UnknownTaskError` as the command line reports them.
    """
    from rexbench.benchmark.commands.train import register_checkpoint_loaders

    register_checkpoint_loaders()
    names = list(TASK_NAMES) if tasks is None else [tasks] if isinstance(tasks, str) else list(tasks)
    task_objs = [get_task(t) for t in names]  # unknown names fail here, before any work
    say = _stderr_progress() if progress else None
    results: dict[str, dict] = {}
    with progress_bars(progress):
        for task in task_objs:
            results[task.name] = _score_one(model, task, seed, name, allow_task_mismatch, limit, say)
    if out is not None:
        for result in results.values():
            write_result(result, out)
            if log_samples:
                write_samples(result, Path(out))
        write_run_summary(list(results.values()), Path(out), ["rexbench.evaluate", repr(model)])
    return results


def _score_one(model: Any, task: Task, seed: int, name: str | None, allow_task_mismatch: bool, limit: int | None,
               say: Any) -> dict:
    loaded = (load_model(model, task, allow_task_mismatch=allow_task_mismatch) if isinstance(model, str)
              else LoadedModel(model, name or "model"))
    return score_loaded(loaded, task, seed=seed, model_name=name, limit=limit, progress=say)
