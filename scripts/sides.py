"""Side-by-side timings in separate processes, shared by the benchmark scripts.

A timing comparison whose sides need different process-wide settings (XLA flags, the
virtual CPU device count, a cold compilation cache) runs each side in its own child
process: the script re-runs itself with ``--side NAME``, the child prints its numbers
with :func:`emit`, and :func:`run_sides` alternates the sides ``rounds`` times so that a
drift of the machine's speed hits both alike. Used by ``bench_row_split.py``,
``bench_train.py --devices`` and ``bench_init.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

MARK = "RESULT "


def emit(obj: Any) -> None:
    """A child's result: one marked JSON line on stdout (other output is ignored)."""
    print(MARK + json.dumps(obj), flush=True)


def run_sides(argv: Sequence[str], sides: Sequence[str], rounds: int,
              env: Mapping[str, str] | None = None) -> dict[str, list[list[Any]]]:
    """``{side: [the objects one child emitted, per round]}``: runs ``python *argv --side
    SIDE`` for each side in turn, ``rounds`` times; a failing child raises with its stderr."""
    runs: dict[str, list[list[Any]]] = {side: [] for side in sides}
    for _ in range(rounds):
        for side in sides:
            proc = subprocess.run([sys.executable, *argv, "--side", side], env=None if env is None else dict(env),
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"--side {side} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
            runs[side].append([json.loads(line[len(MARK):]) for line in proc.stdout.splitlines()
                               if line.startswith(MARK)])
    return runs
