"""Splits: content obeys SPEC §3, generation is deterministic, digests are pinned."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from rexbench.benchmark.cli import main
from rexbench.tasks import SPLIT_NAMES, TASK_NAMES, get_split, get_task, split_digests
from rexbench.tasks.pinned import PINNED_SHA256
from rexbench.tasks.splits import build_split
from rexbench.tasks.vocab import EOS, PAD, SOS, decode


@pytest.mark.parametrize("name", TASK_NAMES)
def test_sequence_splits_are_in_language(name: str) -> None:
    task = get_task(name)
    for split_name, size in (("train", 10_000), ("val", 1_000), ("test", 2_000)):
        split = get_split(task, split_name)
        assert len(split) == size
        assert all(task.in_language(w) for w in split.words)
        tokens = split.tokens()
        assert tokens.shape[0] == size and tokens.shape[1] <= task.max_word_length + 2
        assert [decode(row, task.symbols) for row in tokens[:50]] == list(split.words[:50])
    # independently sampled: not the same stream
    assert get_split(task, "train").words[:100] != get_split(task, "val").words[:100]


@pytest.mark.parametrize("name", TASK_NAMES)
def test_prompt_splits_partition_all_strings(name: str) -> None:
    task = get_task(name)
    id_p, ood = get_split(task, "id_prompts"), get_split(task, "ood_prompts")
    everything = ["".join(c) for c in itertools.product(task.symbols, repeat=task.prompt_length)]
    assert sorted(id_p.words + ood.words) == sorted(everything)
    assert all(task.is_reachable(p) for p in id_p.words)
    assert all(task.next_probs(p) is None for p in ood.words)
    for rule, flags in ood.completable.items():
        assert flags.tolist() == [task.rules[rule].completable(p) for p in ood.words]
    for split in (id_p, ood):
        toks = split.tokens()
        assert (toks[:, 0] == SOS).all() and toks.shape[1] == task.prompt_length + 1
        assert not ((toks == EOS) | (toks == PAD)).any()


def test_anbn_prompt_counts() -> None:
    assert len(get_split("anbn", "id_prompts")) == 5
    assert len(get_split("anbn", "ood_prompts")) == 251
    assert set(get_split("anbn", "id_prompts").words) == {"a" * k + "b" * (8 - k) for k in range(4, 9)}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_length_prompts(name: str) -> None:
    task = get_task(name)
    split = get_split(task, "length_prompts")
    assert len(split) == 64
    doubled = task.resized(2 * task.size)
    for prompt in split.words:
        # SPEC §3 (v2): positive probability under the doubled task, zero under the task itself,
        # so no completion can stay inside the training distribution ...
        assert doubled.is_reachable(prompt) and not task.is_reachable(prompt), prompt
        # ... and a proper prefix: the doubled task cannot end the word here, so something is left to generate
        assert doubled.next_probs(prompt)[EOS] < 1.0
    assert (split.tokens()[:, 0] == SOS).all()
    assert len(set(split.words)) > 1  # not one prompt repeated


@pytest.mark.parametrize("name", TASK_NAMES)
def test_regime_half_is_balanced_and_seeded(name: str) -> None:
    task = get_task(name)
    ood = get_split(task, "ood_prompts")
    keep = ood.completable[task.keep_rule]
    for group in (keep, ~keep):
        n = int(group.sum())
        assert int((ood.regime & group).sum()) == (n + 1) // 2  # half of each group, rounded up
    # deterministic and not simply the first half in split order
    assert (build_split(task, "ood_prompts").regime == ood.regime).all()
    headline = np.flatnonzero(keep)
    assert not ood.regime[headline[: (headline.size + 1) // 2]].all()


@pytest.mark.parametrize("name", TASK_NAMES)
def test_split_digests_match_pinned(name: str) -> None:
    assert split_digests(name) == PINNED_SHA256[name]


def test_generation_is_deterministic_without_cache() -> None:
    """A fresh build (no per-process cache) reproduces the cached split byte for byte."""
    task = get_task("bban")
    for name in SPLIT_NAMES:
        assert build_split(task, name).jsonl() == get_split(task, name).jsonl()


def test_export_is_byte_identical_and_indexed(tmp_path) -> None:
    for out in ("a", "b"):
        assert main(["export", "ban", "--out", str(tmp_path / out)]) == 0
    for name in SPLIT_NAMES:
        a = (tmp_path / "a" / f"{name}.jsonl").read_bytes()
        assert a == (tmp_path / "b" / f"{name}.jsonl").read_bytes()
    index = json.loads((tmp_path / "a" / "splits.json").read_text())
    assert {k: v["sha256"] for k, v in index["splits"].items()} == PINNED_SHA256["ban"]
    first_ood = json.loads((tmp_path / "a" / "ood_prompts.jsonl").read_text().splitlines()[0])
    assert set(first_ood) == {"tokens", "completable", "regime"}
    assert first_ood["tokens"] == [SOS] + [3] * 8 and first_ood["completable"] == {"R1": True, "R2": False}
    assert index["splits"]["train"]["size"] == 10_000


def test_cli_unknown_task(capsys) -> None:
    assert main(["describe", "nope"]) != 0
    assert "valid tasks: anbn, anbncn, ban, bban, dyck, csdyck" in capsys.readouterr().err


def test_cli_tasks_and_describe(capsys) -> None:
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in TASK_NAMES) and "251" in out
    assert main(["describe", "anbn"]) == 0
    out = capsys.readouterr().out
    assert "R1: #a = #b  [keep]" in out and "Optimal loss on test" in out
