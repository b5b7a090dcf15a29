"""The scale-out flags of ``rexbench train`` and ``rexbench reproduce``: ``--devices`` (the
seeds of a run over local devices) and the many-host flags of ``reproduce``
(:mod:`rexbench.baselines.hosts`), with the order in which they must take effect: XLA
flags, then ``jax.distributed``, then anything that counts devices."""

from __future__ import annotations

import argparse
from typing import Any

from rexbench.benchmark.commands.common import positive_int, task_name



def add_devices_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", type=positive_int, default=None,
                   help="local devices that share each run's seeds (default: all; results do not depend on it)")


def add_host_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("several hosts (one process per host; see README 'Scale-out')")
    g.add_argument("--coordinator", type=address, default=None,
                   help="ADDR:PORT of process 0's coordinator (or $REXBENCH_COORDINATOR)")
    g.add_argument("--num-processes", type=positive_int, default=None,
                   help="processes in all (or $REXBENCH_NUM_PROCESSES)")
    g.add_argument("--process-id", type=process_id, default=None, help="this process, 0..P-1 (or $REXBENCH_PROCESS_ID)")


def add_grid_filters(p: argparse.ArgumentParser, models: tuple[str, ...]) -> None:
    p.add_argument("--models", type=name_list(models, "model"), default=None,
                   help="only these models' runs, e.g. transformer,lstm")
    p.add_argument("--tasks", type=task_list, default=None, help="only these tasks' runs, e.g. anbn,dyck")


def address(text: str) -> str:
    from rexbench.baselines.hosts import ADDRESS  # no JAX import: hosts.py imports it on use

    if not ADDRESS.fullmatch(text):
        raise argparse.ArgumentTypeError(f"invalid address {text!r}: expected ADDR:PORT, e.g. 10.0.0.1:7777")
    return text


def process_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid process id {text!r}: expected an integer >= 0")
    return value


def name_list(valid: tuple[str, ...], what: str):
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in valid]
        if not names or bad:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(bad) or repr(text)}; valid: {', '.join(valid)}")
        return names
    return parse


def task_list(text: str) -> list[str]:
    return [task_name(t.strip()) for t in text.split(",") if t.strip()] or [task_name(text)]


def start(command: str, devices: int | None, hosts_args: dict[str, Any] | None = None) -> tuple[str | None, Any]:
    """Prepares XLA for ``devices``, joins ``jax.distributed`` if asked, then checks
    ``devices`` against this process's local devices: (one-line error or None, hosts).

    The device count cannot be checked at parse time: counting devices starts JAX's
    backends, after which neither XLA_FLAGS nor ``jax.distributed.initialize`` take effect.
    """
    from rexbench.baselines.hosts import HostError, initialize, resolve
    from rexbench.baselines.sharding import SPMD_FLAG, DeviceCountError, add_xla_flags, check_devices

    hosts = None
    try:
        if hosts_args is not None:
            hosts = resolve(**hosts_args)
        if devices != 1:
            add_xla_flags(SPMD_FLAG)  # bit-identical seeds across device counts (docs/RECIPE.md)
        if hosts is not None and hosts.distributed:
            initialize(hosts)
        check_devices(devices)
    except DeviceCountError as err:
        return f"rexbench {command}: error: argument {err}", None
    except HostError as err:
        return f"rexbench {command}: {err}", None
    return None, hosts
