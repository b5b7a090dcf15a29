"""The README's Python examples run as written and produce valid, sensible results."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_two_commands() -> None:
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_cmd = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && .venv/bin/python -m pytest -q'
    assert test_cmd in text and test_cmd in ci
    assert "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/rexbench demo" in text


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example_runs(index: int) -> None:
    namespace: dict = {"__name__": f"readme_example_{index}"}
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), namespace)
    result = namespace["result"]
    assert result["benchmark"] == "rexbench"
    assert result["metrics"]["test_loss"] > result["metrics"]["optimal_loss"]  # untrained models
    assert 0.0 <= result["metrics"]["ood_rule_extrapolation"] <= 1.0


def test_readme_has_both_examples() -> None:
    assert len(BLOCKS) == 2
