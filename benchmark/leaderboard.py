"""``leaderboard.md`` from the results store: loss and capability side by side (suite v2).

The store is a directory of SPEC §7 result files. Every file is read with the harness's
own loader (schema, suite version, split digests, and every count, verdict and chance
level recomputed from its records, :mod:`rexbench.benchmark.audit`); a store with any bad file is
refused as a whole, naming each bad file and its reason, so a leaderboard is never
generated from a partly valid store.

What a task section shows (every number recomputable from the files):

* the main table: per row the mean, a 95% Student-t interval and the number of seeds of
  the losses and of the headline split into stopping and rule-keeping
  (``ood_finished`` × ``ood_rule_given_finished``) and ``ood_stop_rule``; an interval
  reaching outside [0, 1] is shown clipped and marked ``⁎``; a capability whose whole
  interval lies above the *bar* — the highest of chance, ``stop-now`` and
  ``best-constant`` — is marked ``▲``;
* the per-seed values of every row;
* regime rows on all headline prompts and on the held-out half;
* the claims of SPEC §4.5: a pair of rows is listed only when it is loss-equivalent
  (TOST on ``excess_loss`` with margin ``DELTA``) and capability-different (Welch on the
  headline, Holm-corrected over every pair of rows compared on the task).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rexbench.benchmark
from rexbench.benchmark.capability_board import READING as CAPABILITY_READING
from rexbench.benchmark.finetune_board import finetune_section
from rexbench.benchmark.finetune_records import FinetuneRecordError, load_finetune_store, summarise
from rexbench.benchmark.reference import REFERENCE_MODELS, TRIVIAL_POLICIES
from rexbench.benchmark.results import ResultError, load_result, result_filename
from rexbench.benchmark.run_files import RUN_PREFIX
from rexbench.benchmark.stats import Summary, equivalent, holm, summarize, welch
from rexbench.tasks import SUITE_VERSION, TASK_NAMES

HEADLINE = "ood_rule_extrapolation"
LOSS_KEYS: tuple[str, ...] = ("test_loss", "excess_loss")
TABLE_KEYS: tuple[str, ...] = (
    HEADLINE, "ood_finished", "ood_rule_given_finished", "ood_stop_rule", "id_accuracy", "length_extrapolation",
    "sampled_ood_rule_extrapolation",
)
SHORT = {
    HEADLINE: "headline", "ood_finished": "finished", "ood_rule_given_finished": "rule \\| finished",
    "ood_stop_rule": "stop rule", "id_accuracy": "ID acc.", "length_extrapolation": "length",
    "sampled_ood_rule_extrapolation": "sampled",
}
HELDOUT_PAIRS: tuple[tuple[str, str], ...] = tuple((k, f"heldout_{k}") for k in (HEADLINE, "ood_stop_rule"))
REFERENCE_ORDER: tuple[str, ...] = ("oracle-keep", "oracle-break", "stop-now", "best-constant", "uniform")
assert set(REFERENCE_ORDER) == set(REFERENCE_MODELS)
DELTA = 0.002  # nats per token: the loss-equivalence margin of SPEC §4.5
ALPHA = 0.05
FIGURE_DIR = "figures"  # relative to the results store
CAPABILITY_SUFFIX = "__capability"  # {task}__capability.png: capability over training (capability_board)


class StoreError(ValueError):
    """The results store has invalid or conflicting files; nothing is regenerated."""


@dataclass(frozen=True)
class Row:
    model: str
    parameters: int | None
    results: tuple[dict, ...]

    def values(self, key: str) -> list[float | None]:
        return [r["metrics"][key] for r in self.results]

    def summary(self, key: str) -> Summary | None:
        vals = self.values(key)
        return None if any(v is None for v in vals) else summarize([float(v) for v in vals])

    @property
    def seeds(self) -> int:
        return len(self.results)

    @property
    def steps_cell(self) -> str:
        """Training steps of the row (its seeds share them and their rule budget: see
        :func:`row_signature`), "—" for an untrained one; a run trained for fewer steps than
        its (task, model)'s budget rule (``training.rule_steps``: the default grid's cap, or
        a shorter ``--steps``) says so: ``600 (rule 1,100)``."""
        first = self.results[0]
        steps, training = first["manifest"].get("train_steps"), first.get("training")
        if steps is None or not isinstance(training, dict):
            return "—"
        rule = training.get("rule_steps")
        return f"{steps:,} (rule {rule:,})" if type(rule) is int and rule > steps else f"{steps:,}"

    @property
    def regime(self) -> str:
        return self.results[0].get("training", {}).get("regime", "standard")

    @property
    def label(self) -> str:
        ref = self.results[0].get("reference") or {}
        if self.model == "best-constant" and "constant" in ref:
            return f"best-constant (`{ref['constant'] or 'ε'}`)"
        return md_escape(self.model)


def md_escape(text: str) -> str:
    """A name safe inside a markdown table cell: no line breaks, pipes or markup."""
    text = re.sub(r"\s+", " ", str(text))
    return re.sub(r"([\\|*_`<>\[\]#])", r"\\\1", text)


def row_signature(res: dict) -> dict[str, Any]:
    """What every seed of one leaderboard row (task, model) must share: rows trained or
    scored differently (another budget, recipe, regime, size, suite or harness) are not
    seeds of one experiment, and averaging them would give a number that means nothing."""
    man, training = res["manifest"], res.get("training")
    sig: dict[str, Any] = {
        "suite_version": res["suite_version"],
        "harness_version": res["harness_version"],
        "checkpoint_rule": res["checkpoint_rule"],
        "manifest.parameters": man.get("parameters"),
        "manifest.train_steps": man.get("train_steps"),
        "trained_on_task": res.get("trained_on_task"),
        "training": training is not None,
    }
    if isinstance(training, dict):
        for key in ("regime", "recipe", "hyper", "steps", "eval_every", "rule_steps", "capability_curve_every"):
            sig[f"training.{key}"] = training.get(key)
        sig["training.capability_curve"] = "capability_curve" in training  # all seeds of a row, or none
    return sig


def _check_rows(results: list[dict], paths: dict[tuple, Path]) -> list[str]:
    first: dict[tuple[str, str], dict] = {}
    errors = []
    for res in sorted(results, key=lambda r: (r["task"], r["model"], r["seed"])):
        key = (res["task"], res["model"])
        if key not in first:
            first[key] = res
            continue
        ref, a, b = first[key], row_signature(first[key]), row_signature(res)
        diff = [f for f in a if a[f] != b[f]]
        if diff:
            f = diff[0]
            p_ref = paths[(ref["task"], ref["model"], ref["seed"])]
            p_res = paths[(res["task"], res["model"], res["seed"])]
            errors.append(
                f"{p_res}: model {res['model']!r} on task {res['task']!r} was trained or scored differently from "
                f"{p_ref} ({f}: {b[f]!r} vs {a[f]!r}); rows that differ cannot share a name (score one under another name)")
    return errors


def load_stores(results_dirs: Sequence[Path]) -> tuple[list[dict], dict[tuple, Path]]:
    """Every ``*.json`` of the stores, validated, and where each came from
    (``(task, model, seed) -> path``); raises StoreError listing every bad file: one that
    does not validate or is not compatible (:func:`load_result`), whose name does not
    match its content, that duplicates another (in any of the stores), or that would
    mix differently made rows under one name (:func:`row_signature`)."""
    results, errors, seen = [], [], {}
    for results_dir in results_dirs:
        if not Path(results_dir).is_dir():
            raise StoreError(f"{results_dir}: not a directory of result files")
    for results_dir in results_dirs:
        for path in sorted(Path(results_dir).glob("*.json")):
            if path.name.startswith(RUN_PREFIX):  # a run summary, not a result (benchmark.run_files)
                continue
            try:
                res = load_result(path)
            except ResultError as err:
                errors.append(str(err))  # load_result names the file
                continue
            expected = result_filename(res["task"], res["model"], res["seed"])
            if path.name != expected:
                errors.append(f"{path}: the file name does not match its content (task {res['task']!r}, model "
                              f"{res['model']!r}, seed {res['seed']} is {expected})")
                continue
            key = (res["task"], res["model"], res["seed"])
            if key in seen:
                errors.append(f"{path}: duplicates {seen[key]} (task {key[0]}, model {key[1]}, seed {key[2]})")
                continue
            seen[key] = path
            results.append(res)
    errors += _check_rows(results, seen)
    if errors:
        raise StoreError("refusing to build the leaderboard from a store with bad files:\n  " + "\n  ".join(errors))
    if not results:
        raise StoreError(f"no result files in {', '.join(map(str, results_dirs))}")
    return results, seen


def load_finetune_stores(results_dirs: Sequence[Path]) -> list[dict]:
    """The checked fine-tuning records of every store's ``finetune/`` folder
    (:mod:`rexbench.benchmark.finetune_records`); raises StoreError naming each bad or
    duplicated file."""
    records, errors, seen = [], [], {}
    for results_dir in results_dirs:
        try:
            found = load_finetune_store(results_dir)
        except FinetuneRecordError as err:
            errors.append(str(err))
            continue
        for path, record in found:
            if path.name in seen:
                errors.append(f"{path}: duplicates {seen[path.name]}")
                continue
            seen[path.name] = path
            records.append(record)
    if errors:
        raise StoreError("refusing to build the leaderboard from a store with bad files:\n  " + "\n  ".join(errors))
    return records


def load_ablation_stores(results_dirs: Sequence[Path]) -> dict[str, list[dict]]:
    """The ablation factors of every store's ``ablation/`` folder (at most one store may have one)."""
    from rexbench.benchmark.ablation_board import AblationStoreError, load_ablation_store

    found = {}
    for results_dir in results_dirs:
        try:
            factors = load_ablation_store(Path(results_dir))
        except AblationStoreError as err:
            raise StoreError(str(err)) from None
        if factors and found:
            raise StoreError(f"{results_dir}: a second ablation store (one board shows one ablation)")
        found = factors or found
    return found


