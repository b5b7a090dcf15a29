"""The non-identifiability picture: excess loss against rule extrapolation, per seed.

Headless (Agg) and deterministic: fixed size/DPI, no timestamp or version metadata, so
the same results give byte-identical PNGs.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rexbench.benchmark.fileio import atomic_write_bytes  # noqa: E402
from rexbench.benchmark.leaderboard import CAPABILITY_SUFFIX, HEADLINE, REFERENCE_ORDER, Row, bars  # noqa: E402

MARKERS = {"oracle-keep": "*", "oracle-break": "X", "stop-now": "v", "best-constant": "^", "uniform": "s"}


def scatter_png(task: str, rows: list[Row], chance: float, bar: float | None = None) -> bytes:
    """One point per seed, coloured by model; reference rows marked; chance dashed and
    the bar (highest of chance and the trivial policies) dotted."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
    cmap = plt.get_cmap("tab10")
    trained = [r for r in rows if r.model not in REFERENCE_ORDER]
    for i, row in enumerate(trained + [r for r in rows if r.model in REFERENCE_ORDER]):
        xs = [float(r["metrics"]["excess_loss"]) for r in row.results]
        ys = [float(r["metrics"][HEADLINE]) for r in row.results]
        ref = row.model in REFERENCE_ORDER
        ax.scatter(
            xs, ys, label=row.label.replace("`", "").replace("\\", ""), marker=MARKERS.get(row.model, "o"), s=140 if ref else 36,
            color="black" if ref else cmap(i % 10), alpha=0.9, edgecolors="white", linewidths=0.5, zorder=3 if ref else 2,
        )
    ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    if bar is not None and bar > chance:
        ax.axhline(bar, color="grey", linestyle=":", linewidth=1, label="bar (trivial policies)")
    ax.set_xscale("symlog", linthresh=1e-3)
    xmax = max(float(r["metrics"]["excess_loss"]) for row in rows for r in row.results)
    ax.set_xlim(left=-1e-4, right=max(1e-2, 2.0 * xmax))
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("excess_loss (nats/token, symlog)")
    ax.set_ylabel(HEADLINE)
    ax.set_title(f"{task}: same loss, different extrapolation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def write_figures(grouped: dict[str, list[Row]], out_dir: Path) -> dict[str, Path]:
    """Write ``{task}.png`` for every task, and ``{task}__capability.png`` for every task
    with capability curves; returns task (or ``{task}__capability``) -> path."""
    from rexbench.benchmark.capability_board import curve_rows

    paths = {}
    for task, rows in grouped.items():
        chance = float(rows[0].results[0]["chance"][HEADLINE])
        path = Path(out_dir) / f"{task}.png"
        atomic_write_bytes(path, scatter_png(task, rows, chance, bars(rows)[HEADLINE][0]))
        paths[task] = path
        with_curves = curve_rows(rows)
        if with_curves:
            key = f"{task}{CAPABILITY_SUFFIX}"
            paths[key] = Path(out_dir) / f"{key}.png"
            runs = {row.label.replace("`", "").replace("\\", ""): row.results for row in with_curves}
            atomic_write_bytes(paths[key], capability_png(task, runs))
    return paths



def finetune_png(records: list[dict]) -> bytes:
    """Target excess loss over fine-tuning steps: one panel per (source, optimiser), one
    colour per α, one line per (α, seed); a diverged run stops where its loss did."""
    panels: dict[tuple, list[dict]] = {}
    for r in records:
        key = (r["source"]["model"], r["source"]["task"], r["target"]["config"], r["config"]["optimizer"])
        panels.setdefault(key, []).append(r)
    keys = sorted(panels)
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4.0), dpi=100, squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, key in zip(axes[0], keys, strict=True):
        recs = sorted(panels[key], key=lambda r: r["source"]["seed"])
        alphas = [run["alpha"] for run in recs[0]["runs"]]
        for i, a in enumerate(alphas):
            colour = cmap(i / max(1, len(alphas) - 1))
            for j, r in enumerate(recs):
                pts = [(s, v) for s, v in r["runs"][i]["curve"] if v is not None]
                ax.plot([s for s, _ in pts], [v for _, v in pts], color=colour, linewidth=1, alpha=0.8,
                        label=f"α = {a:g}" if j == 0 else None)
        ax.axhline(recs[0]["config"]["tau"], color="grey", linestyle=":", linewidth=1, label="τ")
        ax.set_yscale("symlog", linthresh=1e-3)
        lowest = min(v for r in recs for run in r["runs"] for _, v in run["curve"] if v is not None)
        ax.set_ylim(bottom=min(0.0, 1.5 * lowest))  # no empty negative half unless a run went below 0
        ax.set_xlabel("fine-tuning step")
        ax.set_ylabel("target excess val loss (nats/token, symlog)")
        ax.set_title(f"{key[0]} on {key[1]} → {key[2]}, {key[3]}\n({len(recs)} seeds, one line each)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def capability_png(task: str, runs: dict[str, list[dict]]) -> bytes:
    """Capability over training (issue #13): for each model (one colour), the excess val
    loss (top; val loss minus the exact distribution's on the same val split) and the
    headline of the *current* parameters (bottom; ``training.capability_curve``) at the
    curve's validation points; thin lines per seed, the thick line their mean."""
    from rexbench.benchmark.capability_board import curve_array, optimal_val_loss

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.0, 6.4), dpi=100, sharex=True)
    cmap = plt.get_cmap("tab10")
    for i, (model, results) in enumerate(sorted(runs.items())):
        colour = cmap(i % 10)
        steps = [s for s, _ in results[0]["training"]["val_curve"]]
        optimal_val = optimal_val_loss(results[0])  # per row: the task's size is the row's own
        excess = [[v - optimal_val for _, v in r["training"]["val_curve"]] for r in results]
        curve_steps, head_SC = curve_array(results)  # a curve may be thinned: its own steps
        for xs, series, ax in ((steps, excess, top), (curve_steps.tolist(), head_SC.tolist(), bottom)):
            for ys in series:
                ax.plot(xs, ys, color=colour, linewidth=0.6, alpha=0.45)
            mean = [sum(col) / len(col) for col in zip(*series, strict=True)]
            ax.plot(xs, mean, color=colour, linewidth=2, label=f"{model} (mean of {len(series)} seeds)")
    top.set_yscale("symlog", linthresh=1e-4)
    top.set_ylabel("excess val loss (nats/token, symlog)")
    top.set_title(f"{task}: capability over training (current parameters at the curve's validation points)", fontsize=10)
    bottom.set_ylabel(f"{HEADLINE} (greedy)")
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_xlabel("training step")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def icl_png(tasks: dict[str, list[Row]]) -> bytes:
    """ICL accuracy against k: one panel per ICL task, one line per model (mean over seeds,
    95% interval as error bars), its excess loss in the legend and δ = P(m ≥ 2) in the title;
    the exact chance and Bayes-optimal levels dashed."""
    from rexbench.benchmark.icl_board import delta_of, icl_summary, shots

    fig, axes = plt.subplots(1, len(tasks), figsize=(5.0 * len(tasks), 4.2), dpi=100, squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (task, rows) in zip(axes[0], tasks.items(), strict=True):
        ks = shots(rows[0])
        first = rows[0].results[0]["icl"]
        for level, style in (("chance", ":"), ("bayes", "--")):
            ax.plot(ks, [first[level][f"icl_accuracy@{k}"] for k in ks], color="grey", linestyle=style,
                    linewidth=1, label="Bayes-optimal" if level == "bayes" else "chance")
        for i, row in enumerate(rows):
            sums = [icl_summary(row, f"icl_accuracy@{k}") for k in ks]
            means = [s.mean for s in sums]
            err = [[s.mean - s.lo for s in sums], [s.hi - s.mean for s in sums]] if row.seeds > 1 else None
            ex = row.summary("excess_loss")
            ax.errorbar(ks, means, yerr=err, color=cmap(i % 10), marker="o", markersize=4, linewidth=1.2, capsize=3,
                        label=f"{row.model} (excess {ex.mean:.4f}, n={row.seeds})")
        ax.set_xticks(ks)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("k (examples before the query)")
        ax.set_ylabel("icl_accuracy@k (greedy)")
        ax.set_title(f"{task}: δ = P(m ≥ 2) = {delta_of(task)}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
