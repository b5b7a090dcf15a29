"""Training regimes: completions keep/break the keep rule; the extra loss sees exactly the
completion positions (baselines/regimes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rexbench.baselines.regimes import (
    REGIMES,
    UnknownRegimeError,
    regime_data,
    result_model_name,
)
from rexbench.tasks import EOS, PAD, SOS, TASK_NAMES, get_split, get_task


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
    # only the regime half: the held-out headline prompts are never trained on (SPEC §6)
    prompts = [p for p, ok, mine in zip(ood.words, ood.completable[task.keep_rule], ood.regime) if ok and mine]
    held_out = {p for p, ok, mine in zip(ood.words, ood.completable[task.keep_rule], ood.regime) if ok and not mine}
    assert prompts and held_out
    for regime, want in (("oracle", True), ("adversarial", False)):
        data = regime_data(task, regime)
        assert list(data.prompts) == prompts and not held_out & set(data.prompts)
        for prompt, comp, row, mask in zip(data.prompts, data.completions, data.tokens, data.mask):
            assert rule.holds(prompt + comp) is want, (regime, prompt, comp)
            if regime == "adversarial":
                # Shortest: empty iff the prompt already breaks the rule; two symbols only
                # if no single symbol breaks it.
                assert (comp == "") is (not rule.holds(prompt))
                assert len(comp) <= 2
                if len(comp) == 2:
                    assert all(rule.holds(prompt + x) for x in task.symbols), (prompt, comp)
            n = len(prompt) + len(comp) + 2
            assert row[0] == SOS and row[n - 1] == EOS and (row[n:] == PAD).all()
            # mask = the completion's targets and EOS: exactly len(comp) + 1 positions, right after the prompt
            assert mask.sum() == len(comp) + 1 and mask[len(prompt) : n - 1].all()


def test_standard_has_no_extra_data_and_names() -> None:
    assert regime_data(get_task("anbn"), "standard") is None
    assert REGIMES == ("standard", "oracle", "adversarial", "anti-icl")
    assert result_model_name("transformer", "standard") == "transformer"
    assert result_model_name("transformer", "oracle") == "transformer-oracle"
    with pytest.raises(UnknownRegimeError, match="valid regimes"):
        result_model_name("transformer", "nope")


def test_regime_training_runs() -> None:
    from rexbench.baselines.recipe import DEFAULT
    from rexbench.baselines.train import train

    run = train("linear", "anbn", (0,), steps=10, regime="adversarial", recipe=DEFAULT.replace(eval_every=10), progress=False)
    assert run.regime == "adversarial" and run.steps == 10 and np.isfinite(run.best_val_loss).all()


def test_regime_objective_by_hand() -> None:
    """training_loss = mean NLL of the train batch + weight x mean NLL over the completion
    positions of the regime batch, recomputed here with numpy from the model's logits."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from rexbench.baselines.train import init_params, training_loss

    task = get_task("anbn")
    data = regime_data(task, "oracle", width=66)
    batch = get_split(task, "train").tokens(66)[:4]
    extra, mask = data.tokens[:3], data.mask[:3]
    graphdef, stacked = init_params("linear", task.vocab_size, [0])
    params = jax.tree.map(lambda x: x[0], stacked)
    model = nnx.merge(graphdef, params)

    def nll(tokens: np.ndarray) -> np.ndarray:  # [B, T-1] nats of target j = token j+1
        logits = np.asarray(model(jnp.asarray(tokens[:, :-1])), np.float64)
        shifted = logits - logits.max(-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        return -np.take_along_axis(logp, tokens[:, 1:, None], axis=-1)[..., 0]

    main = nll(batch)[batch[:, 1:] != PAD].mean()
    completion = nll(extra)[mask].mean()
    loss, reported_main = training_loss(graphdef, params, jnp.asarray(batch), jnp.asarray(extra), jnp.asarray(mask), 0.5)
    np.testing.assert_allclose(float(reported_main), main, rtol=1e-5)
    np.testing.assert_allclose(float(loss), main + 0.5 * completion, rtol=1e-5)
    assert completion != main  # the two terms are different quantities
