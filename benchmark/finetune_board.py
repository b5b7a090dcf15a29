"""The leaderboard's fine-tunability section, from the rows of
:func:`rexbench.benchmark.finetune_records.summarise`.

Two tables: the headline (spread of ``mean_excess`` over twins — one function, so one
source loss and one set of capabilities — next to its spread over seeds whose source
losses are matched), and the per-α detail (``mean_excess`` and steps to τ per seed, the
target's headline and the source's headline after fine-tuning).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rexbench.benchmark.finetune_records import DELTA

FINETUNE_FIGURE = "finetune.png"  # in the store's figures/ folder


def _num(x: float | None, digits: int = 4) -> str:
    return "diverged" if x is None else f"{x:.{digits}f}"


def _mean(values: Sequence[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else float(np.mean(values))


def reference_alpha(row: dict) -> float:
    """The α at which seeds are compared: 1 (the trained parameters) when it was run."""
    return 1.0 if 1.0 in row["alphas"] else row["alphas"][0]


def spread_table(rows: Sequence[dict]) -> list[str]:
    """The headline: spreads (max − min and population std) of ``mean_excess`` over twins,
    averaged over sources, next to the same spreads over seeds at the reference α."""
    lines = [
        "| source | fine-tuned with | α | twins: max − min per source | twins: mean max − min | twins: mean std | "
        f"seeds at α = 1: max − min | seeds: std | seeds' source-loss range (matched if < δ = {DELTA}) | "
        "twins ÷ seeds (max − min) | twins' source-loss gap | twins' source capabilities identical |",
        "|---|---|---|---|--:|--:|--:|--:|---|--:|--:|---|",
    ]
    for r in rows:
        twin = [t["max_minus_min"] for t in r["twin_spread"]]
        twin_mean, twin_std = _mean(twin), _mean([t["std"] for t in r["twin_spread"]])
        seeds = r["seed_spread"][reference_alpha(r)]
        seed = seeds["max_minus_min"]
        ratio = None if twin_mean is None or not seed else twin_mean / seed
        matched = "matched" if r["seeds_matched"] else "**not matched**"
        lines.append(
            f"| {r['model']} on {r['source_task']} → {r['target']} | {r['optimizer']} | "
            f"{', '.join(f'{x:g}' for x in r['alphas'])} | {', '.join(_num(t) for t in twin)} | {_num(twin_mean)} | "
            f"{_num(twin_std)} | {_num(seed)} | {_num(seeds['std'])} | "
            f"{r['seed_source_loss_range']:.4f} ({matched}) | "
            f"{'—' if ratio is None else f'{ratio:.1f}×'} | {r['twin_source_loss_gap']:.1e} | "
            f"{'yes' if r['twins_same_capabilities'] else '**no**'} |"
        )
    return lines


def detail_table(rows: Sequence[dict]) -> list[str]:
    lines = ["| source | fine-tuned with | α | mean excess per seed | steps to τ per seed | target headline (mean) | "
             "source headline after (mean) |", "|---|---|--:|---|---|--:|--:|"]
    for r in rows:
        for i, a in enumerate(r["alphas"]):
            excess = [m[i] for m in r["mean_excess"]]
            reach = [s[i] for s in r["steps_to_tau"]]
            tgt = [h[i] for h in r["target_headline"]]
            src = [h[i] for h in r["source_headline_after"]]
            lines.append(
                f"| {r['model']} on {r['source_task']} → {r['target']} | {r['optimizer']} | {a:g} | "
                f"{', '.join(_num(x) for x in excess)} | {', '.join('never' if s is None else str(s) for s in reach)} | "
                f"{_num(_mean(tgt), 3)} | {_num(_mean(src), 3)} |"
            )
    return lines


def finetune_section(rows: Sequence[dict], figure: str | None = None) -> list[str]:
    """The section's markdown lines (empty without records)."""
    if not rows:
        return []
    r0 = rows[0]
    lines = [
        "## Fine-tunability: one function, different parameters",
        "",
        "Each source checkpoint is rescaled exactly (`rexbench.baselines.reparam`: the *twins* compute the same "
        "logits, so they have the same loss and the same capabilities) and every twin is fine-tuned on the target "
        "with the same optimiser, learning rate, budget and batch order (`rexbench finetune`). "
        "`mean excess` is the target's excess val loss averaged over the fine-tuning run (area under the curve "
        f"over the budget, nats per token; smaller = learnt faster); steps to τ is the first evaluation with excess "
        f"≤ τ = {r0['tau']} ({r0['steps']} steps, evaluated every few steps). A spread over twins is caused by the "
        "parameters alone; it is set next to the spread over seeds at α = 1, whose source losses are matched "
        "within δ. Every number was recomputed from the stored curves.",
        "",
        *spread_table(rows),
        "",
        "Per α:",
        "",
        *detail_table(rows),
    ]
    if figure:
        lines += ["", f"![target excess loss over fine-tuning steps, per α and seed]({figure})"]
    return lines
