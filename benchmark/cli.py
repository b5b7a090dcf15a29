"""The ``rexbench`` console command: a thin dispatcher over ``rexbench.benchmark.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines ``register(subparsers)`` adding one or more subcommands whose
# ``func(args) -> int`` is set with ``set_defaults(func=...)``.
COMMAND_MODULES: tuple[str, ...] = (
    "rexbench.benchmark.commands.tasks",
    "rexbench.benchmark.commands.score",
    "rexbench.benchmark.commands.leaderboard",
    "rexbench.benchmark.commands.demo",
    "rexbench.benchmark.commands.train",
    "rexbench.benchmark.commands.finetune",
    "rexbench.benchmark.commands.verify",
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
    parser = build_parser()
    parser.add_argument("--version", action="version", version=_version())
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # bad arguments (one line, exit 2), --help, --version
        return int(exit_.code or 0)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `rexbench describe anbn | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        resume = ("; the same command resumes an unfinished run from its last training snapshot, if it wrote one"
                  if args.command in ("train", "reproduce") else "")
        print(f"rexbench {args.command}: interrupted (result files are written atomically: "
              f"none is half-written{resume})", file=sys.stderr)
        return 130


def _version() -> str:
    from rexbench.benchmark import __version__
    from rexbench.tasks import SUITE_VERSION

    return f"rexbench {__version__} (suite v{SUITE_VERSION})"


if __name__ == "__main__":
    sys.exit(main())
