"""The ``rexbench`` console command: a thin dispatcher over ``benchmark.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines ``register(subparsers)`` adding one or more subcommands whose
# ``func(args) -> int`` is set with ``set_defaults(func=...)``.
COMMAND_MODULES: tuple[str, ...] = (
    "benchmark.commands.tasks",
    "benchmark.commands.score",
    "benchmark.commands.leaderboard",
    "benchmark.commands.demo",
    "benchmark.commands.train",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rexbench",
        description="rexbench: test loss and rule extrapolation of autoregressive models on formal languages.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
