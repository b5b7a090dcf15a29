"""Capability over training: the curve is stored per seed, its selected-step point equals
the result's own (independently scored) counts, and a hand-edited curve is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from rexbench.baselines.recipe import DEFAULT
from rexbench.baselines.reproduce import train_and_score
from rexbench.benchmark.curves import CURVE_METRICS, check_capability_curve
from rexbench.benchmark.errors import ResultError
from rexbench.benchmark.results import load_result


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("curve")
    res = train_and_score("linear", "anbn", (0, 1), out, steps=30, recipe=DEFAULT.replace(eval_every=10),
                          save_checkpoints=False, progress=False, log=lambda s: None, capability_curve=True)
    return out, res


def test_curve_is_stored_and_matches_the_selected_checkpoint(results) -> None:
    out, res = results
    for result in res:
        training = result["training"]
        curve = training["capability_curve"]
        assert [s for s, _ in curve] == [s for s, _ in training["val_curve"]] == [10, 20, 30]
        at_best = dict(curve)[training["best_step"]]
        # the selected parameters are the ones scored by the full harness: same counts
        for k in CURVE_METRICS:
            assert at_best[k] == [result["counts"][k]["successes"], result["counts"][k]["count"]]
        assert all(point["ood_rule_extrapolation"][1] == 251 for _, point in curve)  # anbn's 251 headline prompts
        loaded = load_result(out / f"anbn__linear__seed{result['seed']}.json")
        assert loaded["training"]["capability_curve"] == curve


def _tampered(result: dict, edit) -> dict:
    bad = copy.deepcopy(result)
    edit(bad["training"])
    return bad


def test_hand_edited_curves_are_refused(results, tmp_path: Path) -> None:
    _, res = results
    result = res[0]
    check_capability_curve(result)
    best = result["training"]["best_step"]
    other = next(s for s, _ in result["training"]["capability_curve"] if s != best)

    def bump_best(t: dict) -> None:  # consistent in itself, but not with the result's counts
        point = dict(t["capability_curve"])[best]
        point["ood_stop_rule"][0] = (point["ood_stop_rule"][0] + 1) % (point["ood_stop_rule"][1] + 1)

    def break_product(t: dict) -> None:
        point = dict(t["capability_curve"])[other]
        point["ood_finished"][0] = point["ood_finished"][0] - 1 if point["ood_finished"][0] else 1

    cases = [
        (bump_best, f"at the selected step {best}: ood_stop_rule"),
        (break_product, f"at step {other}: headline != finished x rule_given_finished"),
        (lambda t: t["capability_curve"].pop(), "its steps are not the"),
        (lambda t: t["capability_curve"].reverse(), "its steps are not the"),
        (lambda t: t["capability_curve"][0].__setitem__(0, 15), "its steps are not the"),
        # the selected step's point dropped, so nothing holds the curve to the scored counts
        (lambda t: t["capability_curve"].remove(next(p for p in t["capability_curve"] if p[0] == best)),
         "its steps are not the"),
        # a claimed thinning the points do not follow (multiples of 20 of [10, 20, 30] are [20, 30])
        (lambda t: t.__setitem__("capability_curve_every", 20), "multiples of 20 and the last"),
        (lambda t: t.__setitem__("capability_curve_every", 15), "positive multiple of eval_every"),
        (lambda t: dict(t["capability_curve"])[other].pop("ood_finished"), "needs exactly"),
        (lambda t: dict(t["capability_curve"])[other].__setitem__("ood_stop_rule", [5, 2]), "must be [successes, count]"),
    ]
    for edit, message in cases:
        bad = _tampered(result, edit)
        with pytest.raises(ResultError, match=message.replace("[", r"\[").replace("]", r"\]")):
            check_capability_curve(bad)
        path = tmp_path / "anbn__linear__seed0.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(ResultError, match="capability_curve"):
            load_result(path)


def test_curve_every_thins_the_curve_and_keeps_the_last_point(tmp_path: Path) -> None:
    """With curve_every 20 on a 50-step run validated every 10 steps the curve has the
    points 20, 40 and the last, 50; the val curve keeps all five."""
    from rexbench.baselines.recipe import BUDGETS

    # size=32 as `rexbench train --task anbn` passes it: still the suite's size, so the
    # result records its rule budget and the leaderboard can mark the 50 steps as below it
    res = train_and_score("linear", "anbn", (0,), tmp_path, steps=50, recipe=DEFAULT.replace(eval_every=10),
                          save_checkpoints=False, progress=False, log=lambda s: None, capability_curve=True,
                          curve_every=20, size=32)
    training = res[0]["training"]
    assert training["rule_steps"] == BUDGETS[("anbn", "linear")] == 1200
    assert [s for s, _ in training["val_curve"]] == [10, 20, 30, 40, 50]
    assert [s for s, _ in training["capability_curve"]] == [20, 40, 50]
    assert training["capability_curve_every"] == 20
    check_capability_curve(res[0])
    load_result(tmp_path / "anbn__linear__seed0.json")


def test_curve_every_by_hand() -> None:
    from rexbench.baselines.capability_curve import curve_every

    assert curve_every(300, 50) == 50  # 6 points: every validation point
    assert curve_every(600, 50) == 50  # 12 points
    assert curve_every(650, 50) == 100  # 13 would be too many: 100, 200, ..., 600 and 650
    assert curve_every(2400, 50) == 200
    assert curve_every(1400, 50) == 150


def test_leaderboard_shows_capability_over_training(results, tmp_path: Path) -> None:
    """A store whose rows carry curves gets the task's capability table (recomputed from the
    files: the scored headline is the results' own mean) and its figure, in the markdown and
    embedded in the page."""
    from rexbench.benchmark.cli import main

    out, res = results
    board = tmp_path / "lb.md"
    assert main(["leaderboard", "--results", str(out), "--out", str(board), "--figures", str(tmp_path / "fig")]) == 0
    text = board.read_text()
    assert "Capability over training" in text and "max over history (diagnostic)" in text
    mean = sum(r["metrics"]["ood_rule_extrapolation"] for r in res) / 2
    row = next(line for line in text.splitlines() if line.startswith("| linear | 2 | 30 |"))
    assert f"| {mean:.3f} |" in row
    png = tmp_path / "fig" / "anbn__capability.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "![capability over training on anbn](fig/anbn__capability.png)" in text
    assert 'alt="capability over training on anbn"' in (tmp_path / "lb.html").read_text()


def test_hand_edited_val_curves_are_refused(results, tmp_path: Path) -> None:
    """The val curve every loss-over-training number is read from: its steps, its values and
    the selected step must be what training writes."""
    out, res = results
    result = res[0]
    best = result["training"]["best_step"]
    worse = next(s for s, v in result["training"]["val_curve"] if v > min(v for _, v in result["training"]["val_curve"]))
    cases = [
        (lambda t: t["val_curve"].pop(0), "val_curve: its steps are not every 10th of 30"),
        (lambda t: t["val_curve"][1].__setitem__(1, float("nan")), "finite loss"),
        (lambda t: t.__setitem__("best_step", 7), "best_step 7 is not a step"),
        (lambda t: t.__setitem__("best_step", worse), f"best_step {worse} is not a step of the val curve with its lowest"),
    ]
    assert worse != best
    for edit, message in cases:
        path = tmp_path / "anbn__linear__seed0.json"
        path.write_text(json.dumps(_tampered(result, edit)))
        with pytest.raises(ResultError, match=message):
            load_result(path)
