"""Scale-out on CPU: a seed's numbers do not depend on how many devices trained it.

The multi-device case runs in a subprocess, because the number of CPU devices
(``--xla_force_host_platform_device_count``) is fixed when JAX starts its backends; the
child is this file itself (``python tests/test_scaleout.py devices OUT``), tiny models and
budgets keep it to seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
CHILD_TIMEOUT = 240  # seconds; a hung child is killed and the test fails
TINY: dict[str, dict[str, int]] = {
    "transformer": {"d_model": 16, "num_layers": 1, "num_heads": 2, "mlp_dim": 32},
    "lstm": {"embed_dim": 8, "hidden_dim": 8, "num_layers": 1},  # a scan whose carry starts from zeros
}
VAL_ROWS = 250  # the val split cut to one VAL_BATCH: the evaluation, not the sharding, was the cost
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


# --------------------------------------------------------------------------- children
def _devices_child(out: Path) -> None:
    import dataclasses

    import jax

    from rexbench.baselines.data import load_task_data
    from rexbench.baselines.recipe import DEFAULT
    from rexbench.baselines.train import train
    from rexbench.tasks import get_task

    assert jax.local_device_count() == 4, jax.devices()
    recipe = DEFAULT.replace(eval_every=3)
    full = load_task_data(get_task("anbn"))
    data = dataclasses.replace(full, val=full.val[:VAL_ROWS])
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
