"""The leaderboard from a small store whose numbers are worked out by hand: the per-seed
values, clipped intervals, the bar of the trivial policies, and the claims of SPEC §4.5
(TOST + Welch/Holm); bad stores are refused; ``--check`` catches a stale file.

The store (anbn, 251 headline prompts): ``stop-now`` (a real scored reference row, seeds
0 and 1: headline 69/251, excess ~0) and two synthetic rows whose records are built here:

* ``alpha``, seeds 0-2: the first k = 50, 60, 70 headline prompts completed correctly,
  every other OOD prompt left unfinished; excess loss 0.0005, 0.0010, 0.0015;
* ``beta``, seeds 0-2: every OOD prompt completed correctly (headline 1); excess 0.0010.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_harness_support import scored_reference
from test_metrics import records_for

from rexbench.benchmark import metrics as M
from rexbench.benchmark.cli import main
from rexbench.benchmark.decoding import BUDGET
from rexbench.benchmark.leaderboard import fmt_cell, md_escape
from rexbench.benchmark.results import dump_result, result_filename, validate_result
from rexbench.benchmark.stats import summarize
from rexbench.tasks import get_split, get_task

ALPHA_K = (50, 60, 70)
ALPHA_EXCESS = (0.0005, 0.0010, 0.0015)


def synthetic(base: dict, model: str, seed: int, correct: int, excess: float) -> dict:
    """``base`` (a real anbn result) with another model's records, counts and losses."""
    task = get_task("anbn")
    ood = get_split(task, "ood_prompts")
    keep = task.rules[task.keep_rule]
    comps = {p: (keep.complete(p) + "$") if i < correct else "a" * BUDGET for i, p in enumerate(ood.words)}
    records = records_for(task, comps)
    agg = M.aggregate(task, records)
    res = json.loads(json.dumps(base))
    res.update(model=model, seed=seed, records=records)
    res.pop("reference", None)
    tokens = res["counts"]["test_loss"]["tokens"]
    nats = (res["metrics"]["optimal_loss"] + excess) * tokens
    res["counts"].update(M.counts(agg), test_loss={"nats": nats, "tokens": tokens},
                         excess_loss={"nats": nats - res["counts"]["optimal_loss"]["nats"], "tokens": tokens})
    res["metrics"].update(M.values(agg), test_loss=nats / tokens)
    res["metrics"]["excess_loss"] = res["metrics"]["test_loss"] - res["metrics"]["optimal_loss"]
    validate_result(res)
    return res


def fixture_store(root: Path) -> Path:
    store = root / "results"
    store.mkdir(parents=True)
    rows = [scored_reference("anbn", "stop-now", seed) for seed in (0, 1)]
    base = rows[0]
    rows += [synthetic(base, "alpha", s, k, e) for s, (k, e) in enumerate(zip(ALPHA_K, ALPHA_EXCESS, strict=True))]
    rows += [synthetic(base, "beta", s, 251, 0.0010) for s in range(3)]
    for res in rows:
        (store / result_filename(res["task"], res["model"], res["seed"])).write_text(dump_result(res))
    return store


def run(root: Path, *extra: str) -> int:
    return main(["leaderboard", "--results", str(root / "results"), "--out", str(root / "leaderboard.md"), *extra])


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("board")
    fixture_store(root)
    assert run(root) == 0
    return (root / "leaderboard.md").read_text()


def test_cells_by_hand(board: str) -> None:
    # alpha's headline: 50, 60, 70 of 251 -> mean 60/251 = 0.239, s = 10/251, half-width
    # t_{0.975,2} = 4.3027 x 0.03984 / sqrt 3 = 0.0990 -> [0.140, 0.338]
    assert "0.239 [0.140, 0.338]" in board
    # stopping vs rule for alpha: finished = headline (every finished completion keeps the rule)
    assert "| **alpha** | — | 3 |" in board
    # beta: 1.000 on every seed (zero width), above the bar 0.275 set by stop-now
    assert "1.000 [1.000, 1.000] ▲" in board
    assert "`ood_rule_extrapolation` bar 0.275 (set by stop-now): above it (whole 95% interval): beta." in board
    # per-seed values are shown
    assert "0.199 0.239 0.279" in board and "0.0005 0.0010 0.0015" in board


def test_clipped_interval_is_marked() -> None:
    # mean 0.28, s = sqrt(0.4146 / 4) = 0.32195, half-width 2.7764 x 0.32195 / sqrt 5 = 0.39975:
    # raw [-0.1198, 0.6798] (the bban LSTM row of v1, from rounded seeds)
    s = summarize([0.0, 0.21, 0.76, 0.0, 0.43])
    assert fmt_cell(s, 3, unit_interval=True) == "0.280 [0.000⁎, 0.680]"
    assert fmt_cell(summarize([0.9, 1.0, 1.0]), 3, unit_interval=True).endswith("1.000⁎]")


