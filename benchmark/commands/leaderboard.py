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
from rexbench.benchmark.leaderboard import FIGURE_DIR, StoreError, group_rows, load_stores, render


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


def figure_dir(stores: list[Path], out: Path) -> Path:
    return stores[0] / FIGURE_DIR if len(stores) == 1 else out.parent / f"{out.stem}_figures"


def figure_links(figures: Path, out: Path, tasks: list[str]) -> dict[str, str]:
    return {t: _rel(figures / f"{t}.png", out.parent) for t in tasks}


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
    except StoreError as err:
        print(f"rexbench: {err}", file=sys.stderr)
        return 2
    from rexbench.benchmark.html import render_html

    grouped = group_rows(results)
    stores = [_rel(p, args.out.parent) + "/" for p in args.results]  # as seen from the board
    text = render(results, figure_links(figures, args.out, list(grouped)), stores)
    links = {key: _rel(path, html_out.parent) for key, path in paths.items()}
    pngs = {t: figures / f"{t}.png" for t in grouped}
    if args.check:
        stale = [str(f) for f, want in ((args.out, text), (html_out, render_html(results, links, pngs, stores)))
                 if (f.read_text() if f.exists() else None) != want]
        if stale:
            print(f"rexbench: {' and '.join(stale)} stale: not what {', '.join(map(str, args.results))} generate; "
                  "run `rexbench leaderboard`", file=sys.stderr)
            return 1
        print(f"{args.out} and {html_out} are up to date ({len(results)} result files)")
        return 0
    write_leaderboard(results, paths, args.out, html_out, figures, stores)
    print(f"wrote {args.out}, {html_out} and {len(grouped)} figures from {len(results)} result files")
    return 0


def write_leaderboard(results: list[dict], paths: dict[tuple, Path], out: Path, html_out: Path, figures: Path,
                      stores: list[str] | None = None) -> None:
    """Writes the figures, then the markdown and the page (each atomically)."""
    from rexbench.benchmark.figures import write_figures  # matplotlib only when writing
    from rexbench.benchmark.html import render_html

    grouped = group_rows(results)
    write_figures(grouped, figures)
    atomic_write_bytes(out, render(results, figure_links(figures, out, list(grouped)), stores).encode())
    links = {key: _rel(path, html_out.parent) for key, path in paths.items()}
    atomic_write_bytes(html_out, render_html(results, links, {t: figures / f"{t}.png" for t in grouped}, stores).encode())
