"""The per-(task, model) step-budget rule (rexbench.baselines.budgets), on curves worked out by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rexbench.baselines.budgets import MIN_STEPS, budget_from_curve, plateau_step


def test_docstring_example() -> None:
    # min 0.0001 -> floor 0.0011: 0.0016 (step 100) is above, 0.0004 (step 150) is the first below.
    steps = [0, 50, 100, 150, 200, 250, 1200]
    excess = [0.30, 0.05, 0.0016, 0.0004, 0.0002, 0.0001, 0.0003]
    b = budget_from_curve(steps, excess)
    assert (b.plateau_step, b.steps, b.levelled, b.probe_steps) == (150, 300, True, 1200)
    assert b.min_excess == pytest.approx(0.0001)


def test_rounds_up_to_the_validation_interval() -> None:
    # plateau 350 -> 700 (a multiple of 50 already); plateau 175 (off-grid) -> 350
    assert budget_from_curve([0, 350, 1600], [1.0, 0.0005, 0.0]).steps == 700
    assert budget_from_curve([0, 175, 1600], [1.0, 0.0005, 0.0]).steps == 350


def test_an_overfitting_curve_keeps_its_first_arrival() -> None:
    # dyck's Transformer: reaches its minimum at 1450, rises afterwards; the plateau stays 1450.
    steps = [0, 1000, 1450, 2000, 4000, 12000]
    excess = [0.9, 0.02, 0.0019, 0.0025, 0.02, 0.08]
    b = budget_from_curve(steps, excess)
    assert (b.plateau_step, b.steps, b.levelled) == (1450, 2900, True)


def test_a_curve_still_falling_is_not_levelled_and_is_capped() -> None:
    # the minimum is the last point and nothing earlier is within 0.001 of it
    steps = [0, 400, 800, 1000, 1200]
    excess = [0.5, 0.1, 0.02, 0.008, 0.004]
    b = budget_from_curve(steps, excess)
    assert (b.plateau_step, b.steps, b.levelled) == (1200, 1200, False)


def test_a_floor_for_curves_that_start_flat() -> None:
    assert budget_from_curve([0, 50, 400], [0.0005, 0.0001, 0.0]).steps == MIN_STEPS


def test_bad_curves_are_refused() -> None:
    with pytest.raises(ValueError, match="as many steps as values"):
        plateau_step([0, 50], [0.1])
    with pytest.raises(ValueError, match="at least one"):
        plateau_step([], [])


@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=40), st.floats(1e-4, 1e-2))
def test_plateau_against_brute_force(values: list[float], eps: float) -> None:
    steps = [50 * i for i in range(len(values))]
    brute = min(s for s, v in zip(steps, values) if all(v <= w + eps for w in values))
    assert plateau_step(steps, values, eps) == brute


def test_the_grid_and_train_use_the_per_model_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from rexbench.baselines import recipe
    from rexbench.baselines.reproduce import GridRun

    monkeypatch.setitem(recipe.BUDGETS, ("anbn", "lstm"), 1234)
    assert recipe.steps_for("anbn", "lstm") == 1234
    assert GridRun("anbn", "lstm", full=True).planned_steps == 1234
    assert GridRun("anbn", "lstm").planned_steps == recipe.STEPS["anbn"] == 300  # capped
    assert GridRun("anbn", "lstm", steps=50).planned_steps == 50  # an explicit budget wins
    monkeypatch.delitem(recipe.BUDGETS, ("anbn", "linear"), raising=False)
    assert recipe.steps_for("anbn", "linear") == recipe.STEPS["anbn"]  # not listed: the task's
    with pytest.raises(KeyError, match="known: anbn"):
        recipe.steps_for("nope", "lstm")


def test_budgets_are_multiples_of_the_validation_interval() -> None:
    from rexbench.baselines.recipe import BUDGETS, DEFAULT, STEPS

    assert all(task in STEPS and steps % DEFAULT.eval_every == 0 and steps >= MIN_STEPS
               for (task, _), steps in BUDGETS.items())


def test_budgets_are_the_rule_applied_to_the_committed_probes() -> None:
    """Every entry of recipe.BUDGETS recomputed from its probe's result file in
    results/budget-probe/ (the rule written out again here: first validation point within
    0.001 nats of the minimum excess, twice that, rounded up to 50, at least 100, at most
    the probe's length), and every probe of the grid's (task, model)s is there."""
    import json
    import math
    from pathlib import Path

    from rexbench.baselines.recipe import BUDGETS
    from rexbench.baselines.reproduce import BASELINES, TASK_ORDER
    from rexbench.tasks import get_split, get_task

    probes = Path(__file__).resolve().parents[1] / "results" / "budget-probe"
    assert set(BUDGETS) == {(t, m) for t in TASK_ORDER for m in BASELINES}
    for (task, model), budget in BUDGETS.items():
        result = json.loads((probes / f"{task}__{model}__seed0.json").read_text())
        s, c = get_task(task).nll_sum_count(get_split(task, "val").words)
        curve = result["training"]["val_curve"]
        excess = [v - s / c for _, v in curve]
        plateau = next(step for step, e in zip([st for st, _ in curve], excess) if e <= min(excess) + 1e-3)
        want = min(max(100, 50 * math.ceil(2 * plateau / 50)), curve[-1][0])
        assert budget == want, (task, model, budget, want)