def test_claims_by_hand(board: str) -> None:
    """3 pairs. Loss: stop-now (excess ~0, exact) vs beta (0.001, exact): |diff| < δ; alpha vs
    beta: diff 0, se = 0.0005/sqrt 3, df 2 -> 90% CI 0 ± 2.9200 se = ±0.00084 ⊂ (-δ, δ); stop-now
    vs alpha: -0.001 ± 0.00084 ⊂ (-δ, δ). Headline: stop-now vs beta exact and different (p 0);
    alpha vs beta t = (1 - 0.239) / (0.03984 / sqrt 3), df 2, p = 1 - t / sqrt(2 + t^2);
    stop-now vs alpha t = 1.56, p = 0.26. Holm over 3: 0, 2 p(alpha, beta), 0.26 -> two claims."""
    assert "3 pairs compared" in board
    t = (1 - 60 / 251) / ((10 / 251) / math.sqrt(3))
    p = 1 - t / math.sqrt(2 + t * t)
    assert "**beta** vs **alpha**: " in board and f"(Welch p = {p:.2g}, Holm-adjusted {2 * p:.2g})" in board
    assert "**beta** vs **stop-now**" in board
    assert "**alpha** vs **stop-now**" not in board and "**stop-now** vs **alpha**" not in board


def test_figure_is_deterministic(tmp_path: Path) -> None:
    fixture_store(tmp_path)
    assert run(tmp_path) == 0
    png = tmp_path / "results" / "figures" / "anbn.png"
    first = png.read_bytes()
    assert first.startswith(b"\x89PNG")
    assert run(tmp_path) == 0 and png.read_bytes() == first


def test_check_detects_stale_leaderboard(tmp_path: Path, capsys) -> None:
    store = fixture_store(tmp_path)
    assert run(tmp_path, "--check") == 1  # missing
    assert run(tmp_path) == 0
    assert run(tmp_path, "--check") == 0
    extra = synthetic(scored_reference("anbn", "stop-now", 0), "beta", 3, 251, 0.0010)
    (store / "anbn__beta__seed3.json").write_text(dump_result(extra))
    assert run(tmp_path, "--check") == 1
    assert "stale" in capsys.readouterr().err


def test_names_are_escaped_in_markdown() -> None:
    assert md_escape("a|b\nc") == "a\\|b c"
    assert md_escape("x*y_z`") == "x\\*y\\_z\\`"


def test_committed_leaderboard_is_up_to_date() -> None:
    """CI: leaderboard.md is exactly what the committed results/ store generates."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "results").is_dir():
        pytest.fail("results/ store is missing")
    assert main(["leaderboard", "--results", str(root / "results"), "--out", str(root / "leaderboard.md"), "--check"]) == 0


# --------------------------------------------------------------------------- store integrity
def _refused(tmp_path: Path, capsys, *needles: str, stores: tuple[Path, ...] | None = None) -> None:
    argv = ["leaderboard", "--results", *map(str, stores or (tmp_path / "results",)), "--out", str(tmp_path / "lb.md")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert all(n in err for n in needles), err
    assert not (tmp_path / "lb.md").exists() and not (tmp_path / "lb.html").exists()


def test_file_name_must_match_content(tmp_path: Path, capsys) -> None:
    store = fixture_store(tmp_path)
    res = json.loads((store / "anbn__beta__seed2.json").read_text())
    res["seed"] = 7  # the file still says seed 2
    (store / "anbn__beta__seed2.json").write_text(dump_result(res))
    _refused(tmp_path, capsys, "anbn__beta__seed2.json: the file name does not match its content",
             "is anbn__beta__seed7.json")


def test_rows_trained_differently_cannot_share_a_name(tmp_path: Path, capsys) -> None:
    store = fixture_store(tmp_path)
    for seed, steps in ((0, 400), (1, 400), (2, 5)):
        path = store / f"anbn__beta__seed{seed}.json"
        res = json.loads(path.read_text())
        res["manifest"]["train_steps"] = steps
        path.write_text(dump_result(res))
    _refused(tmp_path, capsys, "anbn__beta__seed2.json: model 'beta' on task 'anbn' was trained or scored differently",
             "anbn__beta__seed0.json (manifest.train_steps: 5 vs 400)")
    path = store / "anbn__beta__seed2.json"
    res = json.loads(path.read_text())
    res["manifest"]["train_steps"] = 400
    res["training"] = {"regime": "standard", "recipe": {"peak_lr": 0.003}, "hyper": {}, "steps": 400, "eval_every": 50}
    path.write_text(dump_result(res))
    _refused(tmp_path, capsys, "(training: True vs False)")


def test_seeds_must_agree_on_rule_budget_and_curves(tmp_path: Path, capsys) -> None:
    """A row's steps cell reads its first seed's rule budget, and its capability summary needs
    every seed's curve at the same steps: seeds that differ there are refused."""
    store = fixture_store(tmp_path)
    training = {"regime": "standard", "recipe": {"peak_lr": 0.003}, "hyper": {}, "steps": 400, "eval_every": 50}
    for seed in range(3):
        path = store / f"anbn__beta__seed{seed}.json"
        res = json.loads(path.read_text())
        res["manifest"]["train_steps"] = 400
        res["training"] = dict(training, rule_steps=1100 if seed == 2 else 400)
        path.write_text(dump_result(res))
    _refused(tmp_path, capsys, "(training.rule_steps: 1100 vs 400)")
    for seed, every in ((0, 50), (1, 50), (2, 100)):
        path = store / f"anbn__beta__seed{seed}.json"
        res = json.loads(path.read_text())
        res["training"] = dict(training, capability_curve_every=every)
        path.write_text(dump_result(res))
    _refused(tmp_path, capsys, "(training.capability_curve_every: 100 vs 50)")


