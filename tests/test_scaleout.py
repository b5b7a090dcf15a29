"""Scale-out on CPU: a seed's numbers do not depend on how many devices trained it, and
two processes under ``jax.distributed`` split a tiny grid into the store one process makes.

The multi-device case runs in a subprocess, because the number of CPU devices
(``--xla_force_host_platform_device_count``) is fixed when JAX starts its backends; the
child is this file itself (``python tests/test_scaleout.py devices OUT``), tiny models and
budgets keep it to seconds. The many-host case runs ``rexbench reproduce`` processes on the
loopback address, every one killed if it outlives :data:`CHILD_TIMEOUT`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from train_support import TINY, small_val_data

HERE = Path(__file__).resolve()
CHILD_TIMEOUT = 420  # seconds per child group; a hung child is killed and the test fails (a group took up to ~90 s at load 7 on 2 cores)
# (label, model, seed_axis, seeds, devices): each trained once in the 4-device child. The
# Transformer is the model whose sharded program XLA's spmd-cleanup pass used to reassociate.
DEVICE_RUNS: list[tuple[str, str, str, tuple[int, ...], int]] = [
    ("tf_map_1", "transformer", "map", (0, 1, 2, 3), 1),
    ("tf_map_4", "transformer", "map", (0, 1, 2, 3), 4),
    ("lstm_map_1", "lstm", "map", (0, 1, 2), 1),
    ("lstm_map_2", "lstm", "map", (0, 1, 2), 2),  # 3 seeds on 2 devices: one padding lane
    ("lstm_vmap_2", "lstm", "vmap", (0, 1, 2), 2),
]


def child_env(devices: int) -> dict[str, str]:
    from rexbench.baselines.sharding import SPMD_FLAG, host_device_flag

    env = dict(os.environ, JAX_PLATFORMS="cpu", REXBENCH_JAX_CACHE="off")
    env["XLA_FLAGS"] = f"{host_device_flag(devices)} {SPMD_FLAG}"
    return env


def run_child(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, os.fspath(HERE), *args], env=env, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]


# --------------------------------------------------------------------------- devices
@pytest.fixture(scope="module")
def device_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.lib.npyio.NpzFile]:
    out = tmp_path_factory.mktemp("devices")
    run_child(["devices", os.fspath(out)], child_env(4))
    return {label: np.load(out / f"{label}.npz") for label, *_ in DEVICE_RUNS}


def _assert_same(a: np.lib.npyio.NpzFile, b: np.lib.npyio.NpzFile) -> None:
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        if key != "devices_used":
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_four_devices_bit_identical_to_one_with_map(device_runs) -> None:
    """Every lane (curves, best step and val, every parameter) of the 4-device run equals the
    1-device run's bit for bit: the random streams (init key, batch order) are the seed's own,
    wherever its lane lands."""
    assert int(device_runs["tf_map_4"]["devices_used"]) == 4 and int(device_runs["tf_map_1"]["devices_used"]) == 1
    _assert_same(device_runs["tf_map_1"], device_runs["tf_map_4"])


def test_padding_lane_dropped_and_changes_nothing(device_runs) -> None:
    assert int(device_runs["lstm_map_2"]["devices_used"]) == 2
    assert device_runs["lstm_map_2"]["val"].shape[1] == 3  # the copy of seed 2's lane is not returned
    _assert_same(device_runs["lstm_map_1"], device_runs["lstm_map_2"])


def test_vmap_over_devices_within_reassociation(device_runs) -> None:
    """``vmap`` batches the seeds' matmuls, so it matches ``map`` to float reassociation only
    (as in tests/test_train.py), sharded or not."""
    one, two = device_runs["lstm_map_1"], device_runs["lstm_vmap_2"]
    assert int(two["devices_used"]) == 2
    np.testing.assert_allclose(two["val"], one["val"], rtol=1e-5)
    np.testing.assert_allclose(two["train"], one["train"], rtol=1e-5)


def test_too_many_devices_is_one_line(capsys) -> None:
    from rexbench.benchmark.cli import main

    assert main(["train", "--model", "linear", "--task", "anbn", "--out", "/tmp/unused", "--devices", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--devices 64" in err and "local" in err


# --------------------------------------------------------------------------- hosts
# A tiny grid of two runs (one per process: lstm -> process 0, linear -> process 1 by the
# greedy split) and the five reference rows of anbn, for one seed.
GRID_ARGS = ["reproduce", "--models", "linear,lstm", "--tasks", "anbn", "--steps", "4", "--seeds", "0",
             "--no-checkpoints", "--no-progress", "--devices", "1"]
# What differs between two runs of the same result: wall times and the time of writing.
VARYING: tuple[tuple[str, str], ...] = (("manifest", "train_seconds"), ("manifest", "created"),
                                        ("training", "compile_seconds"), ("training", "capability_seconds"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rexbench(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rexbench.benchmark.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    """(exit code, output) of each; every process still alive at the deadline is killed."""
    deadline = time.monotonic() + CHILD_TIMEOUT
    try:
        outputs = [p.communicate(timeout=max(1.0, deadline - time.monotonic()))[0] for p in procs]
        return [(p.returncode, out) for p, out in zip(procs, outputs)]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def stable(path: Path) -> dict[str, Any]:
    result = json.loads(path.read_text())
    for section, key in VARYING:
        result.get(section, {}).pop(key, None)
    return result


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """(store gathered from the two processes' own stores, one process's store, their logs).

    The one-process run goes first and fills a persistent compilation cache that the two
    processes then read: half the wall time on 2 cores, and the same executables, so the
    comparison is of what the split does, not of two compilations.
    """
    root = tmp_path_factory.mktemp("hosts")
    env = dict(child_env(1), REXBENCH_JAX_CACHE=os.fspath(root / "jax-cache"))
    done = finish([rexbench([*GRID_ARGS, "--out", os.fspath(root / "one" / "store")], env)])
    coordinator = f"127.0.0.1:{free_port()}"
    done += finish([rexbench([*GRID_ARGS, "--out", os.fspath(root / f"host{i}"), "--coordinator", coordinator,
                              "--num-processes", "2", "--process-id", str(i)], env) for i in range(2)])
    for code, output in done:
        assert code == 0, output[-4000:]
    gathered = root / "gathered" / "store"
    for i in range(2):  # what `rsync -a hostI:OUT/ OUT/` does
        shutil.copytree(root / f"host{i}", gathered, dirs_exist_ok=True)
    shutil.copytree(root / "jax-cache", CACHE_COPY.setdefault("dir", root / "cache-for-rerun"))
    return gathered, root / "one" / "store", [out for _, out in done[1:]]


CACHE_COPY: dict[str, Path] = {}  # the warm cache, for the rerun test


def test_two_processes_make_the_one_process_store(two_hosts) -> None:
    gathered, one, logs = two_hosts
    names = sorted(p.name for p in one.glob("*.json"))
    assert len(names) == 5 + 2  # the reference rows of anbn and the two runs, seed 0
    assert sorted(p.name for p in gathered.glob("*.json")) == names
    for name in names:
        assert stable(gathered / name) == stable(one / name), name
    # each process did its own share only: no result file written twice
    host0, host1 = (set(p.name for p in (gathered.parent.parent / f"host{i}").glob("*.json")) for i in range(2))
    assert not host0 & host1 and "anbn__lstm__seed0.json" in host0 and "anbn__linear__seed0.json" in host1
    assert "all 2 processes done" in logs[0]


def test_leaderboard_of_the_gathered_store_is_the_one_process_one(two_hosts) -> None:
    from rexbench.benchmark.cli import main

    gathered, one, _ = two_hosts
    for store in (gathered, one):
        assert main(["leaderboard", "--results", os.fspath(store), "--out", os.fspath(store.parent / "board.md")]) == 0
    assert (gathered.parent / "board.md").read_text() == (one.parent / "board.md").read_text()


def test_rerun_of_one_share_redoes_only_its_missing_run(two_hosts, tmp_path) -> None:
    gathered, _, _ = two_hosts
    store = tmp_path / "store"
    shutil.copytree(gathered, store)
    (store / "anbn__linear__seed0.json").unlink()  # process 1 was interrupted before writing it
    before = {p.name: p.stat().st_mtime_ns for p in store.glob("*.json")}
    env = dict(child_env(1), REXBENCH_JAX_CACHE=os.fspath(CACHE_COPY["dir"]))
    [(code, output)] = finish([rexbench([*GRID_ARGS, "--out", os.fspath(store), "--num-processes", "2",
                                         "--process-id", "1"], env)])
    assert code == 0, output[-4000:]
    assert "1 of 1 runs to do" in output and (store / "anbn__linear__seed0.json").exists()
    assert {p.name: p.stat().st_mtime_ns for p in store.glob("*.json") if p.name in before} == before


def test_processes_with_different_grids_refuse(tmp_path) -> None:
    coordinator = f"127.0.0.1:{free_port()}"
    procs = []
    for i, seeds in enumerate(("0", "1")):
        procs.append(rexbench([*GRID_ARGS, "--seeds", seeds, "--out", os.fspath(tmp_path / str(i)), "--coordinator",
                               coordinator, "--num-processes", "2", "--process-id", str(i)], child_env(1)))
        # Process 1 joins late: process 0 (the runtime's host) then sees the mismatch first
        # and must not leave before process 1 has read its digest (a race CI once hit).
        time.sleep(3.0 * (i == 0))
    for code, output in finish(procs):
        assert code == 2 and "have another grid" in output, output[-2000:]
    assert not list(tmp_path.rglob("*.json"))


# --------------------------------------------------------------------------- children
def _devices_child(out: Path) -> None:
    import jax

    from rexbench.baselines.recipe import DEFAULT
    from rexbench.baselines.train import train

    assert jax.local_device_count() == 4, jax.devices()
    recipe = DEFAULT.replace(eval_every=3)
    data = small_val_data("anbn")
    for label, model, axis, seeds, devices in DEVICE_RUNS:
        run = train(model, "anbn", seeds, steps=6, recipe=recipe, hyper=TINY[model], progress=False, seed_axis=axis,
                    devices=devices, data=data)
        leaves = {f"p{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(run.best_params))}
        np.savez(out / f"{label}.npz", val=np.array([v for _, v in run.val_curve]),
                 train=np.array([v for _, v in run.train_curve]), best_val=run.best_val_loss,
                 best_step=run.best_step, devices_used=run.devices_used, **leaves)


if __name__ == "__main__":
    mode, where = sys.argv[1], Path(sys.argv[2])
    {"devices": _devices_child}[mode](where)
