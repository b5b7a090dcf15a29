"""Training regimes: completions keep/break the keep rule; the extra loss sees exactly the
completion positions (baselines/regimes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.regimes import (
    REGIMES,
    UnknownRegimeError,
    adversarial_completion,
    oracle_completion,
    regime_data,
    result_model_name,
)
from tasks import EOS, PAD, SOS, TASK_NAMES, get_split, get_task


def test_anbn_mask_by_hand() -> None:
    task = get_task("anbn")
    data = regime_data(task, "oracle")
    i = data.prompts.index("aaaaabba")  # 6 a's, 2 b's: R1 (#a = #b) completable, R2 broken
    assert data.completions[i] == "bbbb"
    a, b = 3, 4
    # tokens: SOS a a a a a b b a | b b b b | EOS, then PAD
    row = [SOS, a, a, a, a, a, b, b, a, b, b, b, b, EOS]
    np.testing.assert_array_equal(data.tokens[i, : len(row)], row)
    assert (data.tokens[i, len(row):] == PAD).all()
    # Target j is token j+1. The prompt's 8 symbols are tokens 1..8, so the first
    # completion token (token 9) is target 8 -- predicted at the last prompt token --
    # and EOS (token 13) is target 12: targets 8..12 and nothing else.
    expected = np.zeros(data.mask.shape[1], bool)
    expected[8:13] = True
    np.testing.assert_array_equal(data.mask[i], expected)

    adv = regime_data(task, "adversarial")
    assert adv.completions[adv.prompts.index("aaaaabba")] == ""  # already violates R1: EOS right away
    j = adv.prompts.index("abababab")  # satisfies R1: one more symbol breaks it
    assert adv.completions[j] == "a"
    expected = np.zeros(adv.mask.shape[1], bool)
    expected[8:10] = True  # the 'a' and EOS
    np.testing.assert_array_equal(adv.mask[j], expected)
    k = adv.prompts.index("aaaaabba")
    expected = np.zeros(adv.mask.shape[1], bool)
    expected[8] = True  # only EOS
    np.testing.assert_array_equal(adv.mask[k], expected)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_completions_keep_or_break_the_keep_rule(name: str) -> None:
    task = get_task(name)
    rule = task.rules[task.keep_rule]
    ood = get_split(task, "ood_prompts")
    prompts = [p for p, ok in zip(ood.words, ood.completable[task.keep_rule]) if ok]
    for regime, want in (("oracle", True), ("adversarial", False)):
        data = regime_data(task, regime)
        assert list(data.prompts) == prompts
        for prompt, comp, row, mask in zip(data.prompts, data.completions, data.tokens, data.mask):
            assert rule.holds(prompt + comp) is want, (regime, prompt, comp)
            if regime == "adversarial":
                assert len(comp) <= 2
            n = len(prompt) + len(comp) + 2
            assert row[0] == SOS and row[n - 1] == EOS and (row[n:] == PAD).all()
            # mask = the completion's targets and EOS: exactly len(comp) + 1 positions, right after the prompt
            assert mask.sum() == len(comp) + 1 and mask[len(prompt) : n - 1].all()
    assert oracle_completion(task, prompts[0]) == task.rules[task.keep_rule].complete(prompts[0])
    assert isinstance(adversarial_completion(task, prompts[0]), str)


def test_standard_has_no_extra_data_and_names() -> None:
    assert regime_data(get_task("anbn"), "standard") is None
    assert REGIMES == ("standard", "oracle", "adversarial")
    assert result_model_name("transformer", "standard") == "transformer"
    assert result_model_name("transformer", "oracle") == "transformer-oracle"
    with pytest.raises(UnknownRegimeError, match="valid regimes"):
        result_model_name("transformer", "nope")


def test_regime_training_runs() -> None:
    from baselines.recipe import DEFAULT
    from baselines.train import train

    run = train("linear", "anbn", (0,), steps=10, regime="adversarial", recipe=DEFAULT.replace(eval_every=10), progress=False)
    assert run.regime == "adversarial" and run.steps == 10 and np.isfinite(run.best_val_loss).all()
