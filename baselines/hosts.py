"""The grid on several hosts: one ``rexbench reproduce`` process per host, on ``jax.distributed``.

Every process is given the same grid and ``(coordinator, number of processes, its id)``
(flags ``--coordinator ADDR:PORT --num-processes P --process-id I``, or the environment
variables :data:`ENV`). It then

1. joins JAX's distributed runtime (``jax.distributed.initialize``; process 0 hosts the
   coordinator at ADDR:PORT);
2. publishes a digest of its plan (suite and harness versions, seeds, every run of the grid
   with its budget) in the runtime's key-value store and reads every other process's: a
   process whose grid differs is refused, by every process, before any work;
3. takes its share (:func:`split`): whole (task, model, regime) runs -- never a run's seeds,
   which train together in one program -- dealt greedily by estimated time
   (:func:`rexbench.baselines.reproduce.estimate_seconds`), longest first, each to the
   least-loaded process; the reference rows are dealt round-robin. The share depends on the
   grid alone, never on which results exist, so a rerun gets the same share;
4. runs its share exactly as a one-host ``reproduce`` does: results written atomically, one
   file per (task, model, seed), valid ones skipped -- an interrupted process rerun with the
   same command resumes its own share and redoes nothing of the others';
5. waits at a barrier for all processes; process 0 then says how to build the leaderboard.

If a process dies, JAX's coordination service notices within its heartbeat timeout (100 s)
and ends the others too (at the barrier with a one-line error, or mid-run): every result
already written stays, and rerunning the same command on every host resumes each share --
only the missing results are redone (the run in progress when a process stopped included).

The runtime carries only the digest and the barrier: runs never communicate. A share can
also be rerun alone, without a coordinator (``--num-processes P --process-id I``): same
share, no runtime, no check.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ENV: dict[str, str] = {
    "coordinator": "REXBENCH_COORDINATOR",
    "num_processes": "REXBENCH_NUM_PROCESSES",
    "process_id": "REXBENCH_PROCESS_ID",
}
ADDRESS = re.compile(r"[A-Za-z0-9_.\-]+:\d{1,5}|\[[0-9A-Fa-f:]+\]:\d{1,5}")  # host:port, [ipv6]:port
CHECK_TIMEOUT_MS = 10 * 60 * 1000  # every process must have joined and published its digest by then
DONE_TIMEOUT_MS = 30 * 24 * 3600 * 1000  # the final barrier waits for the slowest share (a long grid)


class HostError(ValueError):
    """A bad host setting or a mismatched grid (message is one line)."""


@dataclass(frozen=True)
class Hosts:
    """This process's place among ``num_processes``; ``coordinator`` None = no runtime."""

    num_processes: int
    process_id: int
    coordinator: str | None = None

    @property
    def distributed(self) -> bool:
        return self.coordinator is not None


def resolve(coordinator: str | None, num_processes: int | None, process_id: int | None,
            env: Mapping[str, str] | None = None) -> Hosts | None:
    """The host setting from flags, else from :data:`ENV`; None when neither sets any."""
    env = os.environ if env is None else env
    coordinator = coordinator or env.get(ENV["coordinator"]) or None
    num_processes = num_processes if num_processes is not None else _env_int(env, "num_processes")
    process_id = process_id if process_id is not None else _env_int(env, "process_id")
    if coordinator is None and num_processes is None and process_id is None:
        return None
    if num_processes is None or process_id is None:
        raise HostError("--num-processes and --process-id go together "
                        f"(or {ENV['num_processes']} and {ENV['process_id']})")
    if num_processes < 1:
        raise HostError(f"--num-processes must be >= 1, got {num_processes}")
    if not 0 <= process_id < num_processes:
        raise HostError(f"--process-id must be in 0..{num_processes - 1}, got {process_id}")
    if coordinator is not None and not ADDRESS.fullmatch(coordinator):
        raise HostError(f"--coordinator {coordinator!r}: expected ADDR:PORT, e.g. 10.0.0.1:7777")
    return Hosts(num_processes, process_id, coordinator)


