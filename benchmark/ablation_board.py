"""The leaderboard's ablation section: which factor between rexbench's setting and the anchors' moves the headline.

A store's ``ablation/`` folder holds one sub-store per factor (written by ``rexbench
reproduce --ablation``, docs/ABLATION.md); the one named ``rexbench`` is the reference
setting. Nothing here trusts the folder names for what a factor *is*: the "differs from
rexbench" column is computed from the result files themselves (model, task size, training
set, recipe, budget), so a mislabelled folder shows what it really holds.

Per factor, over its seeds (mean and 95% t-interval, as everywhere on the board):

* ``excess_loss`` on ``test`` and the headline at the checkpoint of lowest ``val_loss``
  (the benchmark's rule; the scored result);
* the difference of the headline from the ``rexbench`` row, with Welch's two-sided p;
* from each seed's capability curve (``training.capability_curve``, checked against the
  scored counts by :func:`rexbench.benchmark.results.load_result`): the headline at the
  last validation point, and the maximum over every validation point -- the anchors'
  rule, which picks the best of many noisy evaluations *using the OOD prompts*, so it is a
  diagnostic of how much selection alone can report, never a score; and the same maximum
  of ``ood_rule_given_finished`` (the rule among finished completions), which is how the
  anchors' published numbers are computed (issue #13: 0.657 for their Transformer).

Worked example: seeds with headline curves ``[(50, 2/10), (100, 5/10)]`` and
``[(50, 4/10), (100, 1/10)]`` have "last" 0.5 and 0.1 (mean 0.3) and "max over history"
0.5 and 0.4 (mean 0.45).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rexbench.benchmark.errors import ResultError
from rexbench.benchmark.results import load_result
from rexbench.benchmark.stats import Summary, summarize, welch

ABLATION_DIR = "ablation"
BASE = "rexbench"
HEADLINE = "ood_rule_extrapolation"
GIVEN_FINISHED = "ood_rule_given_finished"


class AblationStoreError(ValueError):
    pass


def setting(result: dict[str, Any]) -> dict[str, Any]:
    """What a result was trained as: the fields a factor may move."""
    training = result.get("training") or {}
    recipe = training.get("recipe") or {}
    return {
        "model": result["model"],
        "task": result["task_config"]["config"],
        "training set": training.get("train_set", "sampled"),
        "peak lr": recipe.get("peak_lr"),
        "steps": result["manifest"]["train_steps"],
        "recipe (other)": {k: v for k, v in recipe.items() if k != "peak_lr"},
        "hyper": training.get("hyper"),
        "checkpoint rule": result["checkpoint_rule"],
    }


def load_ablation_store(results_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """factor -> its validated results (seed order), from ``results_dir/ablation/*/``; {} if
    there is no such folder. AblationStoreError names every bad file: one that does not
    validate, carries no capability curve, or was trained differently from its folder's others."""
    root = Path(results_dir) / ABLATION_DIR
    if not root.is_dir():
        return {}
    out, errors = {}, []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        results = []
        for path in sorted(folder.glob("*.json")):
            try:
                res = load_result(path)
            except ResultError as err:
                errors.append(str(err))
                continue
            if "capability_curve" not in (res.get("training") or {}):
                errors.append(f"{path}: no training.capability_curve (train with --capability-curve)")
                continue
            if results and setting(res) != setting(results[0]):
                diff = [k for k, v in setting(res).items() if v != setting(results[0])[k]]
                errors.append(f"{path}: trained differently from the other seeds of {folder.name}/ ({diff[0]})")
                continue
            if any(r["seed"] == res["seed"] for r in results):
                errors.append(f"{path}: a second result for seed {res['seed']} in {folder.name}/")
                continue
            results.append(res)
        if results:
            out[folder.name] = sorted(results, key=lambda r: r["seed"])
    if errors:
        raise AblationStoreError("refusing to build the ablation section from bad files:\n  " + "\n  ".join(errors))
    if out and BASE not in out:
        raise AblationStoreError(f"{root}: no {BASE}/ folder, the setting every factor is compared with")
    return out


def curve_ratios(result: dict[str, Any], metric: str = HEADLINE) -> list[float]:
    """``metric`` at every validation point of the run (successes / count; 0 for 0 / 0)."""
    ratios = []
    for _, counts in result["training"]["capability_curve"]:
        k, n = counts[metric]
        ratios.append(k / n if n else 0.0)
    return ratios


def differences(base: dict[str, Any], other: dict[str, Any]) -> str:
    moved = [f"{k} {_show(base[k])} → {_show(other[k])}" for k in base if base[k] != other[k]]
    return "; ".join(moved) if moved else "none"


def _show(value: Any) -> str:
    return f"`{value}`" if isinstance(value, str) else str(value)


def _cell(s: Summary) -> str:
    return f"{s.mean:.3f}" if s.n == 1 else f"{s.mean:.3f} [{max(s.lo, 0.0):.3f}, {min(s.hi, 1.0):.3f}]"


def factor_stats(results: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Per seed: excess loss, headline at the selected checkpoint, at the last point, max over history."""
    return {
        "excess": [r["metrics"]["excess_loss"] for r in results],
        "selected": [r["metrics"][HEADLINE] for r in results],
        "last": [curve_ratios(r)[-1] for r in results],
        "max": [max(curve_ratios(r)) for r in results],
        # the anchors' published number: R1 among finished completions, maximised over the history
        "anchor": [max(curve_ratios(r, GIVEN_FINISHED)) for r in results],
        "best_step": [r["training"]["best_step"] for r in results],
    }


def ablation_table(factors: dict[str, list[dict[str, Any]]]) -> list[str]:
    base_results = factors[BASE]
    base_setting, base_stats = setting(base_results[0]), factor_stats(base_results)
    lines = [
        ("| factor | differs from `rexbench` | seeds | excess test loss | headline (min val_loss) | "
         "Δ headline vs `rexbench` (Welch p) | selected steps | headline at last step | max over history (diagnostic) | "
         "rule given finished, max over history (the anchors' number) |"),
        "|---|---|--:|---|---|---|---|---|---|---|",
    ]
    for name in [BASE, *sorted(k for k in factors if k != BASE)]:
        results = factors[name]
        st = factor_stats(results)
        excess = summarize(st["excess"])
        if name == BASE:
            delta = "—"
        elif len(st["selected"]) >= 2 and len(base_stats["selected"]) >= 2:
            w = welch(st["selected"], base_stats["selected"])
            lo, hi = w.interval(0.95)
            delta = f"{w.diff:+.3f} [{lo:+.3f}, {hi:+.3f}] (p = {w.p_two_sided():.2g})"
        else:
            delta = "n/a (one seed)"
        excess_txt = f"{excess.mean:.4f}" if excess.n == 1 else f"{excess.mean:.4f} [{excess.lo:.4f}, {excess.hi:.4f}]"
        lines.append(
            f"| {name} | {differences(base_setting, setting(results[0]))} | {len(results)} | {excess_txt} | "
            f"{_cell(summarize(st['selected']))} | {delta} | {', '.join(map(str, st['best_step']))} | "
            f"{_cell(summarize(st['last']))} | {_cell(summarize(st['max']))} | {_cell(summarize(st['anchor']))} |")
    return lines


def moving_factors(factors: dict[str, list[dict[str, Any]]]) -> list[tuple[str, float, float]]:
    """(factor, Δ headline, Welch p) for every factor whose 95% Welch interval of the
    difference from ``rexbench`` excludes 0, largest |Δ| first."""
    base = factor_stats(factors[BASE])["selected"]
    moved = []
    for name, results in factors.items():
        sel = factor_stats(results)["selected"]
        if name == BASE or len(sel) < 2 or len(base) < 2:
            continue
        w = welch(sel, base)
        lo, hi = w.interval(0.95)
        if lo > 0 or hi < 0:
            moved.append((name, w.diff, w.p_two_sided()))
    return sorted(moved, key=lambda m: -abs(m[1]))


def finding(factors: dict[str, list[dict[str, Any]]]) -> str:
    moved = moving_factors(factors)
    if not moved:
        return "No factor moves the headline beyond its seeds' noise (every Δ interval contains 0)."
    listed = "; ".join(f"`{n}` ({d:+.3f}, p = {p:.2g})" for n, d, p in moved)
    return (f"Factors that move the headline (Δ interval excludes 0): {listed}. Every other factor's Δ interval "
            "contains 0. How these rows stand against the anchors' published numbers: docs/ABLATION.md.")


def ablation_section(factors: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The leaderboard's markdown lines for the ablation ([] without an ablation store)."""
    if not factors:
        return []
    return [
        "## Ablation on anbn: rexbench's setting towards the anchors', one factor at a time",
        "",
        "Each row is the `rexbench` row (the suite's Transformer on anbn, 300 steps) with one factor moved to the "
        "rule-extrapolation code's value (docs/ABLATION.md; `rexbench reproduce --ablation`). The headline is scored "
        "at the checkpoint of lowest `val_loss`; \"headline at last step\" and \"max over history\" are read from "
        "each seed's capability curve. The max over history chooses among checkpoints *by their OOD score*, as the "
        "anchors' notebooks do: a diagnostic of how far selection alone can move a number, never a score. Cells: "
        "mean [95% t-interval; ratios clipped to [0, 1]] over seeds; Δ is the Welch interval of the difference.",
        "",
        *ablation_table(factors),
        "",
        finding(factors),
    ]
