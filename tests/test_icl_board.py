"""The leaderboard's ICL section on the reference pair, against numbers worked out by hand
(docs/ICL.md): 72 probes per k, of which icl-ignore (the prior) gets the 30 whose member is
the prior's most probable answer at every k and icl-oracle 30 at k = 0 and all 72 after."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rexbench.benchmark.cli import main
from rexbench.benchmark.loaders import load_model
from rexbench.benchmark.results import write_result
from rexbench.benchmark.score import score_model
from rexbench.tasks import get_task


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> tuple[Path, str]:
    store = tmp_path_factory.mktemp("icl") / "results"
    for task in ("icl-single", "icl-rare"):
        for name in ("icl-oracle", "icl-ignore"):
            for seed in (0, 1):
                loaded = load_model(name, get_task(task))
                write_result(score_model(loaded.model, task, seed=seed, model_name=name, reference=loaded.reference),
                             store)
    out = store.parent / "leaderboard.md"
    assert main(["leaderboard", "--results", str(store), "--out", str(out)]) == 0
    return store, out.read_text()


def test_icl_section_by_hand(board) -> None:
    store, text = board
    section = text[text.index("## In-context learning"):]
    single = section[section.index("### icl-single (δ = P(m ≥ 2) = 0)"):section.index("### icl-rare")]
    # 30/72 = 0.417, 72/72, gain 42/72 = 0.583; chance: exact, from the block (0.121)
    assert ("| icl-oracle | 2 | 0.0000 [0.0000, 0.0000] | 0.417 [0.417, 0.417] | 1.000 [1.000, 1.000] | "
            "1.000 [1.000, 1.000] | 1.000 [1.000, 1.000] | 0.583 [0.583, 0.583] |") in single
    assert "| icl-ignore | 2 | 0.0000 [0.0000, 0.0000] | 0.417 [0.417, 0.417] | 0.417 [0.417, 0.417] |" in single
    assert "| *Bayes-optimal* | | 0 | 0.417 | 1.000 | 1.000 | 1.000 | 0.583 |" in single
    assert "icl-ignore vs icl-oracle: excess-loss difference in [0.0000, 0.0000]" in single
    assert "**differ in ICL**" in single
    rare = section[section.index("### icl-rare (δ = P(m ≥ 2) = 1/400)"):]
    # the pinned test split has 19 examples after a first one in 16,981 target tokens:
    # icl-ignore pays ln 3 for each of them, exactly the bound
    bound = math.log(3) * 19 / 16981
    assert f"at most **{bound:.6f}** nats/token" in rare
    ignore = json.loads((store / "icl-rare__icl-ignore__seed0.json").read_text())
    assert ignore["metrics"]["excess_loss"] == pytest.approx(bound, abs=1e-6)
    assert (store / "figures" / "icl.png").read_bytes().startswith(b"\x89PNG")
    assert "In-context learning" in (store.parent / "leaderboard.html").read_text()


def test_icl_section_refuses_an_edited_icl_block(board, tmp_path: Path, capsys) -> None:
    store, _ = board
    mine = tmp_path / "results"
    mine.mkdir()
    for path in store.glob("icl-single__*.json"):
        (mine / path.name).write_text(path.read_text())
    path = mine / "icl-single__icl-ignore__seed0.json"
    result = json.loads(path.read_text())
    result["icl"]["metrics"]["icl_accuracy@4"] = 1.0  # a hand-edited ICL number
    path.write_text(json.dumps(result))
    assert main(["leaderboard", "--results", str(mine), "--out", str(tmp_path / "lb.md")]) == 2
    assert "icl-single__icl-ignore__seed0.json" in capsys.readouterr().err
    assert not (tmp_path / "lb.md").exists()


def test_bound_check_against_hand_values() -> None:
    """Rows' excess losses against a bound of 0.001: a row at the bound (icl-ignore's case,
    with float32 noise) is inside; a row above it on every seed is named as outside the
    class; the ratio is the mean over the bound."""
    from rexbench.benchmark.icl_board import bound_lines
    from rexbench.benchmark.leaderboard import Row

    def row(name: str, excess: list[float]) -> Row:
        return Row(name, None, tuple({"metrics": {"excess_loss": e}} for e in excess))

    lines = bound_lines([row("at-bound", [0.001 + 2e-6, 0.001 - 1e-6]),
                         row("mixed", [0.0005, 0.003]),
                         row("trained", [0.008, 0.010])], 0.001)
    text = "\n".join(lines)
    assert "| at-bound | 0.0010 [0.0010, 0.0010] | 1.0× | 0/2 |" in text
    assert "| mixed | " in text and "| 1.8× | 1/2 |" in text  # mean 0.00175
    assert "| trained | 0.0090 [" in text and "| 9.0× | 2/2 |" in text
    assert "Outside the bound's class on every seed: trained;" in text
    assert "every seed: at-bound" not in text and "mixed;" not in text
