"""Argument types shared by the subcommands: every bad value is refused at parse time,
before any work, as one line (``rexbench CMD: error: argument --out: ...``, exit 2)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

MAX_SEED = 2**31  # seeds are in [0, 2^31): the result schema's range, and jax.random.key's int32 range


def seed(text: str) -> int:
    """One run seed, an integer in [0, 2^31)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: expected an integer in [0, 2^31)") from None
    if not 0 <= value < MAX_SEED:
        raise argparse.ArgumentTypeError(f"invalid seed {value}: seeds are integers in [0, 2^31)")
    return value


def seed_list(text: str) -> list[int]:
    """``"0-4"`` -> [0..4]; ``"0,2,7"``; ``"3"``; combinations like ``"0-2,5"``."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                if hi - lo > 10_000:
                    raise argparse.ArgumentTypeError(f"invalid seed list {text!r}: more than 10,000 seeds")
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed list {text!r}; use e.g. 0-4 or 0,1,2") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0 or max(seeds) >= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"invalid seed list {text!r}: seeds must be distinct integers in [0, 2^31)")
    return seeds


def output_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot receive files (None if it can), found by really creating and
    removing a file in it or in its nearest existing ancestor: permission bits do not
    stop root, an immutable or read-only-mounted directory stops everyone."""
    probe = Path(path)
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"{probe} is not a directory"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".rexbench-probe.", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        return f"{probe} is not writable ({err.strerror or err})"
    return None


def output_dir(text: str) -> Path:
    """An ``--out`` directory that can be written (it may not exist yet)."""
    path = Path(text)
    problem = output_dir_problem(path)
    if problem:
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return path


def output_file(text: str) -> Path:
    """An ``--out`` file that can be (re)written atomically: not a directory, its folder writable."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a directory, expected a file name")
    problem = output_dir_problem(path.parent if str(path.parent) else Path("."))
    if problem:
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return path


def task_name(text: str) -> str:
    """A task of the suite (the error lists the valid names)."""
    from rexbench.tasks import TASK_NAMES

    if text not in TASK_NAMES:
        raise argparse.ArgumentTypeError(f"unknown task {text!r}; valid tasks: {', '.join(TASK_NAMES)}")
    return text


def task_spec(text: str):
    """``NAME`` or ``NAME:SIZE`` (e.g. ``anbn:128``) -> the task at that size parameter."""
    from rexbench.tasks import UnknownTaskError, get_task

    name, colon, size = text.partition(":")
    if colon and not size.isdigit():
        raise argparse.ArgumentTypeError(f"invalid task {text!r}: expected NAME or NAME:SIZE, e.g. anbn:128")
    try:
        return get_task(name, int(size) if colon else None)
    except (UnknownTaskError, ValueError) as err:
        raise argparse.ArgumentTypeError(f"invalid task {text!r}: {err}") from None


def positive_int(text: str) -> int:
    """An integer >= 1 (step budgets, sizes, limits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {value}: expected a positive integer")
    return value


def model_name(text: str) -> str:
    """A result's model name (the schema's pattern)."""
    from rexbench.benchmark.results import MODEL_NAME

    if not MODEL_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"invalid model name {text!r}: 1-128 characters of A-Z a-z 0-9 . _ : / + @ = -, starting with a letter or digit")
    return text
