"""Fine-tuning records (the fine-tunability case study): their numbers, checks and summary.

A record is one JSON file per (source checkpoint, target task, optimiser), written by
``rexbench finetune`` into ``<store>/finetune/`` and named
``finetune__{source task}__{model}-seed{seed}__{target}{size}__{optimizer}.json``. It holds one run per
rescaling α of the source (the *twins*: one function, :mod:`rexbench.baselines.reparam`):

* ``curve``: ``[[step, target excess val loss], ...]`` from step 0, every ``eval_every``
  steps (excess = val loss − the target's exact optimum on the same sequences, nats per
  token; null once the loss is not finite, i.e. the run diverged);
* ``steps_to_tau``: the first evaluated step with excess ≤ ``config.tau`` (null if never);
* ``mean_excess``: trapezoid area under the curve divided by the budget (null if it
  diverged): one number for the whole run, smaller = learnt faster;
* ``final_excess``, source retention (``source_val_loss_before``/``_after``,
  ``source_capabilities_before``/``_after``) and ``target_capabilities`` (the headline
  family, :mod:`rexbench.benchmark.headline`).

Everything derived is recomputed from the curve by :func:`check_record` — the leaderboard
refuses a file where a stored number differs, naming the file, the field and both values.

**The headline of the case study** (:func:`summarise`): the spread of ``mean_excess`` over
twins (same source, so identical source loss), next to its spread over seeds at the same
α whose source val losses are matched, i.e. lie within ``DELTA`` (SPEC §4.4's δ) of each
other. Worked example: twins 0.010, 0.012, 0.030 → spread 0.020; seeds at α = 1 0.011,
0.013 → spread 0.002: rescaling alone moved fine-tuning ten times more than the seed did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DELTA = 0.002  # nats per token: SPEC §4.4's loss-equivalence margin
TOLERANCE = 1e-9  # recomputed floats must agree to this (they are computed the same way)
RUN_KEYS = ("alpha", "curve", "steps_to_tau", "mean_excess", "final_excess", "source_val_loss_before",
            "source_val_loss_after", "source_capabilities_before", "source_capabilities_after", "target_capabilities")
CAPABILITY_KEYS = ("ood_rule_extrapolation", "ood_finished", "ood_rule_given_finished", "ood_stop_rule")


class FinetuneRecordError(ValueError):
    """A fine-tuning record that is malformed or whose numbers do not recompute."""


def mean_excess(curve: Sequence[Sequence[float | None]]) -> float | None:
    """Trapezoid area under ``[[step, excess], ...]`` divided by the last step; None if
    any point is null (the run diverged)."""
    if any(v is None for _, v in curve):
        return None
    steps = np.array([p[0] for p in curve], dtype=np.float64)
    vals = np.array([p[1] for p in curve], dtype=np.float64)
    return float(np.sum((vals[1:] + vals[:-1]) / 2 * np.diff(steps)) / steps[-1])


def steps_to_tau(curve: Sequence[Sequence[float | None]], tau: float) -> int | None:
    """The first evaluated step whose excess is ≤ ``tau``; None if none is."""
    return next((int(s) for s, v in curve if v is not None and v <= tau), None)


def finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """max − min and the (population) standard deviation; null if any value is null."""
    if not values or any(v is None for v in values):
        return {"max_minus_min": None, "std": None}
    arr = np.asarray(values, dtype=np.float64)
    return {"max_minus_min": float(arr.max() - arr.min()), "std": float(arr.std())}


def record_name(record: dict) -> str:
    s, t = record["source"], record["target"]
    return (f"finetune__{s['task']}__{s['model']}-seed{s['seed']}__{t['name']}{t['size']}__"
            f"{record['config']['optimizer']}.json")


def _fail(path: str, what: str) -> None:
    raise FinetuneRecordError(f"{path}: {what}")


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def check_record(record: Any, path: str) -> None:
    """Raises :class:`FinetuneRecordError` unless ``record`` is well formed and every
    derived number recomputes from its curve."""
    if not isinstance(record, dict) or record.get("kind") != "finetune":
        _fail(path, "not a fine-tuning record (kind != 'finetune')")
    for key in ("source", "target", "config", "runs"):
        if key not in record:
            _fail(path, f"missing {key!r}")
    cfg = record["config"]
    try:
        steps, every, tau = int(cfg["steps"]), int(cfg["eval_every"]), float(cfg["tau"])
        name = record_name(record)
    except (KeyError, TypeError, ValueError) as err:
        _fail(path, f"malformed source/target/config ({err})")
    if Path(path).name != name:
        _fail(path, f"the file name does not match its content (expected {name})")
    runs = record["runs"]
    if not isinstance(runs, list) or not runs:
        _fail(path, "no runs")
    want_steps = list(range(0, steps + 1, every))
    for run in runs:
        if not isinstance(run, dict) or any(k not in run for k in RUN_KEYS):
            _fail(path, f"a run lacks one of {', '.join(RUN_KEYS)}")
        a = run["alpha"]
        curve = run["curve"]
        if [p[0] for p in curve] != want_steps:
            _fail(path, f"alpha {a}: curve steps are not 0, {every}, ..., {steps}")
        for field, got in (("mean_excess", mean_excess(curve)), ("steps_to_tau", steps_to_tau(curve, tau)),
                           ("final_excess", curve[-1][1])):
            if not _close(run[field], got):
                _fail(path, f"alpha {a}: {field} is {run[field]!r}, its curve gives {got!r}")
        for block in ("source_capabilities_before", "source_capabilities_after", "target_capabilities"):
            caps = run[block]
            if not isinstance(caps, dict) or set(caps) != set(CAPABILITY_KEYS):
                _fail(path, f"alpha {a}: {block} must hold {', '.join(CAPABILITY_KEYS)}")
            for k, (succ, count) in caps.items():
                if not (isinstance(succ, int) and isinstance(count, int) and 0 <= succ <= count):
                    _fail(path, f"alpha {a}: {block}.{k} must be [successes, count] with 0 <= successes <= count")
            fin, keep, given = caps["ood_finished"], caps["ood_rule_extrapolation"], caps["ood_rule_given_finished"]
            if keep[0] != given[0] or given[1] != fin[0] or keep[1] != fin[1]:
                _fail(path, f"alpha {a}: {block} breaks headline = finished x rule_given_finished")


def load_finetune_store(store: str | Path) -> list[tuple[Path, dict]]:
    """Every checked record of ``<store>/finetune/`` (empty if there is none)."""
    import json

    folder = Path(store) / "finetune"
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise FinetuneRecordError(f"{path}: unreadable ({err})") from None
        check_record(record, str(path))
        out.append((path, record))
    return out


def ratio(pair: Sequence[int]) -> float | None:
    return pair[0] / pair[1] if pair[1] else None


def summarise(records: Sequence[dict]) -> list[dict[str, Any]]:
    """One row per (source model, source task, target, optimiser): the twin spread and the
    matched-seed spread of ``mean_excess`` (see the module docstring)."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        key = (r["source"]["model"], r["source"]["task"], r["target"]["config"], r["config"]["optimizer"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (model, source_task, target, opt), recs in sorted(groups.items()):
        recs = sorted(recs, key=lambda r: r["source"]["seed"])
        alphas = [run["alpha"] for run in recs[0]["runs"]]
        if any([run["alpha"] for run in r["runs"]] != alphas for r in recs):
            raise FinetuneRecordError(f"{model} {opt} -> {target}: the sources were fine-tuned at different alphas")
        twins = [spread([run["mean_excess"] for run in r["runs"]]) for r in recs]
        # twins are one function: their source loss and source capabilities must agree
        twin_loss_gap = max(max(run["source_val_loss_before"] for run in r["runs"])
                            - min(run["source_val_loss_before"] for run in r["runs"]) for r in recs)
        twins_same_caps = all(len({str(run["source_capabilities_before"]) for run in r["runs"]}) == 1 for r in recs)
        before = [r["runs"][0]["source_val_loss_before"] for r in recs]
        matched = max(before) - min(before) < DELTA
        by_alpha = {a: spread([r["runs"][i]["mean_excess"] for r in recs]) for i, a in enumerate(alphas)}
        rows.append({
            "model": model, "source_task": source_task, "target": target, "optimizer": opt,
            "seeds": [r["source"]["seed"] for r in recs], "alphas": alphas,
            "mean_excess": [[run["mean_excess"] for run in r["runs"]] for r in recs],
            "steps_to_tau": [[run["steps_to_tau"] for run in r["runs"]] for r in recs],
            "tau": recs[0]["config"]["tau"], "steps": recs[0]["config"]["steps"],
            "twin_spread": twins, "twin_source_loss_gap": twin_loss_gap, "twins_same_capabilities": twins_same_caps,
            "seed_source_loss_range": max(before) - min(before), "seeds_matched": matched, "seed_spread": by_alpha,
            "target_headline": [[ratio(run["target_capabilities"]["ood_rule_extrapolation"]) for run in r["runs"]]
                                for r in recs],
            "source_headline_after": [[ratio(run["source_capabilities_after"]["ood_rule_extrapolation"])
                                       for run in r["runs"]] for r in recs],
        })
    return rows
