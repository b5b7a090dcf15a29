"""Shared fixtures. Tests run on CPU; keep JAX quiet and deterministic.

One persistent compilation cache for the whole run (both xdist workers and the CLI's child
processes, which inherit the environment): many tests compile the same tiny training step,
decode loop or scorer again under a new closure, and the cache turns those repeats into
loads. It lives in a fresh temporary directory (removed at exit) unless the user set
``$REXBENCH_JAX_CACHE``, so a run never reads a stale cache nor writes to ``~/.cache``.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")

if "REXBENCH_JAX_CACHE" not in os.environ:
    # the xdist controller imports this first; its workers inherit the variable, so one
    # directory serves all of them and only the controller removes it
    _CACHE = tempfile.mkdtemp(prefix="rexbench-tests-jax-cache-")
    os.environ["REXBENCH_JAX_CACHE"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, True)

from rexbench.benchmark.commands.train import enable_compilation_cache  # noqa: E402

enable_compilation_cache()
