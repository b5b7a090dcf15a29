"""The result file of SPEC §7: building, validating, writing atomically, loading.

One JSON object per (task, model, seed), named ``{task}__{model}__seed{seed}.json``
(:func:`result_filename`). Top-level keys (:data:`RESULT_KEYS`):

* ``benchmark`` (``"rexbench"``), ``suite_version``, ``harness_version``;
* ``task``, ``task_config`` (``{"name", "size_name", "size", "config"}``);
* ``model``, ``seed``, ``checkpoint_rule``;
* ``metrics``: the four losses (nats per target token) and the capability metrics
  (``ood_rules`` nested by rule; a value is null when its count is 0);
* ``chance`` / ``chance_stderr``: the capability keys, for the uniform-random model;
* ``counts``: ``{"successes", "count"}`` per capability metric and ``{"nats", "tokens"}``
  per loss, from which every metric value is recomputable;
* ``records``: every decode's per-row completions and verdicts (:mod:`rexbench.benchmark.records`),
  from which every capability count is recomputed (:mod:`rexbench.benchmark.audit`);
* ``decoding``: how completions were produced (strategy, budget, tie-breaking, keys,
  sampled subset, chance method);
* ``manifest``: :func:`rexbench.benchmark.manifest.build_manifest`.

:func:`validate_result` checks the schema (raising :class:`ResultError` with the path of
the offending field); :func:`load_result` also refuses a file whose suite version or split
digests differ from the running harness, and one whose counts, verdicts or chance levels
differ from those recomputed from its own records (:func:`rexbench.benchmark.audit.audit_result`).
The leaderboard reads results through it.
"""

from __future__ import annotations

import json
import math
import os
import re
from functools import lru_cache
from numbers import Real
from pathlib import Path
from typing import Any

from rexbench.benchmark.audit import audit_result
from rexbench.benchmark.curves import check_capability_curve, check_val_curve
from rexbench.benchmark.errors import ResultError
from rexbench.benchmark.fileio import atomic_write_bytes
from rexbench.benchmark.metrics import CAPABILITY_KEYS
from rexbench.tasks import SPLIT_NAMES, SUITE_VERSION, UnknownTaskError, get_task, split_digests

LOSS_KEYS: tuple[str, ...] = ("test_loss", "optimal_loss", "excess_loss", "val_loss")
METRIC_KEYS: tuple[str, ...] = (*LOSS_KEYS, *CAPABILITY_KEYS)
RESULT_KEYS: tuple[str, ...] = (
    "benchmark", "suite_version", "harness_version", "task", "task_config", "model", "seed",
    "checkpoint_rule", "metrics", "chance", "chance_stderr", "counts", "records", "decoding", "manifest",
)
MANIFEST_KEYS: tuple[str, ...] = (
    "rexbench_version", "python", "jax", "jaxlib", "flax", "platform", "device", "split_sha256",
    "parameters", "train_steps", "train_seconds", "created",
)

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+@=-]{0,127}")

__all__ = [
    "LOSS_KEYS", "MANIFEST_KEYS", "METRIC_KEYS", "RESULT_KEYS", "ResultError", "load_result",
    "result_filename", "sanitize_model_name", "validate_result", "write_result",
]


