"""``leaderboard.md`` from the results store: loss and capability side by side.

The store is a directory of SPEC §7 result files. Every file is validated with the
harness's own loader (schema, suite version, split digests); a store with any bad file
is refused as a whole, naming each bad file and its reason, so a leaderboard is never
generated from a partly valid store.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import benchmark
from benchmark.results import ResultError, load_result
from benchmark.stats import Summary, summarize
from tasks import SUITE_VERSION, TASK_NAMES

LOSS_KEYS: tuple[str, ...] = ("test_loss", "excess_loss")
CAPABILITY_KEYS: tuple[str, ...] = ("ood_rule_extrapolation", "id_accuracy", "length_extrapolation", "ood_finished")
HEADLINE = "ood_rule_extrapolation"
REFERENCE_ORDER: tuple[str, ...] = ("oracle-keep", "oracle-break", "uniform")
FIGURE_DIR = "figures"  # relative to the results store


class StoreError(ValueError):
    """The results store has invalid or conflicting files; nothing is regenerated."""


@dataclass(frozen=True)
class Row:
    model: str
    parameters: int | None
    results: tuple[dict, ...]

    def summary(self, key: str) -> Summary:
        return summarize([float(r["metrics"][key]) for r in self.results])

    @property
    def seeds(self) -> int:
        return len(self.results)


def load_store(results_dir: Path) -> list[dict]:
    """Every ``*.json`` of the store, validated; raises StoreError listing every bad file."""
    paths = sorted(Path(results_dir).glob("*.json"))
    results, errors, seen = [], [], {}
    for path in paths:
        try:
            res = load_result(path)
        except ResultError as err:
            errors.append(f"{path.name}: {err}")
            continue
        key = (res["task"], res["model"], res["seed"])
        if key in seen:
            errors.append(f"{path.name}: duplicates {seen[key]} (task {key[0]}, model {key[1]}, seed {key[2]})")
            continue
        seen[key] = path.name
        results.append(res)
    if errors:
        raise StoreError("refusing to build the leaderboard from a store with bad files:\n  " + "\n  ".join(errors))
    if not results:
        raise StoreError(f"no result files in {results_dir}")
    return results


def _model_order(model: str) -> tuple[int, str]:
    return (REFERENCE_ORDER.index(model), model) if model in REFERENCE_ORDER else (len(REFERENCE_ORDER), model)


def group_rows(results: Iterable[dict]) -> dict[str, list[Row]]:
    """task -> rows (references first, then models by name), each with its seeds' results."""
    by_task: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for res in results:
        by_task[res["task"]][res["model"]].append(res)
    out: dict[str, list[Row]] = {}
    for task in sorted(by_task, key=lambda t: (TASK_NAMES.index(t) if t in TASK_NAMES else len(TASK_NAMES), t)):
        rows = []
        for model in sorted(by_task[task], key=_model_order):
            rs = tuple(sorted(by_task[task][model], key=lambda r: r["seed"]))
            rows.append(Row(model, rs[0]["manifest"].get("parameters"), rs))
        out[task] = rows
    return out


def fmt_num(x: float, digits: int) -> str:
    text = f"{x:.{digits}f}"
    return text[1:] if float(text) == 0.0 and text.startswith("-") else text  # no "-0.000"


def fmt_cell(s: Summary, digits: int, unit_interval: bool = False) -> str:
    """``mean [lo, hi]``; capability intervals are clipped to [0, 1], the metric's range."""
    if s.n == 1:
        return fmt_num(s.mean, digits)
    lo, hi = (max(s.lo, 0.0), min(s.hi, 1.0)) if unit_interval else (s.lo, s.hi)
    return f"{fmt_num(s.mean, digits)} [{fmt_num(lo, digits)}, {fmt_num(hi, digits)}]"


def _chance(rows: list[Row]) -> tuple[dict[str, float], dict[str, float]]:
    first = rows[0].results[0]
    return first["chance"], first.get("chance_stderr", {})


