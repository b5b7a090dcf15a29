"""Verdicts, records and the aggregates of SPEC §4.2 on hand-built completions, and
``ood_stop_rule`` end to end on hand-built models whose answers are worked out by hand.

anbn: symbols a=3, b=4; SOS=0, EOS=1, PAD=2. Keep rule R1: #a = #b; R2: every a before
every b. Of its 251 OOD prompts (all 8-symbol strings but the 5 prefixes a^k b^(8-k),
k >= 4), exactly C(8, 4) - 1 = 69 have #a = #b (a^4 b^4 is an ID prompt).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from rexbench.benchmark import records as rec
from rexbench.benchmark.capabilities import score_records
from rexbench.benchmark.decoding import BUDGET
from rexbench.benchmark.metrics import Ratio, aggregate, prompt_sets
from rexbench.benchmark.protocol import HostFunction, JaxFunction, as_model
from rexbench.benchmark.verdicts import completion_symbols, in_language, keeps_rule, whole_word
from rexbench.tasks import get_split, get_task

A, B, EOS, PAD, SOS = 3, 4, 1, 2, 0


@pytest.fixture(scope="module")
def anbn():
    return get_task("anbn")


def test_completion_symbols() -> None:
    assert completion_symbols([A, B, EOS, PAD], True, "ab") == "ab"
    assert completion_symbols([EOS], True, "ab") == ""
    assert completion_symbols([A, B, A, B], False, "ab") is None  # unfinished
    assert completion_symbols([A, SOS, B, EOS], True, "ab") is None  # SOS before EOS: malformed
    assert completion_symbols([A, PAD, EOS], True, "ab") is None  # PAD before EOS: malformed
    assert completion_symbols([A, 9, EOS], True, "ab") is None  # unknown id: malformed
    assert completion_symbols([A, EOS, SOS, PAD], True, "ab") == "a"  # after EOS nothing counts
    assert completion_symbols([A, B], True, "ab") is None  # "finished" without an EOS


def test_whole_word_and_verdicts(anbn) -> None:
    assert whole_word("aab", [B, EOS], True, "ab") == "aabb"
    assert in_language(anbn, "aabb") and not in_language(anbn, "abab") and not in_language(anbn, None)
    assert not in_language(anbn, "")  # n >= 1
    r1, r2 = anbn.rules["R1"], anbn.rules["R2"]
    assert keeps_rule(r1, "abab") and not keeps_rule(r2, "abab")
    assert not keeps_rule(r1, None)


def test_completion_encoding_round_trip() -> None:
    gen = np.array([[A, B, EOS, PAD], [A, SOS, EOS, PAD], [A, A, A, A]], np.int32)
    comps = rec.encode_completions(gen, np.array([True, True, False]), "ab")
    assert comps == ["ab$", "a^$", "aaaa"]
    assert rec.completion_word("ab", "ab$", "ab") == "abab"
    assert rec.completion_word("ab", "a^$", "ab") is None  # malformed
    assert rec.completion_word("ab", "aaaa", "ab") is None  # unfinished
    assert rec.unflag(rec.flags([True, False, True])).tolist() == [True, False, True]


# --------------------------------------------------------------------------- aggregates
def records_for(task, ood: dict[str, str] | None = None, default: str = "$") -> dict:
    """Records of a model whose greedy OOD completion is ``ood.get(prompt, default)``;
    every other block is filled with the empty completion / no-stop decode."""
    ood = ood or {}
    split = {b: get_split(task, b) for b in rec.GREEDY_BLOCKS}
    out = {}
    for block in rec.GREEDY_BLOCKS:
        words = split[block].words
        comps = [ood.get(p, default) for p in words] if block == "ood_prompts" else ["$"] * len(words)
        out[block] = rec.greedy_block(task, block, words, comps)
    sets = prompt_sets(task)
    index = np.flatnonzero(sets.headline)
    extra = task.max_word_length - task.prompt_length
    prompts = [split["ood_prompts"].words[i] for i in index]
    out["ood_stop_rule"] = rec.stop_rule_block(task, index, prompts, ["a" * extra] * len(index), [task.prompt_length] * len(index))
    rows = sets.sampled_index.size * 16
    out["sampled_ood"] = {"prompt_index": sets.sampled_index.tolist(), "finished": "1" * rows, "keep": "0" * rows}
    out["generation"] = {"finished": "1" * 1000, "in_language": "0" * 1000}
    return out


def test_stop_now_records_by_hand(anbn) -> None:
    agg = aggregate(anbn, records_for(anbn))
    assert agg["ood_rule_extrapolation"] == Ratio(69, 251)  # the 69 balanced prompts
    assert agg["ood_finished"] == Ratio(251, 251)
    assert agg["ood_rule_given_finished"] == Ratio(69, 251)
    # stop rule here: chosen length 8 = the prompt itself, so again the 69 balanced prompts
    assert agg["ood_stop_rule"] == Ratio(69, 251)
    assert agg["ood_rules"]["R1"] == agg["ood_rule_extrapolation"]
    assert agg["id_accuracy"] == Ratio(1, 5)  # only a^4 b^4 + "" is in the language
    assert agg["length_extrapolation"] == Ratio(0, 64)
    assert agg["sampled_ood_rule_extrapolation"].count == 251 * 16


def test_unfinished_and_malformed_by_hand(anbn) -> None:
    # "abababab" (balanced) never stops; "aaaabbbb"... is ID, so take "bbaaaabb" (balanced) malformed
    # with an EOS; "abbbbbbb" (#b - #a = 6) is completed correctly by 6 a's.
    ood = {"abababab": "a" * BUDGET, "bbaaaabb": "a^$", "abbbbbbb": "aaaaaa$"}
    agg = aggregate(anbn, records_for(anbn, ood))
    assert agg["ood_finished"] == Ratio(250, 251)  # the malformed one did emit EOS
    assert agg["ood_rule_extrapolation"] == Ratio(69 - 2 + 1, 251)
    assert agg["ood_rule_given_finished"] == Ratio(68, 250)


@pytest.mark.parametrize("ood", [{}, {"abababab": "a" * BUDGET}, {p: "b" * BUDGET for p in ("abababab", "babababa")}])
def test_headline_identity_is_exact(anbn, ood) -> None:
    agg = aggregate(anbn, records_for(anbn, ood))
    head, fin, given = agg["ood_rule_extrapolation"], agg["ood_finished"], agg["ood_rule_given_finished"]
    assert head.successes == given.successes and head.count == fin.count and given.count == fin.successes
    assert head.value == pytest.approx(fin.value * given.value, abs=0, rel=1e-15)


def test_nothing_finished_gives_null_conditional(anbn) -> None:
    agg = aggregate(anbn, records_for(anbn, default="a" * BUDGET))
    assert agg["ood_finished"] == Ratio(0, 251) and agg["ood_rule_given_finished"] == Ratio(0, 0)
    assert agg["ood_rule_given_finished"].value is None and agg["ood_rule_extrapolation"] == Ratio(0, 251)


def test_heldout_half_by_hand(anbn) -> None:
    sets = prompt_sets(anbn)
    ood = get_split(anbn, "ood_prompts")
    held = [p for p, h in zip(ood.words, sets.heldout) if h]
    # every held-out prompt completed correctly, every regime-half prompt left unfinished
    keep = anbn.rules["R1"]
    comps = {p: (keep.complete(p) + "$") if h else "a" * BUDGET for p, h in zip(ood.words, sets.heldout)}
    agg = aggregate(anbn, records_for(anbn, comps))
    assert agg["heldout_ood_rule_extrapolation"] == Ratio(len(held), len(held)) == Ratio(125, 125)
    assert agg["ood_rule_extrapolation"] == Ratio(125, 251)  # 126 regime-half prompts (ceil) fail


# --------------------------------------------------------------------------- stop rule
def _count_logits(xp, tokens_BT, eos_when: str, stop: bool):
    """A causal anbn model from running counts d = #a - #b: the next symbol restores balance
    (b if d > 0, a if d <= 0) with logit 3; EOS gets logit 2 where ``eos_when`` holds
    (``"balanced"``: d = 0, ``"plus_one"``: d = 1) and -5 elsewhere; with ``stop`` EOS gets
    logit 4 where it holds, so greedy decoding stops there. ``xp`` is numpy or jax.numpy."""
    d_BT = xp.cumsum(xp.where(tokens_BT == A, 1, 0) - xp.where(tokens_BT == B, 1, 0), axis=1)
    target = 0 if eos_when == "balanced" else 1
    other = xp.full(tokens_BT.shape, -9.0, dtype=xp.float32)
    eos = xp.where(d_BT == target, 4.0 if stop else 2.0, -5.0).astype(xp.float32)
    a = xp.where(d_BT <= 0, 3.0, -1.0).astype(xp.float32)
    b = xp.where(d_BT > 0, 3.0, -1.0).astype(xp.float32)
    return xp.stack([other, eos, other, a, b], axis=-1)  # SOS, EOS, PAD, a, b


def _count_model(eos_when: str, stop: bool) -> JaxFunction:
    return JaxFunction(lambda params, tokens: _count_logits(jnp, tokens, eos_when, stop) + 0.0 * params, jnp.zeros(()))


def test_model_that_knows_the_rule_but_not_the_length(anbn) -> None:
    """Never stops (EOS is never its argmax), but its P(EOS) peaks exactly where #a = #b:
    headline 0, finished 0, conditional null, stop rule 1."""
    records = score_records(as_model(_count_model("balanced", stop=False), 5), anbn, seed=0)
    agg = aggregate(anbn, records)
    assert agg["ood_finished"] == Ratio(0, 251) and agg["ood_rule_extrapolation"] == Ratio(0, 251)
    assert agg["ood_rule_given_finished"].value is None
    assert agg["ood_stop_rule"] == Ratio(251, 251)
    # the chosen prefixes are balanced; e.g. a balanced prompt is itself the first peak
    sr = records["ood_stop_rule"]
    i = sr["prompt_index"].index(get_split(anbn, "ood_prompts").words.index("abababab"))
    assert sr["completion"][i].startswith("abab")  # d = 0 -> a, d = 1 -> b, ...
    assert sr["chosen_length"][i] % 2 == 0


def test_model_that_never_stops_and_peaks_in_the_wrong_place(anbn) -> None:
    agg = aggregate(anbn, score_records(as_model(_count_model("plus_one", stop=False), 5), anbn, seed=0))
    assert agg["ood_finished"] == Ratio(0, 251) and agg["ood_stop_rule"] == Ratio(0, 251)


def test_model_that_stops_where_the_rule_holds(anbn) -> None:
    agg = aggregate(anbn, score_records(as_model(_count_model("balanced", stop=True), 5), anbn, seed=0))
    assert agg["ood_rule_extrapolation"] == Ratio(251, 251) and agg["ood_stop_rule"] == Ratio(251, 251)


def test_stop_rule_host_and_jax_paths_agree(anbn) -> None:
    jax_fn = _count_model("balanced", stop=False)
    host = HostFunction(lambda tokens: _count_logits(np, tokens, "balanced", stop=False))
    from rexbench.benchmark.stop_rule import decode_stop_rule

    ood = get_split(anbn, "ood_prompts")
    prompts = ood.tokens()[:10]
    a = decode_stop_rule(as_model(jax_fn, 5), anbn, prompts, seed=3)
    b = decode_stop_rule(as_model(host, 5), anbn, prompts, seed=3)
    np.testing.assert_array_equal(a.symbols_NL, b.symbols_NL)
    np.testing.assert_array_equal(a.chosen_length_N, b.chosen_length_N)
    np.testing.assert_allclose(a.log_p_eos_NW[:, 8:], b.log_p_eos_NW[:, 8:], rtol=1e-6)


def test_stop_rule_ties_are_broken_at_random() -> None:
    """All-equal P(EOS): the chosen prefix is uniform over the visited ones, and depends on the key."""
    import jax

    from rexbench.benchmark.stop_rule import choose_prefix

    lp = jnp.zeros((2000, 65))
    picks = np.asarray(choose_prefix(lp, jnp.int32(8), jax.random.key(0), jnp.arange(2000)))
    assert picks.min() == 8 and picks.max() == 64
    counts = np.bincount(picks, minlength=65)[8:]
    assert counts.min() > 10  # 2000 / 57 = 35 expected per length
    other = np.asarray(choose_prefix(lp, jnp.int32(8), jax.random.key(1), jnp.arange(2000)))
    assert (picks != other).any()
    lp = lp.at[:, 20].set(1.0)  # a unique maximum wins
    assert (np.asarray(choose_prefix(lp, jnp.int32(8), jax.random.key(0), jnp.arange(2000))) == 20).all()


def test_ratio_of_flags() -> None:
    assert Ratio.of(np.array([True, False, True])) == Ratio(2, 3)
    assert Ratio.of(np.array([], dtype=bool)).value is None