# --------------------------------------------------------------------------- names
def sanitize_model_name(name: str) -> str:
    """A file-name-safe form of a model name (``[A-Za-z0-9._-]``, no ``__``)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
    safe = re.sub(r"_{2,}", "_", safe).strip("-.")
    return safe or "model"


def result_filename(task: str, model: str, seed: int) -> str:
    return f"{task}__{sanitize_model_name(model)}__seed{seed}.json"


# --------------------------------------------------------------------------- validation
def _fail(path: str, message: str) -> None:
    raise ResultError(f"{path}: {message}")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


def _dict(obj: Any, path: str, keys: tuple[str, ...] | list[str] = ()) -> dict:
    if not isinstance(obj, dict):
        _fail(path, f"expected an object, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        _fail(path, f"missing key(s) {', '.join(missing)}")
    return obj


def _unit(x: Any, path: str, nullable: bool) -> None:
    if x is None and nullable:
        return
    if not _is_number(x) or not 0.0 <= float(x) <= 1.0:
        _fail(path, f"expected a number in [0, 1]{' or null' if nullable else ''}, got {x!r}")


def _pair(x: Any, path: str) -> tuple[int, int]:
    d = _dict(x, path, ("successes", "count"))
    s, n = d["successes"], d["count"]
    if not (_is_int(s) and _is_int(n) and 0 <= s <= n):
        _fail(path, f"expected integers 0 <= successes <= count, got {s!r}/{n!r}")
    return s, n


def _check_capabilities(block: dict, path: str, rules: list[str], stderr: bool = False) -> None:
    for key in CAPABILITY_KEYS:
        value = block[key]
        if key == "ood_rules":
            _dict(value, f"{path}.ood_rules", rules)
            for r in rules:
                _check_capability_value(value[r], f"{path}.ood_rules.{r}", stderr)
        else:
            _check_capability_value(value, f"{path}.{key}", stderr)


def _check_capability_value(x: Any, path: str, stderr: bool) -> None:
    if stderr:
        if x is not None and not (_is_number(x) and x >= 0):
            _fail(path, f"expected a non-negative number or null, got {x!r}")
    else:
        _unit(x, path, nullable=True)


def _check_consistent(value: Any, counts: Any, path: str) -> None:
    s, n = _pair(counts, f"counts.{path}")
    expected = s / n if n else None
    if (expected is None) != (value is None) or (expected is not None and not math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-12)):
        _fail(f"metrics.{path}", f"value {value!r} does not match counts {s}/{n}")


def validate_result(obj: Any) -> None:
    """Raises :class:`ResultError` unless ``obj`` is a well-formed result (SPEC §7)."""
    d = _dict(obj, "result", RESULT_KEYS)
    if d["benchmark"] != "rexbench":
        _fail("benchmark", f"expected 'rexbench', got {d['benchmark']!r}")
    for key in ("suite_version", "harness_version", "task", "model", "checkpoint_rule"):
        if not isinstance(d[key], str) or not d[key]:
            _fail(key, f"expected a non-empty string, got {d[key]!r}")
    if not MODEL_NAME.fullmatch(d["model"]):
        _fail("model", f"{d['model']!r} is not a valid model name (1-128 characters of A-Z a-z 0-9 . _ : / + @ = -, "
                       "starting with a letter or digit)")
    if not _is_int(d["seed"]) or not 0 <= d["seed"] < 2**31:
        _fail("seed", f"expected an integer in [0, 2^31), got {d['seed']!r}")
    cfg = _dict(d["task_config"], "task_config", ("name", "size_name", "size", "config"))
    if cfg["name"] != d["task"] or not _is_int(cfg["size"]):
        _fail("task_config", f"expected the config of task {d['task']!r} with an integer size, got {cfg!r}")

    metrics = _dict(d["metrics"], "metrics", METRIC_KEYS)
    for key in LOSS_KEYS:
        if not _is_number(metrics[key]):
            _fail(f"metrics.{key}", f"expected a finite number, got {metrics[key]!r}")
    if metrics["test_loss"] < 0 or metrics["val_loss"] < 0 or metrics["optimal_loss"] < 0:
        _fail("metrics", "losses must be non-negative")
    if not math.isclose(metrics["excess_loss"], metrics["test_loss"] - metrics["optimal_loss"], rel_tol=1e-9, abs_tol=1e-9):
        _fail("metrics.excess_loss", "must equal test_loss - optimal_loss")
    rules = sorted(_dict(metrics["ood_rules"], "metrics.ood_rules"))
    if not rules:
        _fail("metrics.ood_rules", "expected at least one rule")
    _check_capabilities(metrics, "metrics", rules)
    _check_capabilities(_dict(d["chance"], "chance", CAPABILITY_KEYS), "chance", rules)
    _check_capabilities(_dict(d["chance_stderr"], "chance_stderr", CAPABILITY_KEYS), "chance_stderr", rules, stderr=True)

    counts = _dict(d["counts"], "counts", METRIC_KEYS)
    for key in CAPABILITY_KEYS:
        if key == "ood_rules":
            block = _dict(counts["ood_rules"], "counts.ood_rules", rules)
            for r in rules:
                _check_consistent(metrics["ood_rules"][r], block[r], f"ood_rules.{r}")
        else:
            _check_consistent(metrics[key], counts[key], key)
    for key in ("test_loss", "val_loss", "optimal_loss"):
        c = _dict(counts[key], f"counts.{key}", ("nats", "tokens"))
        if not (_is_number(c["nats"]) and _is_int(c["tokens"]) and c["tokens"] > 0):
            _fail(f"counts.{key}", f"expected finite nats and a positive token count, got {c!r}")
        if not math.isclose(metrics[key], c["nats"] / c["tokens"], rel_tol=1e-9, abs_tol=1e-12):
            _fail(f"metrics.{key}", f"value {metrics[key]!r} does not match counts {c['nats']}/{c['tokens']}")
    if "limit" in d and not (_is_int(d["limit"]) and d["limit"] >= 1):
        _fail("limit", f"expected a positive integer, got {d['limit']!r}")
    if "trained_on_task" in d and not (isinstance(d["trained_on_task"], str) and d["trained_on_task"]
                                       and d["trained_on_task"] != d["task"]):
        _fail("trained_on_task", f"expected the name of another task, got {d['trained_on_task']!r}")
    for name, block in _dict(d["records"], "records").items():
        _dict(block, f"records.{name}")
    _dict(d["decoding"], "decoding")

    m = _dict(d["manifest"], "manifest", MANIFEST_KEYS)
    digests = _dict(m["split_sha256"], "manifest.split_sha256", SPLIT_NAMES)
    for split, digest in digests.items():
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            _fail(f"manifest.split_sha256.{split}", f"expected a hex SHA-256, got {digest!r}")
    for key in ("parameters", "train_steps"):
        if m[key] is not None and not (_is_int(m[key]) and m[key] >= 0):
            _fail(f"manifest.{key}", f"expected a non-negative integer or null, got {m[key]!r}")
    if m["train_seconds"] is not None and not (_is_number(m["train_seconds"]) and m["train_seconds"] >= 0):
        _fail("manifest.train_seconds", f"expected a non-negative number or null, got {m['train_seconds']!r}")
    for key in ("rexbench_version", "python", "jax", "jaxlib", "flax", "platform", "device", "created"):
        if not isinstance(m[key], str):
            _fail(f"manifest.{key}", f"expected a string, got {m[key]!r}")


# --------------------------------------------------------------------------- I/O
def write_result(result: dict, out_dir: str | os.PathLike[str]) -> Path:
    """Validates and writes ``result`` atomically (temp file + ``os.replace``); returns the path."""
    validate_result(result)
    path = Path(out_dir) / result_filename(result["task"], result["model"], result["seed"])
    atomic_write_bytes(path, dump_result(result).encode())
    return path


_RECORDS_PLACEHOLDER = "\u0000records\u0000"


def dump_result(result: dict) -> str:
    """The file text: indented JSON, with each records column on one line (compact, and
    still one line per column in a diff)."""
    body = json.dumps({**result, "records": _RECORDS_PLACEHOLDER}, indent=2, allow_nan=False)
    blocks = []
    for name, block in result["records"].items():
        cols = ",\n".join(f"      {json.dumps(k)}: {json.dumps(v, separators=(',', ':'), allow_nan=False)}"
                          for k, v in block.items())
        blocks.append(f"    {json.dumps(name)}: {{\n{cols}\n    }}")
    records = "{\n" + ",\n".join(blocks) + "\n  }"
    return body.replace(json.dumps(_RECORDS_PLACEHOLDER), records, 1) + "\n"


@lru_cache(maxsize=None)
def _digests(task: str, size: int) -> dict[str, str]:
    return split_digests(get_task(task, size))


def check_version(result: Any) -> None:
    """Refuses a result of another suite version (checked before the schema, which changed)."""
    if not isinstance(result, dict) or "suite_version" not in result:
        return  # the schema check names what is missing
    if result["suite_version"] != SUITE_VERSION:
        raise ResultError(
            f"suite_version {result['suite_version']!r} differs from this harness's suite version {SUITE_VERSION!r}"
            + (": suite v1 results are not comparable with v2 (stopping was not separated from rule-keeping, "
               "no per-prompt records, other splits); regenerate them with this harness"
               if result["suite_version"] == "1" else "")
        )


def check_compatible(result: dict) -> None:
    """Refuses a (valid) result made with another suite version or other splits."""
    check_version(result)
    try:
        expected = _digests(result["task"], result["task_config"]["size"])
    except (UnknownTaskError, ValueError) as err:
        raise ResultError(f"task {result['task']!r}: {err}") from None
    recorded = result["manifest"]["split_sha256"]
    for split, digest in expected.items():
        if recorded.get(split) != digest:
            raise ResultError(
                f"split {split!r} of {result['task_config']['config']} differs from this harness: "
                f"file has sha256 {recorded.get(split)}, expected {digest}"
            )


def load_result(path: str | os.PathLike[str], *, allow_limited: bool = False) -> dict:
    """Reads, validates and compatibility-checks one result file; raises :class:`ResultError`.

    A smoke-test result (``--limit``) is refused unless ``allow_limited`` (``rexbench verify``).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        obj = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultError(f"{path}: cannot read a JSON result: {err}") from None
    except RecursionError:
        raise ResultError(f"{path}: cannot read a JSON result: nested too deeply") from None
    try:
        check_version(obj)
        validate_result(obj)
        if obj.get("limit") is not None and not allow_limited:
            raise ResultError(f"scored with --limit {obj['limit']} (a smoke test on the first {obj['limit']} prompts "
                              "of each split): never accepted by the leaderboard; score it without --limit")
        check_compatible(obj)
        audit_result(get_task(obj["task"], obj["task_config"]["size"]), obj)
        check_val_curve(obj)
        check_capability_curve(obj)
    except ResultError as err:
        raise ResultError(f"{path}: {err}") from None
    return obj
