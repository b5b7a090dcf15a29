"""One import name: ``rexbench.*`` and nothing a user's working folder can shadow."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import rexbench

ROOT = Path(__file__).resolve().parents[1]
SHADOWS = {  # what a user may well have in their working folder
    "tasks.py": "raise ImportError('the user tasks.py was imported')\n",
    "benchmark.py": "raise ImportError('the user benchmark.py was imported')\n",
    "baselines/__init__.py": "raise ImportError('the user baselines/ was imported')\n",
    "examples.py": "raise ImportError('the user examples.py was imported')\n",
}
PROBE = """
import importlib, pkgutil, rexbench, rexbench.baselines
names = [m.name for sub in (rexbench.benchmark, rexbench.tasks, rexbench.baselines)
         for m in pkgutil.walk_packages(sub.__path__, sub.__name__ + '.')]
for name in names:
    importlib.import_module(name)
task = rexbench.get_task('anbn')
assert len(names) > 40, names
from rexbench.benchmark.loaders import load_model
loaded = load_model('mymodel:make', task)   # puts the working folder on sys.path
loaded = load_model('oracle-keep', task)
print('ok', len(names))
"""


def _shadowed_folder(tmp_path: Path) -> Path:
    for rel, text in SHADOWS.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "mymodel.py").write_text(
        "from rexbench.benchmark.reference import oracle\n"
        "def make(vocab_size):\n    import rexbench\n    return oracle(rexbench.get_task('anbn'), 'keep')\n")
    return tmp_path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_user_files_named_like_the_packages_break_nothing(tmp_path: Path) -> None:
    folder = _shadowed_folder(tmp_path)
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=folder, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ok ")
    cli = subprocess.run([sys.executable, "-m", "rexbench", "describe", "anbn"], cwd=folder, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "anbn" in cli.stdout


def test_every_package_folder_is_installed_under_rexbench() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping, packages = config["package-dir"], set(config["packages"])
    expected = {"rexbench"}
    for top in ("benchmark", "tasks", "baselines"):
        assert mapping[f"rexbench.{top}"] == top
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT).parts
            expected.add(".".join(("rexbench", *rel)))
    assert packages == expected
    assert config and tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["rexbench"] == \
        "rexbench.benchmark.cli:main"


def test_public_api() -> None:
    for name in rexbench.__all__:
        assert hasattr(rexbench, name), name
    assert rexbench.benchmark.__version__ == rexbench.__version__
    modules = {m.name for m in pkgutil.walk_packages(rexbench.benchmark.__path__, "rexbench.benchmark.")}
    assert {"rexbench.benchmark.cli", "rexbench.benchmark.score", "rexbench.benchmark.commands"} <= modules
    assert rexbench.get_task("anbn").name == "anbn" and "anbn" in rexbench.TASK_NAMES