def load_store(results_dir: Path) -> list[dict]:
    """:func:`load_stores` of one store, without the paths."""
    return load_stores([results_dir])[0]


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


# --------------------------------------------------------------------------- formatting
def fmt_num(x: float, digits: int) -> str:
    text = f"{x:.{digits}f}"
    return text[1:] if float(text) == 0.0 and text.startswith("-") else text  # no "-0.000"


def fmt_cell(s: Summary | None, digits: int, unit_interval: bool = False) -> str:
    """``mean [lo, hi]``; a capability bound outside [0, 1] is clipped and marked ``⁎``."""
    if s is None:
        return "n/a"
    if s.n == 1:
        return fmt_num(s.mean, digits)
    lo, hi = s.lo, s.hi
    lo_txt, hi_txt = fmt_num(lo, digits), fmt_num(hi, digits)
    if unit_interval and lo < 0.0:
        lo_txt = fmt_num(0.0, digits) + "⁎"
    if unit_interval and hi > 1.0:
        hi_txt = fmt_num(1.0, digits) + "⁎"
    return f"{fmt_num(s.mean, digits)} [{lo_txt}, {hi_txt}]"


def _chance(rows: list[Row]) -> tuple[dict, dict]:
    first = rows[0].results[0]
    return first["chance"], first["chance_stderr"]


