"""Tampered result files: every hand-edited number, verdict or record is refused by the
leaderboard, naming the file, the field and both values (SPEC §5, §7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_harness_support import scored_reference

from rexbench.benchmark.cli import main
from rexbench.benchmark.results import dump_result, load_result, result_filename
from rexbench.tasks import get_split

Edit = Callable[[dict], None]
AB = get_split("anbn", "ood_prompts").words.index("abababab")


def _set(path: str, value) -> Edit:
    def edit(d: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            d = d[key]
        d[last] = value(d[last]) if callable(value) else value

    return edit


def _flip(col: str, i: int) -> Callable[[str], str]:
    return lambda s: s[:i] + ("0" if s[i] == "1" else "1") + s[i + 1 :]


def _both(*edits: Edit) -> Edit:
    def edit(d: dict) -> None:
        for e in edits:
            e(d)

    return edit


CASES: list[tuple[str, Edit, str]] = [
    # an aggregate edited together with its count (so the value/count check passes): the records disagree
    ("count", _both(_set("counts.ood_finished.successes", 250), _set("metrics.ood_finished", 250 / 251)),
     "counts.ood_finished: stored {'successes': 250, 'count': 251}, recomputed from the records {'successes': 251, 'count': 251}"),
    ("headline and its rule entry disagree",
     _both(_set("counts.ood_rule_extrapolation.successes", 70), _set("metrics.ood_rule_extrapolation", 70 / 251)),
     "counts.ood_rule_extrapolation: stored"),
    ("value without count", _set("metrics.ood_stop_rule", 0.5), "does not match counts"),
    ("verdict flipped", _set("records.ood_prompts.rules.R1", _flip("R1", 0)), "records.ood_prompts.rules.R1[0]: stored verdict"),
    # "abababab" keeps #a = #b with the empty completion; "b$" would break it
    ("completion edited", _set("records.ood_prompts.completion", lambda c: [x if i != AB else "b$" for i, x in enumerate(c)]),
     f"records.ood_prompts.rules.R1[{AB}]: stored verdict 1, recomputed from the completion 0"),
    ("finished flag edited", _set("records.id_prompts.finished", _flip("f", 2)), "records.id_prompts.finished[2]"),
    ("row removed", _set("records.ood_prompts.completion", lambda c: c[:-1]), "has 250 rows, the task has 251"),
    ("bad character", _set("records.ood_prompts.completion", lambda c: ["x$"] + c[1:]), "characters outside the encoding"),
    ("EOS in the middle", _set("records.ood_prompts.completion", lambda c: ["a$b$"] + c[1:]), "ending at its first EOS"),
    ("stop-rule length out of range", _set("records.ood_stop_rule.chosen_length", lambda c: [3] + c[1:]), "lengths in 8..64"),
    ("stop-rule prompts", _set("records.ood_stop_rule.prompt_index", lambda c: c[::-1]), "differs from the task's prompt set"),
    ("sampled verdict without finishing",
     _both(_set("records.sampled_ood.finished", lambda s: "0" + s[1:]), _set("records.sampled_ood.keep", lambda s: "1" + s[1:])),
     "passes its verdict without having finished"),
    ("chance edited", _set("chance.ood_stop_rule", 0.01), "chance.ood_stop_rule: stored 0.01, the harness computes"),
    ("missing block", lambda d: d["records"].pop("generation"), "records.generation: missing"),
    ("suite v1", _set("suite_version", "1"), "suite v1 results are not comparable with v2"),
    ("bad name", _set("model", "a|b"), "is not a valid model name"),
    ("seed out of range", _set("seed", 2**32), "seed: expected an integer in [0, 2^31)"),
]


@pytest.fixture(scope="module")
def good() -> dict:
    return scored_reference("anbn", "stop-now", 0)


@pytest.mark.parametrize(("label", "edit", "reason"), CASES, ids=[c[0] for c in CASES])
def test_tampered_file_is_refused(tmp_path: Path, capsys, good: dict, label: str, edit: Edit, reason: str) -> None:
    store = tmp_path / "results"
    store.mkdir()
    bad = json.loads(json.dumps(good))
    edit(bad)
    name = result_filename("anbn", "stop-now", 0)
    (store / name).write_text(json.dumps(bad))
    assert main(["leaderboard", "--results", str(store), "--out", str(tmp_path / "lb.md")]) == 2
    err = capsys.readouterr().err
    assert name in err and reason in err, err
    assert not (tmp_path / "lb.md").exists() and not (store / "figures").exists()


def test_untampered_file_loads(tmp_path: Path, good: dict) -> None:
    path = tmp_path / "ok.json"
    path.write_text(dump_result(good))
    assert load_result(path)["metrics"] == good["metrics"]


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "cannot read a JSON result"),
    ("[" * 100_000 + "]" * 100_000, "cannot read a JSON result"),
    ("[1, 2]", "expected an object"),
    ('{"suite_version": "2"}', "missing key(s)"),
])
def test_unreadable_files_are_named(tmp_path: Path, capsys, text: str, reason: str) -> None:
    store = tmp_path / "results"
    store.mkdir()
    (store / "anbn__x__seed0.json").write_text(text)
    assert main(["leaderboard", "--results", str(store), "--out", str(tmp_path / "lb.md")]) == 2
    err = capsys.readouterr().err
    assert "anbn__x__seed0.json" in err and reason in err and "Traceback" not in err
