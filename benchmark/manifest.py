"""The ``manifest`` block of a result: where, with what and from what a result was made."""

from __future__ import annotations

import datetime as _dt
import platform as _platform
import sys

import flax
import jax
import jaxlib

import rexbench.benchmark
from rexbench.tasks import Task, split_digests


def device_description() -> str:
    """The default JAX device, e.g. ``"cpu: cpu"`` or ``"gpu: NVIDIA H100 80GB HBM3"``."""
    dev = jax.devices()[0]
    return f"{dev.platform}: {getattr(dev, 'device_kind', str(dev))}"


def utc_now() -> str:
    """Current UTC time, ISO 8601 with seconds and a trailing ``Z``."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_manifest(
    task: Task,
    *,
    parameters: int | None,
    train_steps: int | None,
    train_seconds: float | None,
) -> dict[str, object]:
    """The SPEC §7 manifest: versions, platform, device, split digests, training budget;
    also the version of PyTorch when the scored model's code has imported it (a PyTorch
    model submitted as a host callable)."""
    manifest: dict[str, object] = {
        "rexbench_version": rexbench.benchmark.__version__,
        "python": _platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "platform": f"{_platform.system()}-{_platform.release()}-{_platform.machine()}",
        "device": device_description(),
        "split_sha256": split_digests(task),
        "parameters": parameters,
        "train_steps": train_steps,
        "train_seconds": train_seconds,
        "created": utc_now(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        manifest["torch"] = str(getattr(torch, "__version__", "unknown"))
    return manifest
