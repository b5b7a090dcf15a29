"""Progress bars for the harness's long loops (tqdm on stderr), off unless switched on.

The library is quiet by default (tests, notebooks that score many models); the command
line switches bars on (``--no-progress`` keeps them off) and so does
``rexbench.evaluate(progress=True)``::

    with progress_bars(True):
        score_model(...)   # bars for the checks, loss batches, decodes, chance levels

Bars count rows (prompts or sequences) and close when their loop ends (``leave=False``),
so a finished phase leaves only the phase line that :func:`score_model` reports.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from tqdm.auto import tqdm

_ENABLED: ContextVar[bool] = ContextVar("rexbench_progress_bars", default=False)


def bars_enabled() -> bool:
    return _ENABLED.get()


@contextmanager
def progress_bars(enabled: bool) -> Iterator[None]:
    """Bars on (or off) for the code run inside the block."""
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def bar(total: int, desc: str, unit: str = "row") -> Any:
    """A tqdm bar of ``total`` ``unit``s (a no-op bar when bars are off); use ``.update(n)``."""
    return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=not _ENABLED.get(), file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)


def bar_iter(items: Any, desc: str, unit: str = "prompt") -> Any:
    """``items`` wrapped in a bar (itself when bars are off)."""
    return tqdm(items, desc=desc, unit=unit, leave=False, disable=not _ENABLED.get(), file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)