def test_several_stores(tmp_path: Path, capsys) -> None:
    published = fixture_store(tmp_path / "pub")
    mine = tmp_path / "mine"
    mine.mkdir()
    extra = synthetic(scored_reference("anbn", "stop-now", 0), "gamma", 0, 100, 0.0010)
    (mine / "anbn__gamma__seed0.json").write_text(dump_result(extra))
    out = tmp_path / "board" / "lb.md"
    out.parent.mkdir()
    assert main(["leaderboard", "--results", str(mine), str(published), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| **gamma** |" in text and "| **beta** |" in text and "`../mine/`, `../pub/results/`" in text
    assert (tmp_path / "board" / "lb_figures" / "anbn.png").is_file()  # not into the published store
    assert not (published / "figures").exists()
    page = (tmp_path / "board" / "lb.html").read_text()
    assert 'href="../mine/anbn__gamma__seed0.json"' in page and 'href="../pub/results/anbn__beta__seed0.json"' in page
    # the same (task, model, seed) in two stores is refused
    (mine / "anbn__beta__seed0.json").write_text((published / "anbn__beta__seed0.json").read_text())
    _refused(tmp_path, capsys, "anbn__beta__seed0.json: duplicates", stores=(mine, published))


def test_finetune_section_and_refusal(tmp_path: Path, capsys) -> None:
    from test_finetune import _record

    store = fixture_store(tmp_path)
    (store / "finetune").mkdir()
    for seed, means in ((0, [0.02, 0.03, 0.05]), (1, [0.021, 0.031, 0.041])):
        rec = _record(seed, means)
        (store / "finetune" / f"finetune__anbn__transformer-seed{seed}__anbn64__adamw.json").write_text(json.dumps(rec))
    assert run(tmp_path) == 0
    board = (tmp_path / "leaderboard.md").read_text()
    assert "## Fine-tunability: one function, different parameters" in board
    assert "| 0.0300, 0.0200 | 0.0250 | 0.0103 | 0.0010 | 0.0005 | 0.0000 (matched) | 25.0× |" in board  # by hand: test_finetune
    assert (store / "figures" / "finetune.png").read_bytes().startswith(b"\x89PNG")
    assert "Fine-tunability" in (tmp_path / "leaderboard.html").read_text()
    assert run(tmp_path, "--check") == 0
    capsys.readouterr()
    path = store / "finetune" / "finetune__anbn__transformer-seed1__anbn64__adamw.json"
    rec = json.loads(path.read_text())
    rec["runs"][2]["mean_excess"] = 0.001  # a hand-edited number
    path.write_text(json.dumps(rec))
    assert run(tmp_path) == 2
    err = capsys.readouterr().err
    assert f"{path}: alpha 10.0: mean_excess is 0.001, its curve gives 0.041" in err


def test_steps_column_marks_a_capped_row(tmp_path: Path) -> None:
    """A row trained below its budget rule's steps (training.rule_steps) says so; one at its
    rule, and an untrained reference row, do not."""
    store = fixture_store(tmp_path)
    for model, steps, rule in (("alpha", 300, 300), ("beta", 400, 1100)):
        for seed in range(3):
            path = store / f"anbn__{model}__seed{seed}.json"
            res = json.loads(path.read_text())
            res["manifest"]["train_steps"] = steps
            res["training"] = {"regime": "standard", "recipe": {"peak_lr": 0.003}, "hyper": {}, "steps": steps,
                               "eval_every": 50, "rule_steps": rule}
            path.write_text(dump_result(res))
    assert run(tmp_path) == 0
    board = (tmp_path / "leaderboard.md").read_text()
    assert "| **beta** | — | 3 | 400 (rule 1,100) |" in board
    assert "| **alpha** | — | 3 | 300 |" in board
    assert "| *stop-now* | — | 2 | — |" in board
    assert "<td>400 (rule 1,100)</td>" in (tmp_path / "leaderboard.html").read_text()
