"""The stacked seed axis over a 1-D mesh of local devices (``jax.shard_map``, no collectives).

A run's ``S`` seeds are stacked on a leading axis (:mod:`rexbench.baselines.train`). With
``devices = N``, that axis is split over a 1-D :class:`jax.sharding.Mesh` (axis
:data:`AXIS`) of ``N`` local devices, and the per-seed program runs under
:func:`jax.shard_map`: every device applies the unchanged per-seed body (``lax.map`` or
``vmap`` over its own seeds) to its block, with the training arrays replicated. There is
no communication in the step -- the seeds are independent.

Padding, not refusal: ``S`` need not divide ``N`` (the default ``rexbench train`` is 5 seeds
on all local devices). The seeds are cut into blocks of ``ceil(S / N)``; only as many
devices as there are blocks are used (5 seeds on 4 devices: 3 devices, blocks 2-2-1), and
the last block is filled with copies of the last seed's lane. Those copies compute the same
numbers as the lane they copy and are dropped from every output, so they change nothing but
the arithmetic done.

Why a seed's numbers do not depend on ``N``: its initial key, batch order and regime batch
order are computed on the host from the seed alone (:mod:`rexbench.baselines.train`), before
any sharding; and each device runs the same per-seed program. With ``lax.map`` the result
is bit-identical for every ``N`` (tested in ``tests/test_scaleout.py``); with ``vmap`` the
batched matmuls of ``k`` vs ``S`` seeds may reassociate floats (~1e-6).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

PyTree = Any
AXIS = "seeds"  # the mesh's one axis name


class DeviceCountError(ValueError):
    """``devices`` is not a usable number of local devices (message is one line)."""


def local_device_count() -> int:
    return jax.local_device_count()


def check_devices(devices: int | None) -> int:
    """``devices`` (None = all local devices) validated against what this process has."""
    available = local_device_count()
    if devices is None:
        return available
    if devices < 1 or devices > available:
        kind = jax.local_devices()[0].platform
        raise DeviceCountError(f"--devices {devices}: this process has {available} local {kind} device(s); "
                               f"use 1..{available}")
    return int(devices)


@dataclass(frozen=True)
class SeedLayout:
    """How ``seeds`` stacked lanes lie on the mesh: ``used`` devices of ``per_device`` lanes
    each, the last ``padded - seeds`` lanes being copies of lane ``seeds - 1``."""

    seeds: int
    used: int
    per_device: int

    @property
    def padded(self) -> int:
        return self.used * self.per_device

    @classmethod
    def plan(cls, seeds: int, devices: int) -> SeedLayout:
        per = math.ceil(seeds / devices)
        return cls(seeds=seeds, used=math.ceil(seeds / per), per_device=per)


class SeedMesh:
    """A 1-D mesh over the first ``layout.used`` local devices, and the helpers that move the
    stacked seed axis onto it (pad, place) and back (drop the padded lanes)."""

    def __init__(self, seeds: int, devices: int | None = None) -> None:
        self.layout = SeedLayout.plan(seeds, check_devices(devices))
        self.mesh = Mesh(np.asarray(jax.local_devices()[: self.layout.used]), (AXIS,))
        self.stacked = NamedSharding(self.mesh, PartitionSpec(AXIS))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())

    @property
    def sharded(self) -> bool:
        return self.layout.used > 1

    def pad(self, tree: PyTree) -> PyTree:
        """Leading axis S -> padded, by repeating the last lane (see the module docstring)."""
        extra = self.layout.padded - self.layout.seeds
        if not extra:
            return tree
        return jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)]), tree)

    def put_stacked(self, tree: PyTree) -> PyTree:
        """Pads and places a tree of ``[S, ...]`` leaves on the mesh, split on the seed axis."""
        return jax.device_put(self.pad(tree), self.stacked)

    def put_replicated(self, tree: PyTree) -> PyTree:
        return jax.device_put(tree, self.replicated)

    def unpad(self, tree: PyTree) -> PyTree:
        """The first S lanes (drops the padding copies)."""
        if self.layout.padded == self.layout.seeds:
            return tree
        return jax.tree.map(lambda x: x[: self.layout.seeds], tree)

    def shard(self, fn: Callable[..., Any], stacked_args: tuple[bool, ...]) -> Callable[..., Any]:
        """``fn`` under ``shard_map``: argument ``i`` split on the seed axis if
        ``stacked_args[i]`` else replicated; every output split on the seed axis."""
        specs = tuple(PartitionSpec(AXIS) if s else PartitionSpec() for s in stacked_args)
        # check_vma=False: the varying-across-devices type check exists for collectives and
        # replicated outputs, and there are none; with it on, a model's scan whose carry starts
        # from replicated zeros (the LSTM's state) is refused for mixing replicated/varying.
        return jax.shard_map(fn, mesh=self.mesh, in_specs=specs, out_specs=PartitionSpec(AXIS), check_vma=False)


# XLA's SPMD "cleanup" pass rewrites the partitioned program after shard_map's manual
# partitioning; see docs/RECIPE.md ("Devices and hosts") for whether bit-identity needs it.
SPMD_FLAG = "--xla_disable_hlo_passes=spmd-cleanup"


def host_device_flag(count: int) -> str:
    return f"--xla_force_host_platform_device_count={count}"


def add_xla_flags(*flags: str) -> None:
    """Appends ``flags`` to ``XLA_FLAGS`` (read once, when JAX starts its backends)."""
    current = os.environ.get("XLA_FLAGS", "").split()
    os.environ["XLA_FLAGS"] = " ".join(current + [f for f in flags if f not in current])
