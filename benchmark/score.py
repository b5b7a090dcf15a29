"""Scoring entry point: one model on one task with one seed → one validated result dict.

``score_model`` runs, in order: :func:`rexbench.benchmark.checks.check_model` (refusals, before
anything else), the teacher-forced losses on ``test`` and ``val``, every decode of
:mod:`rexbench.benchmark.capabilities`, and the task's chance levels; it assembles, validates and
returns the SPEC §7 result. It writes nothing (see :func:`rexbench.benchmark.results.write_result`).

Determinism: every random choice derives from ``seed`` (:mod:`rexbench.benchmark.sampling`), so
the same model and seed give identical ``metrics`` and ``counts``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import rexbench.benchmark
from rexbench.benchmark import metrics as metric_defs
from rexbench.benchmark.capabilities import score_records
from rexbench.benchmark.chance import CHANCE_GENERATIONS, CHANCE_SAMPLES_PER_PROMPT, chance_levels
from rexbench.benchmark.checks import check_model, harness_widths
from rexbench.benchmark.decoding import BUDGET, decode_width
from rexbench.benchmark.errors import ModelRefused, ResultError
from rexbench.benchmark.icl import icl_block
from rexbench.benchmark.loaders import LoadedModel
from rexbench.benchmark.loss import optimal_nll, split_nll
from rexbench.benchmark.manifest import build_manifest
from rexbench.benchmark.protocol import as_model
from rexbench.benchmark.results import MODEL_NAME, validate_result
from rexbench.benchmark.subset import SAMPLED_PROMPTS, SAMPLES_PER_PROMPT
from rexbench.tasks import SUITE_VERSION, Task, get_task


def decoding_info(task: Task, limit: int | None = None) -> dict[str, Any]:
    """The ``decoding`` block of a result: how every completion was produced."""
    return {
        "greedy": "argmax; exact ties broken uniformly at random with the row's key",
        "sampling": "temperature 1 (categorical on softmax of the logits)",
        "budget": BUDGET,
        "buffer_width": {
            "length_prompts": decode_width(task, ("length_prompts",)),
            "other": decode_width(task),
        },
        "keys": "jax.random.key(seed) -> fold_in(sha256(purpose)[:4]) -> fold_in(row) -> fold_in(position)",
        "sampled_ood": {
            "samples_per_prompt": SAMPLES_PER_PROMPT,
            "max_prompts": SAMPLED_PROMPTS,
            "subset": "seeded numpy PCG64 choice without replacement, sorted (benchmark.subset)",
            "prompt_indices": [int(i) for i in metric_defs.prompt_sets(task, limit).sampled_index],
        },
        "generation_samples": metric_defs.generation_count(limit),
        "stop_rule": {
            "decoding": "greedy with EOS, SOS and PAD withheld (argmax over the symbols, random tie-break), "
                        "up to the task's maximum word length",
            "max_length": task.max_word_length,
            "verdict": "keep rule on the visited prefix of highest P(EOS); exact ties broken at random",
            "keys": "purposes 'greedy/stop_rule' (tokens) and 'stop_rule/ties' (prefix ties)",
        },
        "chance": {
            "model": "uniform over EOS and the symbols",
            "method": "monte_carlo",
            "rng": "numpy PCG64 seeded by sha256('rexbench/suite-<v>/<task config>/chance/<purpose>')",
            "samples_per_prompt": CHANCE_SAMPLES_PER_PROMPT,
            "generation_samples": CHANCE_GENERATIONS,
        },
    }


MAX_NEGATIVE_EXCESS = 0.001  # nats per token (SPEC §5)
Progress = Callable[[str], None]
T = TypeVar("T")


def in_phase(phase: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, with any exception the model raises turned into a refusal naming ``phase``."""
    try:
        return fn(*args)
    except (ModelRefused, KeyboardInterrupt):
        raise
    except Exception as err:
        raise ModelRefused(f"the model raised {type(err).__name__} during {phase}: {err}") from err


