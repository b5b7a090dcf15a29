"""The leaderboard's capability-over-training summary, on the worked example of
rexbench.benchmark.capability_board (values derived by hand), including a thinned curve."""

from __future__ import annotations

import pytest

from rexbench.benchmark.capability_board import capability_table, curve_array, summarize_curves
from rexbench.benchmark.curves import plateau_step


def fake_result(excess: list[float], curve: list[tuple[int, int, int]], best_step: int, headline: float,
                optimal: float = 1.0, given: float = 0.0) -> dict:
    """A result with val curve at steps 0, 50, ... (``optimal`` + ``excess``) and a capability
    curve of (step, headline successes, finished successes) out of 10."""
    points = [[step, {"ood_rule_extrapolation": [h, 10], "ood_finished": [f, 10],
                      "ood_rule_given_finished": [h, f], "ood_stop_rule": [0, 10]}] for step, h, f in curve]
    return {"training": {"val_curve": [[50 * i, optimal + e] for i, e in enumerate(excess)],
                         "capability_curve": points, "best_step": best_step},
            "metrics": {"ood_rule_extrapolation": headline, "ood_rule_given_finished": given}}


def test_worked_example_with_a_thinned_curve() -> None:
    # mean excess [0.4, 0.0015, 0.0004, 0.0002]: plateau at step 100 (0.0004 <= 0.0012; 0.0015 is not)
    a = fake_result([0.5, 0.0010, 0.0006, 0.0001], [(50, 2, 4), (150, 6, 8)], best_step=150, headline=0.6, given=0.75)
    b = fake_result([0.3, 0.0020, 0.0002, 0.0003], [(50, 4, 5), (150, 2, 10)], best_step=100, headline=0.3, given=0.5)
    s = summarize_curves([a, b], optimal_val=1.0)
    assert s.plateau_step == 100 and s.plateau_point == 150  # the first curve point at or after the plateau
    assert s.excess_at_plateau == pytest.approx(0.0004) and s.excess_at_end == pytest.approx(0.0002)
    assert s.min_excess == pytest.approx(0.0002)
    assert s.at_plateau == pytest.approx(0.4) and s.at_end == pytest.approx(0.4)  # (0.6 + 0.2) / 2
    # flat window: steps 100 and 150 (mean excess <= 0.0012); the curve holds only 150
    assert (s.flat_lo, s.flat_hi, s.flat_points) == (pytest.approx(0.4), pytest.approx(0.4), 1)
    assert s.max_history == pytest.approx(0.5)  # max(0.2, 0.6, scored 0.6) = 0.6, max(0.4, 0.2, scored 0.3) = 0.4
    # rule given finished: seed a 2/4, 6/8, scored 0.75 -> 0.75; seed b 4/5, 2/10, scored 0.5 -> 0.8; mean 0.775
    assert s.max_history_given_finished == pytest.approx(0.775)
    assert s.at_selected == pytest.approx(0.45) and s.selected_steps == (150, 100)
    assert s.steps == 150 and s.seeds == 2
    line = capability_table([("**m**", s)])[2]
    assert line == "| **m** | 2 | 150 | 100 | 0.0004 → 0.0002 | 0.400 (step 150) → 0.400 | 0.400–0.400 (1) | 0.450 | 0.500 |"


def test_flat_window_range_on_a_full_curve() -> None:
    # excess [0.2, 0.0005, 0.0001] -> plateau at step 50; headline 0.1, 0.3, 0.9 -> range 0.3-0.9 over 2 points
    r = fake_result([0.2, 0.0005, 0.0001], [(0, 1, 10), (50, 3, 10), (100, 9, 10)], best_step=100, headline=0.9)
    s = summarize_curves([r], optimal_val=1.0)
    assert s.plateau_step == plateau_step([0, 50, 100], [0.2, 0.0005, 0.0001]) == 50
    assert (s.at_plateau, s.at_end, s.flat_lo, s.flat_hi, s.flat_points) == (
        pytest.approx(0.3), pytest.approx(0.9), pytest.approx(0.3), pytest.approx(0.9), 2)


def test_flat_window_leaves_out_an_overfitting_tail_and_max_counts_the_scored_checkpoint() -> None:
    """Excess [0.3, 0.0001, 0.0005, 0.05]: flat window = steps 50 and 100 (<= 0.0011), not 150,
    where the loss has risen; the headline there (1.0) is outside the range. The scored
    checkpoint (step 50, headline 0.8) is not on the curve (steps 0, 100, 150) and beats every
    point on it but the overfit one, which is the max over history."""
    r = fake_result([0.3, 0.0001, 0.0005, 0.05], [(0, 0, 10), (100, 2, 10), (150, 10, 10)], best_step=50,
                    headline=0.8, given=0.8)
    s = summarize_curves([r], optimal_val=1.0)
    assert (s.flat_lo, s.flat_hi, s.flat_points) == (pytest.approx(0.2), pytest.approx(0.2), 1)
    assert s.max_history == pytest.approx(1.0)
    r2 = fake_result([0.3, 0.0001, 0.0005], [(0, 0, 10), (100, 2, 10)], best_step=50, headline=0.8, given=0.8)
    assert summarize_curves([r2], optimal_val=1.0).max_history == pytest.approx(0.8)  # the scored one
    # no finished completion at the scored step: rule given finished is None there, counted 0
    r3 = fake_result([0.3, 0.0001], [(0, 1, 2), (50, 0, 0)], best_step=50, headline=0.0, given=None)
    assert summarize_curves([r3], optimal_val=1.0).max_history_given_finished == pytest.approx(0.5)


def test_seeds_with_different_curve_steps_are_refused() -> None:
    a = fake_result([0.1, 0.0], [(50, 1, 1)], best_step=50, headline=0.1)
    b = fake_result([0.1, 0.0], [(0, 1, 1), (50, 1, 1)], best_step=50, headline=0.1)
    with pytest.raises(ValueError, match="different steps"):
        curve_array([a, b])


def test_anchors_section_by_hand() -> None:
    """The anchors' number next to the same aggregation of a row (max over the curve of R1
    given finished, mean over seeds) and its scored headline; unanchored models are not
    listed, anchored ones without curves say so, and with no anchored row there is no section."""
    from types import SimpleNamespace

    from rexbench.benchmark.capability_board import anchors_section

    config = {"name": "anbn", "size_name": "N", "size": 32, "config": "anbn(N=32)"}
    a = fake_result([0.5, 0.0001], [(0, 1, 4), (50, 3, 4)], best_step=50, headline=0.3)  # R1|fin 0.25, 0.75
    b = fake_result([0.5, 0.0001], [(0, 2, 2), (50, 1, 5)], best_step=50, headline=0.1)  # R1|fin 1.0, 0.2
    for r in (a, b):
        r["task_config"] = config
    grouped = {"anbn": [SimpleNamespace(model="lstm", results=[a, b]),
                        SimpleNamespace(model="linear", results=[a, b]),
                        SimpleNamespace(model="transformer", results=[{"training": {}}])]}
    lines = anchors_section(grouped)
    assert "| anbn | lstm | 0.376 | 0.875 | 0.200 | 50 |" in lines  # (0.75 + 1.0) / 2; (0.3 + 0.1) / 2
    assert "| anbn | transformer | 0.657 | not run with curves | — | — |" in lines
    assert not any("| linear |" in line for line in lines)
    assert "| dyck | xlstm | 0.689 | not run with curves | — | — |" in lines
    assert anchors_section({"anbn": [SimpleNamespace(model="linear", results=[a, b])]}) == []