def task_table(rows: list[Row]) -> list[str]:
    head = ["model", "params", "seeds", *LOSS_KEYS, *CAPABILITY_KEYS]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 3 + ["--:"] * (len(head) - 3)) + "|",
    ]
    chance, stderr = _chance(rows)
    cells = ["*chance* (uniform, Monte Carlo ± s.e.)", "", ""] + ["—"] * len(LOSS_KEYS)
    cells += [f"{chance[k]:.3f} ± {stderr.get(k, float('nan')):.3f}" for k in CAPABILITY_KEYS]
    lines.append("| " + " | ".join(cells) + " |")
    for row in rows:
        name = f"*{row.model}*" if row.model in REFERENCE_ORDER else f"**{row.model}**"
        params = "—" if row.parameters is None else f"{row.parameters:,}"
        cells = [name, params, str(row.seeds)]
        cells += [fmt_cell(row.summary(k), 4) for k in LOSS_KEYS]
        cells += [fmt_cell(row.summary(k), 3, unit_interval=True) for k in CAPABILITY_KEYS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def identifiability_summary(rows: list[Row]) -> list[str]:
    """Pairs that loss cannot tell apart (excess_loss intervals overlap) but capability can."""
    found = []
    for a, b in itertools.combinations(rows, 2):
        la, lb = a.summary("excess_loss"), b.summary("excess_loss")
        ca, cb = a.summary(HEADLINE), b.summary(HEADLINE)
        if la.overlaps(lb) and not ca.overlaps(cb):
            hi, lo = (a, b) if ca.mean >= cb.mean else (b, a)
            found.append(
                f"- **{hi.model}** and **{lo.model}**: overlapping `excess_loss` intervals "
                f"({fmt_cell(hi.summary('excess_loss'), 4)} vs {fmt_cell(lo.summary('excess_loss'), 4)}), "
                f"but `{HEADLINE}` {fmt_cell(hi.summary(HEADLINE), 3, True)} vs {fmt_cell(lo.summary(HEADLINE), 3, True)}."
            )
    if not found:
        return ["- No pair of models here is indistinguishable on loss yet different on rule extrapolation."]
    return found


def overall_table(grouped: dict[str, list[Row]]) -> list[str]:
    tasks = list(grouped)
    models = sorted({row.model for rows in grouped.values() for row in rows}, key=_model_order)
    lines = ["| model | " + " | ".join(tasks) + " |", "|---|" + "|".join(["--:"] * len(tasks)) + "|"]
    chance = [f"{_chance(grouped[t])[0][HEADLINE]:.3f}" for t in tasks]
    lines.append("| *chance* | " + " | ".join(chance) + " |")
    for model in models:
        cells = []
        for t in tasks:
            row = next((r for r in grouped[t] if r.model == model), None)
            cells.append("—" if row is None else f"{fmt_cell(row.summary(HEADLINE), 3, True)} (n={row.seeds})")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def render(results: list[dict], figures: dict[str, str] | None = None) -> str:
    """The whole ``leaderboard.md`` text. ``figures`` maps task -> relative PNG path."""
    grouped = group_rows(results)
    lines = [
        "# rexbench leaderboard",
        "",
        f"Suite version **{SUITE_VERSION}**, harness version **{benchmark.__version__}**. "
        "Generated by `rexbench leaderboard` from the result files in `results/`; do not edit by hand.",
        "",
        "Each cell is the mean over seeds with its 95% Student-t confidence interval `[lo, hi]` "
        "(capability intervals clipped to [0, 1]); "
        "`seeds` is the number of seeds. Losses are in nats per target token on `test`; "
        "`excess_loss = test_loss − optimal_loss` (0 = Bayes-optimal). Capabilities are fractions "
        "of prompts (see the README for exact definitions); unfinished completions count as failures. "
        "Trained rows are taken at the checkpoint of lowest `val_loss`.",
        "",
        "Reproduce every row: `rexbench reproduce` (trained baselines, seeds 0–4) and "
        "`rexbench score --model oracle-keep|oracle-break|uniform --task all --seed S --out results/` "
        "for S in 0–4 (reference rows), then `rexbench leaderboard`. Each row's training steps, "
        "best step and validation curve are in its result files (`manifest.train_steps`, `training`); "
        "`rexbench train --model M --task T --seeds 0-4 --steps N` retrains a row exactly.",
        "",
        "## Rule extrapolation across tasks",
        "",
        *overall_table(grouped),
    ]
    for task, rows in grouped.items():
        lines += ["", f"## {task}", "", *task_table(rows), "", "Loss cannot tell these apart, capability can:", ""]
        lines += identifiability_summary(rows)
        if figures and task in figures:
            lines += ["", f"![excess loss vs rule extrapolation on {task}]({figures[task]})"]
    return "\n".join(lines) + "\n"
