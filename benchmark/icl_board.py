"""The leaderboard's in-context-learning section (docs/ICL.md), for tasks with ICL probes.

Per task: one row per model with ``excess_loss`` and ``icl_accuracy@k`` for every k and
``icl_gain``, each the mean over seeds with its 95% interval (the rows' result files hold
an ``icl`` block, already audited against its per-probe records by the loader), the exact
chance and Bayes levels, and, for every pair of rows that the loss cannot tell apart (TOST
on ``excess_loss`` at δ = 0.002, as in the rule-extrapolation tables), whether their
``icl_gain`` differs (Welch, Holm over the task's pairs). On a task whose law of m gives
``P(m >= 2) > 0`` the section also prints the exact bound of ``tasks/icl_bound.py`` on the
test split: how far the loss can move while ICL behaviour changes, for the bound's class
of models.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction

from rexbench.benchmark.leaderboard import ALPHA, DELTA, Row, fmt_cell, fmt_num, md_escape
from rexbench.benchmark.reference import REFERENCE_MODELS
from rexbench.benchmark.stats import Summary, equivalent, holm, summarize, welch
from rexbench.tasks import get_split, get_task

ICL_FIGURE = "icl.png"  # in the store's figures/ folder
GAIN = "icl_gain"


def icl_rows(rows: Sequence[Row]) -> list[Row]:
    """Rows with an ``icl`` block, less the rule-extrapolation reference rows (oracle-keep,
    stop-now, ...: they are in the task's own table, and no claim about ICL is made of them)."""
    return [r for r in rows if r.model not in REFERENCE_MODELS and all("icl" in res for res in r.results)]


def icl_values(row: Row, key: str) -> list[float | None]:
    return [res["icl"]["metrics"][key] for res in row.results]


def icl_summary(row: Row, key: str) -> Summary | None:
    vals = icl_values(row, key)
    return None if any(v is None for v in vals) else summarize([float(v) for v in vals])


def shots(row: Row) -> list[int]:
    return list(row.results[0]["icl"]["shots"])


def delta_of(task_name: str) -> Fraction | None:
    """P(m >= 2) of an ICL task's law of m (None for a task without one)."""
    law = getattr(get_task(task_name), "m_law", None)
    return None if law is None else 1 - law.get(1, Fraction(0))


def test_split_bound(task_name: str) -> float | None:
    from rexbench.tasks.icl_bound import split_bound

    return split_bound(get_split(task_name, "test").words) if delta_of(task_name) else None


def icl_table(rows: Sequence[Row]) -> list[str]:
    ks = shots(rows[0])
    keys = [f"icl_accuracy@{k}" for k in ks] + [GAIN]
    first = rows[0].results[0]["icl"]
    lines = ["| model | seeds | excess_loss | " + " | ".join(f"@{k}" for k in ks) + " | icl_gain |",
             "|---|--:|--:|" + "--:|" * len(keys)]
    for level in ("chance", "bayes"):
        cells = [f"{first[level][k]:.3f}" for k in keys]
        lines.append(f"| *{'Bayes-optimal' if level == 'bayes' else level}* | | 0 | " + " | ".join(cells) + " |")
    for r in rows:
        cells = [fmt_cell(icl_summary(r, k), 3, k != GAIN) for k in keys]
        lines.append(f"| {md_escape(r.model)} | {r.seeds} | {fmt_cell(r.summary('excess_loss'), 4)} | "
                     + " | ".join(cells) + " |")
    return lines


def heldout_lines(rows: Sequence[Row]) -> list[str]:
    """Regime rows (anti-icl): accuracy on the probes outside the regime half too."""
    regime = [r for r in rows if r.regime != "standard"]
    if not regime:
        return []
    ks = shots(regime[0])[1:]
    lines = ["Regime rows on the held-out half of the k ≥ 1 probes (never trained on):", "",
             "| model | " + " | ".join(f"held-out @{k}" for k in ks) + " |", "|---|" + "--:|" * len(ks)]
    for r in regime:
        lines.append(f"| {md_escape(r.model)} | "
                     + " | ".join(fmt_cell(icl_summary(r, f"heldout_icl_accuracy@{k}"), 3, True) for k in ks) + " |")
    return lines


# float32 logits put a reference row's excess up to ~2e-6 off its exact value
BOUND_SLACK = 1e-5


def bound_lines(rows: Sequence[Row], bound: float) -> list[str]:
    """Each row's excess loss against the bound. A model of the bound's class pays at most
    ``bound`` on the test split, so a seed above it is outside the class: its excess is not
    ICL behaviour alone (it also misses the task before the first ``|`` or at an
    end-of-example decision), and the bound says nothing about its loss difference from
    another row; only TOST (below) does."""
    lines = ["| model | excess_loss | ÷ bound | seeds above the bound |", "|---|--:|--:|--:|"]
    for r in rows:
        s = r.summary("excess_loss")
        above = sum(v > bound + BOUND_SLACK for v in r.values("excess_loss"))
        ratio = f"{s.mean / bound:.1f}".replace("-0.0", "0.0")  # float32 noise below Bayes
        lines.append(f"| {md_escape(r.model)} | {fmt_cell(s, 4)} | {ratio}× | {above}/{r.seeds} |")
    outside = [md_escape(r.model) for r in rows if all(v > bound + BOUND_SLACK for v in r.values("excess_loss"))]
    verdict = (f"Outside the bound's class on every seed: {', '.join(outside)}; for them the bound does not "
               "limit the loss difference, and loss-equivalence rests on TOST alone." if outside
               else "Every row has a seed within the bound.")
    return [f"Excess loss against the bound (a seed above it is outside the class; slack {BOUND_SLACK:g} for "
            "float32 logits):", "", *lines, "", verdict]


def pair_lines(rows: Sequence[Row]) -> list[str]:
    eligible = [r for r in rows if r.seeds >= 2 and icl_summary(r, GAIN) is not None]
    pairs = list(itertools.combinations(eligible, 2))
    if not pairs:
        return []
    raw = []
    for a, b in pairs:
        eq, iv = equivalent(a.values("excess_loss"), b.values("excess_loss"), DELTA, ALPHA)
        raw.append((a, b, eq, iv, welch(icl_values(a, GAIN), icl_values(b, GAIN)).p_two_sided()))
    adjusted = holm([p for *_, p in raw])
    found = []
    for (a, b, eq, iv, p), adj in zip(raw, adjusted, strict=True):
        if not eq:
            continue
        verdict = "**differ in ICL**" if adj < ALPHA else "not shown to differ in ICL"
        found.append(f"- {md_escape(a.model)} vs {md_escape(b.model)}: excess-loss difference in "
                     f"[{fmt_num(iv[0], 4)}, {fmt_num(iv[1], 4)}] ⊂ (−{DELTA}, {DELTA}); icl_gain "
                     f"{fmt_cell(icl_summary(a, GAIN), 3)} vs {fmt_cell(icl_summary(b, GAIN), 3)}: {verdict} "
                     f"(Welch p = {p:.2g}, Holm-adjusted {adj:.2g}).")
    intro = (f"Loss-equivalent pairs ({len(pairs)} pairs compared; TOST with δ = {DELTA} on `excess_loss` at 5%, "
             "Welch on `icl_gain` at 5% after Holm):")
    return [intro, "", *(found or ["- No pair of rows here is loss-equivalent."])]


def icl_section(grouped: dict[str, list[Row]], figure: str | None = None) -> list[str]:
    """The section's markdown lines (empty when no task has rows with an ``icl`` block)."""
    tasks = {t: icl_rows(rows) for t, rows in grouped.items()}
    tasks = {t: rows for t, rows in tasks.items() if rows}
    if not tasks:
        return []
    lines = [
        "## In-context learning: the examples fix the language, or not",
        "",
        "Documents are `x₁|x₂|…|x_m` with every example from one member of {aⁿbⁿ, aⁿb²ⁿ, a²ⁿbⁿ}, drawn once "
        "per document (docs/ICL.md). An ICL probe gives k examples of a member and an ambiguous query; "
        "`@k` is the fraction of probes whose greedy answer follows that member (72 probes per k), "
        "`icl_gain` = @max k − @0. On `icl-single` (m ≡ 1) a probe with k ≥ 1 has probability 0, so using the "
        "examples is worth nothing in the loss: `icl-oracle` and `icl-ignore` both have excess loss 0. On "
        "`icl-rare` such prompts are rare (δ = P(m ≥ 2)), so ignoring them costs at most the bound below; on "
        "`icl-heavy` the loss forces ICL. Every count was recomputed from the per-probe records.",
    ]
    for task, rows in tasks.items():
        d = delta_of(task)
        lines += ["", f"### {task} (δ = P(m ≥ 2) = {d})", "", *icl_table(rows)]
        bound = test_split_bound(task)
        if bound is not None:
            lines += ["", f"Bound (tasks/icl_bound.py): a model in the bound's class that changes its ICL behaviour "
                          f"moves the test loss by at most **{bound:.6f}** nats/token on this split.",
                      "", *bound_lines(rows, bound)]
        held = heldout_lines(rows)
        if held:
            lines += ["", *held]
        pl = pair_lines(rows)
        if pl:
            lines += ["", *pl]
    if figure:
        lines += ["", f"![ICL accuracy against the number of examples, per model]({figure})"]
    return lines