def bars(rows: list[Row]) -> dict[str, tuple[float, str]]:
    """Per capability: (the bar, what sets it) — the highest of chance and the trivial rows' means."""
    chance, _ = _chance(rows)
    out = {}
    for key in TABLE_KEYS + tuple(h for _, h in HELDOUT_PAIRS):
        best = (chance[key] if chance[key] is not None else 0.0, "chance")
        for row in rows:
            if row.model in TRIVIAL_POLICIES:
                s = row.summary(key)
                if s is not None and s.mean > best[0]:
                    best = (s.mean, row.model)
        out[key] = best
    return out


def _beats(s: Summary | None, bar: float) -> bool:
    return s is not None and s.n >= 2 and s.lo > bar


def task_table(rows: list[Row]) -> list[str]:
    head = ["model", "params", "seeds", "steps", *LOSS_KEYS, *(SHORT[k] for k in TABLE_KEYS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 4 + ["--:"] * (len(head) - 4)) + "|"]
    chance, stderr = _chance(rows)
    cells = ["*chance* (uniform, Monte Carlo ± s.e.)", "", "", ""] + ["—"] * len(LOSS_KEYS)
    cells += ["n/a" if chance[k] is None else f"{chance[k]:.3f} ± {stderr[k]:.3f}" for k in TABLE_KEYS]
    lines.append("| " + " | ".join(cells) + " |")
    bar = bars(rows)
    for row in rows:
        ref = row.model in REFERENCE_ORDER
        cells = [f"*{row.label}*" if ref else f"**{row.label}**"]
        cells += ["—" if row.parameters is None else f"{row.parameters:,}", str(row.seeds), row.steps_cell]
        cells += [fmt_cell(row.summary(k), 4) for k in LOSS_KEYS]
        for k in TABLE_KEYS:
            s = row.summary(k)
            mark = " ▲" if not ref and _beats(s, bar[k][0]) else ""
            cells.append(fmt_cell(s, 3, unit_interval=True) + mark)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _fmt_seed(v: float | None, digits: int) -> str:
    return "n/a" if v is None else fmt_num(float(v), digits)