def _env_int(env: Mapping[str, str], key: str) -> int | None:
    text = env.get(ENV[key])
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise HostError(f"{ENV[key]}={text!r}: expected an integer") from None


# --------------------------------------------------------------------------- the share
def split(costs: Sequence[float], num_processes: int) -> list[list[int]]:
    """Greedy longest-first: indices of ``costs`` per process, each run to the least-loaded
    process (ties: the earlier run first, the lower process id). Deterministic."""
    order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
    loads = [0.0] * num_processes
    shares: list[list[int]] = [[] for _ in range(num_processes)]
    for i in order:
        p = min(range(num_processes), key=lambda q: (loads[q], q))
        loads[p] += costs[i]
        shares[p].append(i)
    return [sorted(s) for s in shares]  # each share runs in grid order


def plan_digest(plan: Any) -> str:
    """sha256 of the plan's canonical JSON (what every process must agree on)."""
    return hashlib.sha256(json.dumps(plan, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --------------------------------------------------------------------------- the runtime
def initialize(hosts: Hosts) -> None:
    """Joins JAX's distributed runtime; must run before anything starts JAX's backends."""
    import jax

    try:
        jax.distributed.initialize(coordinator_address=hosts.coordinator, num_processes=hosts.num_processes,
                                   process_id=hosts.process_id, initialization_timeout=CHECK_TIMEOUT_MS // 1000)
    except Exception as err:  # the runtime's errors are long C++ status texts: keep the first line
        raise HostError(f"jax.distributed.initialize at {hosts.coordinator} failed: {_first_line(err)}") from None


def _client() -> Any:
    # jax.distributed exposes initialize/shutdown only; its key-value store and barriers
    # (the coordination service's, no device collective) live on the runtime client.
    from jax._src import distributed

    client = distributed.global_state.client
    if client is None:
        raise HostError("jax.distributed is not initialized")
    return client


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_same_plan(hosts: Hosts, digest: str) -> None:
    """Publishes this process's digest and compares it with every other process's."""
    client = _client()
    try:
        client.key_value_set(f"rexbench/plan/{hosts.process_id}", digest)
        others = {p: client.blocking_key_value_get(f"rexbench/plan/{p}", CHECK_TIMEOUT_MS)
                  for p in range(hosts.num_processes)}
    except Exception as err:  # the runtime's status texts are long: keep the first line
        raise HostError(f"process {hosts.process_id}: the other processes' plans did not arrive: "
                        f"{_first_line(err)}") from None
    differ = [p for p, d in others.items() if d != digest]
    # Nobody leaves before everybody has read every digest: process 0 hosts the runtime,
    # and its early exit on a mismatch would cut off a peer still reading (which then
    # reported "did not arrive" instead of the mismatch).
    barrier(hosts, "plan-checked", CHECK_TIMEOUT_MS)
    if differ:
        # Every process is alive and refusing: leave the runtime together (its shutdown
        # barrier), so no process's client sees the coordinator vanish and aborts.
        import jax

        jax.distributed.shutdown()
        raise HostError(f"process {hosts.process_id}: processes {differ} have another grid (seeds, runs, steps "
                        "or rexbench version); every process must run the same command")


def barrier(hosts: Hosts, name: str, timeout_ms: int = DONE_TIMEOUT_MS) -> None:
    """Waits for every process; a process that died makes it fail (after the runtime's
    heartbeat timeout, 100 s) with a one-line HostError."""
    try:
        _client().wait_at_barrier(f"rexbench/{name}", timeout_ms)
    except Exception as err:
        if name == "plan-checked":
            raise HostError(f"process {hosts.process_id}: another process failed while the plans were "
                            f"compared ({_first_line(err)})") from None
        raise HostError(f"process {hosts.process_id}: its share is done, but another process failed "
                        f"({_first_line(err)}); rerun the same command on every host: finished results "
                        "are kept and only the missing ones are redone") from None