def score_model(
    model_obj: Any,
    task: Task | str,
    *,
    seed: int = 0,
    model_name: str = "model",
    checkpoint_rule: str = "none",
    train_steps: int | None = None,
    train_seconds: float | None = None,
    parameters: int | None = None,
    reference: dict[str, Any] | None = None,
    trained_on_task: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Scores ``model_obj`` (any kind accepted by :func:`rexbench.benchmark.protocol.as_model`).

    Raises :class:`rexbench.benchmark.errors.ModelRefused` if the model fails a SPEC §5 check
    (before scoring, or where the numbers are made: a non-finite logit on any loss batch
    or decode step), if it raises during any phase (the refusal names the phase), or if
    its ``excess_loss`` is below ``-MAX_NEGATIVE_EXCESS``. ``progress(message)`` is told
    each phase as it starts. ``parameters`` defaults to the JAX parameter count (null for
    host models). ``trained_on_task``: the model was trained on another task and the user
    asked for it to be scored here anyway (recorded in the result). ``limit``: a smoke test
    on the first ``limit`` sequences of test and val and the first ``limit`` prompts of
    each prompt split (and ``min(limit, 1000)`` generations); the result is marked
    ``"limit"`` and the leaderboard never accepts it. Returns the validated result dict.
    """
    task = get_task(task) if isinstance(task, str) else task
    if not MODEL_NAME.fullmatch(model_name):  # before any work: the result could not be written
        raise ResultError(f"model name {model_name!r} is not valid: 1-128 characters of A-Z a-z 0-9 . _ : / + @ = -, "
                          "starting with a letter or digit")
    if limit is not None and not (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1):
        raise ResultError(f"limit must be a positive integer, got {limit!r}")
    say = progress or (lambda _msg: None)
    model = as_model(model_obj, task.vocab_size)
    say(f"{task.name}: checking the model (SPEC §5, widths {sorted(set(harness_widths(task).values()))})")
    in_phase("the refusal checks", check_model, model, task)

    say(f"{task.name}: test and val loss")
    test = in_phase("the test loss", split_nll, model, task, "test", limit)
    optimal = optimal_nll(task, "test", limit)
    if limit is None and test.mean - optimal.mean < -MAX_NEGATIVE_EXCESS:  # a few sequences can fall below
        raise ModelRefused(
            f"excess_loss {test.mean - optimal.mean:.4g} is below -{MAX_NEGATIVE_EXCESS}: the model beats the Bayes-optimal "
            "loss on test, so it is not a model of the training distribution (it has seen the test set, or it is not causal)"
        )
    val = in_phase("the val loss", split_nll, model, task, "val", limit)
    records = in_phase("decoding", score_records, model, task, seed, say, limit)
    caps = metric_defs.aggregate(task, records, limit)
    say(f"{task.name}: chance levels (Monte Carlo for the uniform model; cached per task)")
    chance = chance_levels(task, limit)
    icl = in_phase("the ICL probes", icl_block, model, task, seed)  # None for a task without probes

    metrics: dict[str, Any] = {
        "test_loss": test.mean,
        "optimal_loss": optimal.mean,
        "excess_loss": test.mean - optimal.mean,
        "val_loss": val.mean,
        **metric_defs.values(caps),
    }
    counts: dict[str, Any] = {
        "test_loss": {"nats": test.nats, "tokens": test.tokens},
        "optimal_loss": {"nats": optimal.nats, "tokens": optimal.tokens},
        "excess_loss": {"nats": test.nats - optimal.nats, "tokens": test.tokens},
        "val_loss": {"nats": val.nats, "tokens": val.tokens},
        **metric_defs.counts(caps),
    }
    result: dict[str, Any] = {
        "benchmark": "rexbench",
        "suite_version": SUITE_VERSION,
        "harness_version": rexbench.benchmark.__version__,
        "task": task.name,
        "task_config": {"name": task.name, "size_name": task.size_name, "size": task.size, "config": task.config},
        "model": model_name,
        "seed": int(seed),
        "checkpoint_rule": checkpoint_rule,
        "metrics": metrics,
        "chance": chance.values(),
        "chance_stderr": chance.stderrs(),
        "counts": counts,
        "records": records,
        "decoding": decoding_info(task, limit),
        "manifest": build_manifest(
            task,
            parameters=model.parameters if parameters is None else parameters,
            train_steps=train_steps,
            train_seconds=train_seconds,
        ),
    }
    if icl is not None:
        result["icl"] = icl
    if reference is not None:
        result["reference"] = reference
    if trained_on_task is not None:
        result["trained_on_task"] = trained_on_task
    if limit is not None:
        result["limit"] = limit
    validate_result(result)
    return result


def score_loaded(loaded: LoadedModel, task: Task, *, seed: int = 0, model_name: str | None = None,
                 limit: int | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """:func:`score_model` of a resolved model spec, with the provenance its loader
    recorded (checkpoint rule, training budget, parameters, reference block, task of
    training); ``model_name`` overrides the loader's name."""
    return score_model(
        loaded.model, task, seed=seed, model_name=model_name or loaded.name, checkpoint_rule=loaded.checkpoint_rule,
        train_steps=loaded.train_steps, train_seconds=loaded.train_seconds, parameters=loaded.parameters,
        reference=loaded.reference, trained_on_task=loaded.trained_on_task, limit=limit, progress=progress,
    )