def per_seed_table(rows: list[Row]) -> list[str]:
    keys = ("excess_loss", HEADLINE, "ood_finished", "ood_stop_rule")
    lines = ["| model | seeds | " + " | ".join(f"{SHORT.get(k, k)} per seed" for k in keys) + " | raw 95% interval of the headline |",
             "|---|---|" + "---|" * len(keys) + "---|"]
    for row in rows:
        seeds = ", ".join(str(r["seed"]) for r in row.results)
        cells = [row.label, seeds]
        for k in keys:
            cells.append(" ".join(_fmt_seed(v, 4 if k == "excess_loss" else 3) for v in row.values(k)))
        s = row.summary(HEADLINE)
        cells.append("—" if s is None or s.n < 2 else f"[{fmt_num(s.lo, 3)}, {fmt_num(s.hi, 3)}]")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def heldout_table(rows: list[Row]) -> list[str]:
    """Regime rows (and the standard row of the same model) on all headline prompts and
    on the held-out half, the only half a regime never trained on."""
    regimes = [r for r in rows if r.regime != "standard"]
    if not regimes:
        return []
    bases = {r.model.rsplit("-", 1)[0] for r in regimes}
    shown = [r for r in rows if r.model in bases] + regimes
    lines = ["| model | regime | " + " | ".join(f"{SHORT[a]}: all | {SHORT[a]}: held-out" for a, _ in HELDOUT_PAIRS) + " |",
             "|---|---|" + "--:|--:|" * len(HELDOUT_PAIRS)]
    for row in shown:
        cells = [row.label, row.regime]
        for a, h in HELDOUT_PAIRS:
            cells += [fmt_cell(row.summary(a), 3, True), fmt_cell(row.summary(h), 3, True)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# --------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class PairClaim:
    a: Row
    b: Row
    loss_equivalent: bool
    loss_interval: tuple[float, float]
    p_headline: float
    p_adjusted: float

    @property
    def claim(self) -> bool:
        return self.loss_equivalent and self.p_adjusted < ALPHA


def pair_claims(rows: list[Row]) -> list[PairClaim]:
    """Every pair of rows with at least two seeds each: TOST on excess loss, Welch + Holm on the headline."""
    eligible = [r for r in rows if r.seeds >= 2 and r.summary(HEADLINE) is not None]
    pairs = list(itertools.combinations(eligible, 2))
    raw = []
    for a, b in pairs:
        eq, interval = equivalent(a.values("excess_loss"), b.values("excess_loss"), DELTA, ALPHA)
        raw.append((a, b, eq, interval, welch(a.values(HEADLINE), b.values(HEADLINE)).p_two_sided()))
    adjusted = holm([p for *_, p in raw])
    return [PairClaim(a, b, eq, iv, p, adj) for (a, b, eq, iv, p), adj in zip(raw, adjusted, strict=True)]


def identifiability_summary(rows: list[Row]) -> list[str]:
    claims = pair_claims(rows)
    found = []
    for c in claims:
        if not c.claim:
            continue
        hi, lo = (c.a, c.b) if c.a.summary(HEADLINE).mean >= c.b.summary(HEADLINE).mean else (c.b, c.a)
        found.append(
            f"- **{hi.label}** vs **{lo.label}**: excess-loss difference in "
            f"[{fmt_num(c.loss_interval[0], 4)}, {fmt_num(c.loss_interval[1], 4)}] ⊂ (−{DELTA}, {DELTA}); "
            f"headline {fmt_cell(hi.summary(HEADLINE), 3, True)} vs {fmt_cell(lo.summary(HEADLINE), 3, True)} "
            f"(Welch p = {c.p_headline:.2g}, Holm-adjusted {c.p_adjusted:.2g})."
        )
    intro = (f"Loss cannot tell these apart, capability can ({len(claims)} pairs compared; TOST with δ = {DELTA} "
             f"on `excess_loss` at 5%, Welch on the headline at 5% after Holm over the {len(claims)} pairs):")
    if not found:
        return [intro, "", "- No pair of rows here is loss-equivalent yet different in the headline."]
    return [intro, "", *found]


def bar_summary(rows: list[Row]) -> list[str]:
    bar = bars(rows)
    trained = [r for r in rows if r.model not in REFERENCE_ORDER]
    lines = []
    for key in (HEADLINE, "ood_stop_rule"):
        level, source = bar[key]
        above = [r.label for r in trained if _beats(r.summary(key), level)]
        lines.append(f"- `{key}` bar {level:.3f} (set by {source}): "
                     + (f"above it (whole 95% interval): {', '.join(above)}." if above else "no trained row is above it."))
    return lines


# --------------------------------------------------------------------------- page
def overall_table(grouped: dict[str, list[Row]]) -> list[str]:
    tasks = list(grouped)
    models = sorted({row.model for rows in grouped.values() for row in rows}, key=_model_order)
    lines = ["| model | " + " | ".join(tasks) + " |", "|---|" + "|".join(["--:"] * len(tasks)) + "|"]
    lines.append("| *chance* | " + " | ".join(f"{_chance(grouped[t])[0][HEADLINE]:.3f}" for t in tasks) + " |")
    bar = {t: bars(grouped[t])[HEADLINE][0] for t in tasks}
    lines.append("| *bar* (max of chance, stop-now, best-constant) | " + " | ".join(f"{bar[t]:.3f}" for t in tasks) + " |")
    for model in models:
        cells = []
        for t in tasks:
            row = next((r for r in grouped[t] if r.model == model), None)
            if row is None:
                cells.append("—")
                continue
            s = row.summary(HEADLINE)
            mark = " ▲" if model not in REFERENCE_ORDER and _beats(s, bar[t]) else ""
            cells.append(f"{fmt_cell(s, 3, True)}{mark} (n={row.seeds})")
        lines.append(f"| {md_escape(model)} | " + " | ".join(cells) + " |")
    return lines


def render(results: list[dict], figures: dict[str, str] | None = None, stores: list[str] | None = None,
           finetune: Sequence[dict] = (), ablation: dict[str, list[dict]] | None = None) -> str:
    """The whole ``leaderboard.md`` text. ``figures`` maps task -> relative PNG path (and
    ``"finetune"`` -> the fine-tuning figure); ``stores`` names the results stores read
    (default ``results/``); ``finetune``: the fine-tuning records (their section); ``ablation``:
    factor -> results (:mod:`rexbench.benchmark.ablation_board`, its section)."""
    where = ", ".join(f"`{s}`" for s in (stores or ["results/"]))
    grouped = group_rows(results)
    lines = [
        "# rexbench leaderboard",
        "",
        f"Suite version **{SUITE_VERSION}**, harness version **{rexbench.benchmark.__version__}**. "
        f"Generated by `rexbench leaderboard` from the result files in {where}; do not edit by hand. "
        "Every count, verdict and chance level below was recomputed from each file's per-prompt records.",
        "",
        "How to read it. Each cell is the mean over seeds with its 95% Student-t interval `[lo, hi]`; "
        "`⁎` marks a bound clipped to [0, 1] (the raw interval is in the per-seed table). Losses are nats per "
        "target token on `test`; `excess_loss = test_loss − optimal_loss` (0 = Bayes-optimal). "
        "The **headline** (`ood_rule_extrapolation`) is the fraction of OOD prompts (keep rule completable) whose "
        "completion stops and keeps the rule; it is exactly **finished × rule | finished** "
        "(`ood_finished` × `ood_rule_given_finished`), so these two columns say how much of a headline is "
        "stopping and how much is the rule. **stop rule** (`ood_stop_rule`) judges the rule where the model's "
        "P(EOS) peaks, with EOS withheld: it does not depend on whether the model stops. "
        "The **bar** of a capability is the highest of chance and the trivial policies `stop-now` and "
        "`best-constant` (both Bayes-optimal on the support); `▲` marks a trained row whose whole interval is "
        "above it. Trained rows are taken at the checkpoint of lowest `val_loss`.",
        "",
        CAPABILITY_READING,
        "",
        "Reproduce every row: `rexbench reproduce --out results/` (reference rows and trained baselines, seeds 0–4), "
        "then `rexbench leaderboard`. Each row's training steps, best step and validation curve are in its result "
        "files (`manifest.train_steps`, `training`).",
        "",
        "## Headline across tasks",
        "",
        *overall_table(grouped),
    ]
    for task, rows in grouped.items():
        lines += ["", f"## {task}", "", *task_table(rows), "", *bar_summary(rows), "", "Per seed:", "",
                  *per_seed_table(rows)]
        held = heldout_table(rows)
        if held:
            lines += ["", "Regimes, on all headline prompts and on the held-out half (never trained on):", "", *held]
        lines += ["", *identifiability_summary(rows)]
        if figures and task in figures:
            lines += ["", f"![per-seed excess loss vs headline on {task}]({figures[task]})"]
        from rexbench.benchmark.capability_board import capability_section

        curves = capability_section(rows, (figures or {}).get(f"{task}{CAPABILITY_SUFFIX}"))
        if curves:
            lines += ["", *curves]
    from rexbench.benchmark.icl_board import icl_section  # it builds on this module's rows

    icl = icl_section(grouped, (figures or {}).get("icl"))
    if icl:
        lines += ["", *icl]
    if finetune:
        lines += ["", *finetune_section(summarise(finetune), (figures or {}).get("finetune"))]
    from rexbench.benchmark.capability_board import anchors_section

    anchors = anchors_section(grouped)
    if anchors:
        lines += ["", *anchors]
    if ablation:
        from rexbench.benchmark.ablation_board import ablation_section

        lines += ["", *ablation_section(ablation)]
    return "\n".join(lines) + "\n"
