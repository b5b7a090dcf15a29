"""``rexbench leaderboard [--results DIR] [--out FILE] [--check]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.fileio import atomic_write_bytes
from benchmark.leaderboard import FIGURE_DIR, StoreError, group_rows, load_store, render


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="validate the results store and regenerate leaderboard.md")
    p.add_argument("--results", type=Path, default=Path("results"), help="results store (default: results/)")
    p.add_argument("--out", type=Path, default=Path("leaderboard.md"), help="output file (default: leaderboard.md)")
    p.add_argument("--check", action="store_true", help="exit 1 if --out is not what the store generates")
    p.set_defaults(func=cmd_leaderboard)


def figure_links(results_dir: Path, out: Path, tasks: list[str]) -> dict[str, str]:
    rel = Path(os.path.relpath(results_dir / FIGURE_DIR, out.parent if str(out.parent) else "."))
    return {t: (rel / f"{t}.png").as_posix() for t in tasks}


def cmd_leaderboard(args: argparse.Namespace) -> int:
    try:
        results = load_store(args.results)
    except StoreError as err:
        print(f"rexbench: {err}", file=sys.stderr)
        return 2
    grouped = group_rows(results)
    text = render(results, figure_links(args.results, args.out, list(grouped)))
    if args.check:
        current = args.out.read_text() if args.out.exists() else None
        if current != text:
            print(f"rexbench: {args.out} is stale: it is not what {args.results}/ generates; "
                  "run `rexbench leaderboard`", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date ({len(results)} result files)")
        return 0
    from benchmark.figures import write_figures  # matplotlib only when writing

    write_figures(grouped, args.results / FIGURE_DIR)
    atomic_write_bytes(args.out, text.encode())
    print(f"wrote {args.out} and {len(grouped)} figures from {len(results)} result files")
    return 0
