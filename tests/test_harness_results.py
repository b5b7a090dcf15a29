"""Result files: schema validation, atomic writing, and the loader's refusals."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from test_harness_support import scored_reference

from rexbench.benchmark.results import (
    RESULT_KEYS,
    ResultError,
    load_result,
    result_filename,
    sanitize_model_name,
    validate_result,
    write_result,
)
from rexbench.tasks import SPLIT_NAMES, SUITE_VERSION


@pytest.fixture(scope="module")
def result() -> dict:
    return scored_reference("anbn", "oracle-keep")


def test_result_has_spec_keys(result: dict) -> None:
    assert set(RESULT_KEYS) <= set(result)
    assert result["benchmark"] == "rexbench" and result["suite_version"] == SUITE_VERSION
    assert set(result["manifest"]["split_sha256"]) == set(SPLIT_NAMES)
    for key in ("rexbench_version", "python", "jax", "jaxlib", "flax", "platform", "device",
                "parameters", "train_steps", "train_seconds", "created"):
        assert key in result["manifest"]
    assert result["manifest"]["parameters"] is None and result["checkpoint_rule"] == "none"
    assert set(result["chance"]) == set(result["chance_stderr"])
    assert result["counts"]["ood_rule_extrapolation"] == {"successes": 251, "count": 251}


def test_round_trip(result: dict, tmp_path: Path) -> None:
    path = write_result(result, tmp_path)
    assert path.name == "anbn__oracle-keep__seed0.json"
    assert load_result(path) == result
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_model_names_are_sanitized() -> None:
    assert sanitize_model_name("examples.submit_flax:make_model") == "examples.submit_flax-make_model"
    assert sanitize_model_name("../../etc/passwd") == "etc-passwd"
    assert sanitize_model_name("a__b") == "a_b"
    assert result_filename("dyck", "my model/v2", 3) == "dyck__my-model-v2__seed3.json"


def _write(tmp_path: Path, obj: dict | str) -> Path:
    path = tmp_path / "r.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_refuses_corrupt_file(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="cannot read"):
        load_result(_write(tmp_path, '{"benchmark": "rexbench", '))


def test_refuses_missing_key(result: dict, tmp_path: Path) -> None:
    bad = copy.deepcopy(result)
    del bad["metrics"]["generation_accuracy"]
    with pytest.raises(ResultError, match="generation_accuracy"):
        load_result(_write(tmp_path, bad))


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda r: r["metrics"].__setitem__("id_accuracy", 1.5), "metrics.id_accuracy"),
        (lambda r: r["metrics"].__setitem__("test_loss", float("nan")), "metrics.test_loss"),
        (lambda r: r["metrics"]["ood_rules"].__setitem__("R1", 0.5), "does not match counts"),
        (lambda r: r["chance"].__setitem__("ood_finished", -0.1), "chance.ood_finished"),
        (lambda r: r.__setitem__("seed", "0"), "seed"),
        (lambda r: r["manifest"].pop("created"), "created"),
        (lambda r: r["manifest"]["split_sha256"].__setitem__("val", "xyz"), "split_sha256.val"),
        (lambda r: r["metrics"].__setitem__("excess_loss", 0.5), "excess_loss"),
    ],
)
def test_validate_rejects(result: dict, edit, needle: str) -> None:
    bad = copy.deepcopy(result)
    edit(bad)
    with pytest.raises(ResultError, match=needle.replace(".", r"\.")):
        validate_result(bad)


def test_refuses_other_suite_version(result: dict, tmp_path: Path) -> None:
    bad = copy.deepcopy(result)
    bad["suite_version"] = "0"
    with pytest.raises(ResultError, match="suite_version '0'"):
        load_result(_write(tmp_path, bad))


def test_refuses_other_split_digest_naming_the_split(result: dict, tmp_path: Path) -> None:
    bad = copy.deepcopy(result)
    bad["manifest"]["split_sha256"]["ood_prompts"] = "0" * 64
    with pytest.raises(ResultError, match="split 'ood_prompts'"):
        load_result(_write(tmp_path, bad))


def test_write_refuses_invalid(result: dict, tmp_path: Path) -> None:
    bad = copy.deepcopy(result)
    bad["metrics"]["id_accuracy"] = None
    with pytest.raises(ResultError):
        write_result(bad, tmp_path)
    assert not any(tmp_path.iterdir())
