"""``rexbench leaderboard [--results DIR ...] [--out FILE] [--html FILE] [--figures DIR] [--check]``.

Validates every result file of one or more stores (yours next to the published one:
``--results my_results results``), then writes ``leaderboard.md``, the static page
``leaderboard.html`` and one figure per task. ``--check`` writes nothing and exits 1 if
either file is not what the stores generate.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rexbench.benchmark.commands.common import output_dir_problem, output_file
from rexbench.benchmark.fileio import atomic_write_bytes
from rexbench.benchmark.finetune_board import FINETUNE_FIGURE
from rexbench.benchmark.icl_board import ICL_FIGURE
from rexbench.benchmark.leaderboard import (
    CAPABILITY_SUFFIX,
    FIGURE_DIR,
    StoreError,
    group_rows,
    load_ablation_stores,
    load_finetune_stores,
    load_stores,
    render,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="validate the results store(s); regenerate leaderboard.md and leaderboard.html")
    p.add_argument("--results", type=Path, nargs="+", default=[Path("results")],
                   help="one or more results stores (default: results/)")
    p.add_argument("--out", type=output_file, default="leaderboard.md", help="markdown file (default: leaderboard.md)")
    p.add_argument("--html", type=output_file, default=None,
                   help="web page (default: --out with the suffix .html)")
    p.add_argument("--figures", type=Path, default=None,
                   help="figure folder (default: the store's figures/ for one store, else next to --out)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if --out or --html is stale")
    p.set_defaults(func=cmd_leaderboard)


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start if str(start) else ".")).as_posix()


def icl_tasks(grouped: dict[str, list]) -> dict[str, list]:
    """Tasks with rows that carry an ``icl`` block, and those rows."""
    from rexbench.benchmark.icl_board import icl_rows

    return {t: rows for t, rows in ((t, icl_rows(r)) for t, r in grouped.items()) if rows}


def figure_dir(stores: list[Path], out: Path) -> Path:
    return stores[0] / FIGURE_DIR if len(stores) == 1 else out.parent / f"{out.stem}_figures"


def figure_links(figures: Path, out: Path, tasks: list[str], finetune: bool = False, icl: bool = False) -> dict[str, str]:
    links = {t: _rel(figures / f"{t}.png", out.parent) for t in tasks}
    links |= {f"{t}{CAPABILITY_SUFFIX}": _rel(figures / f"{t}{CAPABILITY_SUFFIX}.png", out.parent) for t in tasks}
    if icl:
        links["icl"] = _rel(figures / ICL_FIGURE, out.parent)
    if finetune:
        links["finetune"] = _rel(figures / FINETUNE_FIGURE, out.parent)
    return links


def cmd_leaderboard(args: argparse.Namespace) -> int:
    html_out = args.html or args.out.with_suffix(".html")
    figures = args.figures or figure_dir(args.results, args.out)
    if not args.check:
        problem = output_dir_problem(figures)
        if problem:
            print(f"rexbench leaderboard: --figures {figures}: {problem}", file=sys.stderr)
            return 2
    try:
        results, paths = load_stores(args.results)
        finetune = load_finetune_stores(args.results)
        ablation = load_ablation_stores(args.results)
    except StoreError as err:
        print(f"rexbench: {err}", file=sys.stderr)
        return 2
    stores = [_rel(p, args.out.parent) + "/" for p in args.results]  # as seen from the board
    if args.check:
        stale = [str(f) for f, want in board_texts(results, paths, args.out, html_out, figures, stores, finetune, ablation).items()
                 if (f.read_text() if f.exists() else None) != want]
        if stale:
            print(f"rexbench: {' and '.join(stale)} stale: not what {', '.join(map(str, args.results))} generate; "
                  "run `rexbench leaderboard`", file=sys.stderr)
            return 1
        print(f"{args.out} and {html_out} are up to date ({len(results)} result files, {len(finetune)} fine-tuning records)")
        return 0
    write_leaderboard(results, paths, args.out, html_out, figures, stores, finetune, ablation)
    print(f"wrote {args.out}, {html_out} and the figures from {len(results)} result files"
          f"{f' and {len(finetune)} fine-tuning records' if finetune else ''}")
    return 0


def board_texts(results: list[dict], paths: dict[tuple, Path], out: Path, html_out: Path, figures: Path,
                stores: list[str] | None, finetune: list[dict],
                ablation: dict[str, list[dict]] | None = None) -> dict[Path, str]:
    """The markdown and the page, as they would be written."""
    from rexbench.benchmark.html import render_html

    grouped = group_rows(results)
    links = {key: _rel(path, html_out.parent) for key, path in paths.items()}
    pngs = {t: figures / f"{t}.png" for t in grouped}
    pngs |= {f"{t}{CAPABILITY_SUFFIX}": figures / f"{t}{CAPABILITY_SUFFIX}.png" for t in grouped}
    icl = icl_tasks(grouped)
    if icl:
        pngs["icl"] = figures / ICL_FIGURE
    if finetune:
        pngs["finetune"] = figures / FINETUNE_FIGURE
    return {
        out: render(results, figure_links(figures, out, list(grouped), bool(finetune), bool(icl)), stores, finetune,
                    ablation),
        html_out: render_html(results, links, pngs, stores, finetune, ablation),
    }


def write_leaderboard(results: list[dict], paths: dict[tuple, Path], out: Path, html_out: Path, figures: Path,
                      stores: list[str] | None = None, finetune: list[dict] | None = None,
                      ablation: dict[str, list[dict]] | None = None) -> None:
    """Writes the figures, then the markdown and the page (each atomically)."""
    from rexbench.benchmark.figures import finetune_png, icl_png, write_figures  # matplotlib only when writing

    write_figures(group_rows(results), figures)
    icl = icl_tasks(group_rows(results))
    if icl:
        atomic_write_bytes(figures / ICL_FIGURE, icl_png(icl))
    if finetune:
        atomic_write_bytes(figures / FINETUNE_FIGURE, finetune_png(finetune))
    for path, text in board_texts(results, paths, out, html_out, figures, stores, finetune or [], ablation).items():
        atomic_write_bytes(path, text.encode())
