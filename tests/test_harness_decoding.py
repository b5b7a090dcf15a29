"""Decoding semantics: lockstep prompts, per-row EOS, budget, tie-breaking, sampling,
independence from batch size and model kind."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from test_harness_support import Bigram, BigramNoCache, bigram_host_step, bigram_jax, bigram_numpy, bigram_table

from rexbench.benchmark.decoding import decode, decode_batch_size
from rexbench.benchmark.protocol import HostFunction, as_model
from rexbench.benchmark.sampling import derive_key
from rexbench.tasks import EOS, PAD, SOS

V = 5
A = 3
KEY = derive_key(0, "test")


def prompts(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), PAD, dtype=np.int32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out, np.array([len(r) for r in rows], dtype=np.int32)


class PositionScript:
    """Host model: 'a' while position < stop - 1, then EOS (so EOS lands at index `stop`)."""

    def __init__(self, stop: int) -> None:
        self.stop = stop
        self.steps = 0

    def fn(self, tokens_BT: np.ndarray) -> np.ndarray:
        B, T = tokens_BT.shape
        out = np.zeros((B, T, V), np.float32)
        pos = np.arange(T)
        out[:, pos < self.stop - 1, A] = 5.0
        out[:, pos >= self.stop - 1, EOS] = 5.0
        return out

    def model(self) -> HostFunction:
        def step(state, tokens_B, position):
            self.steps += 1
            return self.fn(np.zeros((len(tokens_B), position + 1), np.int32))[:, position], state

        return HostFunction(self.fn, init_state_fn=lambda b: None, step_fn=step)


def test_lockstep_prompts_and_per_row_eos() -> None:
    script = PositionScript(stop=5)
    p, lengths = prompts([[SOS], [SOS, A, A], [SOS, A, A, A, A, A]])
    out = decode(as_model(script.model(), V), p, lengths, key=KEY, greedy=True, width=6 + 10, budget=10)
    assert out.finished_N.tolist() == [True, True, True]
    assert out.generated_NL[0].tolist() == [A, A, A, A, EOS] + [PAD] * 5  # positions 1..4 'a', EOS at 5
    assert out.generated_NL[1].tolist() == [A, A, EOS] + [PAD] * 7
    assert out.generated_NL[2].tolist() == [EOS] + [PAD] * 9  # prompt already past position 5
    # early exit: the last row needs positions 0..5 fed; no step after every row finished
    assert script.steps == 6


def test_budget_leaves_rows_unfinished() -> None:
    p, lengths = prompts([[SOS], [SOS, A]])
    out = decode(as_model(PositionScript(stop=1000).model(), V), p, lengths, key=KEY, greedy=True, width=12, budget=8)
    assert not out.finished_N.any()
    assert (out.generated_NL == A).all()  # exactly the budget, nothing after


def test_width_must_fit_prompt_and_budget() -> None:
    p, lengths = prompts([[SOS, A, A]])
    with pytest.raises(ValueError, match="width"):
        decode(as_model(bigram_numpy(bigram_table(V)), V), p, lengths, key=KEY, greedy=True, width=10, budget=8)


def test_greedy_ties_are_broken_uniformly_with_the_key() -> None:
    logits = np.array([-9, -1, -9, 2, 2], np.float32)  # 'a' and 'b' tie
    model = as_model(lambda t: np.broadcast_to(logits, (*t.shape, V)).copy(), V)
    p, lengths = prompts([[SOS]] * 2000)
    out = decode(model, p, lengths, key=KEY, greedy=True, width=3, budget=1)
    first = out.generated_NL[:, 0]
    assert set(first.tolist()) == {3, 4}
    assert 0.45 < (first == 3).mean() < 0.55
    again = decode(model, p, lengths, key=KEY, greedy=True, width=3, budget=1)
    np.testing.assert_array_equal(again.generated_NL, out.generated_NL)
    other = decode(model, p, lengths, key=derive_key(1, "test"), greedy=True, width=3, budget=1)
    assert (other.generated_NL != out.generated_NL).any()


def test_sampling_follows_softmax() -> None:
    probs = np.array([1e-9, 0.7, 1e-9, 0.3, 1e-9])
    model = as_model(lambda t: np.broadcast_to(np.log(probs).astype(np.float32), (*t.shape, V)).copy(), V)
    p, lengths = prompts([[SOS]] * 4096)
    out = decode(model, p, lengths, key=KEY, greedy=False, width=3, budget=1)
    assert abs(out.finished_N.mean() - 0.7) < 0.03


@pytest.mark.parametrize("greedy", [True, False])
def test_same_completions_for_every_kind_and_batch_size(greedy: bool) -> None:
    table = bigram_table(V, seed=3, scale=1.0)
    p, lengths = prompts([[SOS] + [A + (i * 7 + j) % 2 for j in range(i % 5)] for i in range(37)])
    kinds = [Bigram(table), BigramNoCache(table), bigram_jax(table), bigram_numpy(table), bigram_host_step(table)]
    outs = [decode(as_model(k, V), p, lengths, key=KEY, greedy=greedy, width=40, budget=30) for k in kinds]
    outs.append(decode(as_model(Bigram(table), V), p, lengths, key=KEY, greedy=greedy, width=40, budget=30, batch_size=8))
    for other in outs[1:]:
        np.testing.assert_array_equal(other.generated_NL, outs[0].generated_NL)
        np.testing.assert_array_equal(other.finished_N, outs[0].finished_N)


def test_decode_batch_size_buckets() -> None:
    assert [decode_batch_size(n) for n in (1, 5, 8, 9, 251, 256, 257, 4096)] == [8, 8, 8, 16, 128, 128, 128, 128]


def test_row_keys_do_not_depend_on_padding() -> None:
    model = as_model(Bigram(bigram_table(V, seed=5, scale=0.5)), V)
    p, lengths = prompts([[SOS]] * 20)
    full = decode(model, p, lengths, key=KEY, greedy=False, width=20, budget=16)
    part = decode(model, p[:9], lengths[:9], key=KEY, greedy=False, width=20, budget=16)
    np.testing.assert_array_equal(part.generated_NL, full.generated_NL[:9])
    assert isinstance(KEY, jax.Array)


def test_decode_loop_compiles_once_per_shape() -> None:
    from rexbench.benchmark.decoding import _decode_jax

    model = as_model(Bigram(bigram_table(V, seed=9)), V)
    rows = [[SOS] + [A] * (i % 4) for i in range(300)]  # 3 batches of 128, prompts of varying length
    p, lengths = prompts(rows)
    decode(model, p, lengths, key=KEY, greedy=True, width=24, budget=20)
    size = _decode_jax._cache_size()
    decode(model, p[::-1].copy(), lengths[::-1].copy(), key=KEY, greedy=False, width=24, budget=20)
    decode(model, p[:200], lengths[:200], key=derive_key(3, "x"), greedy=True, width=24, budget=20)
    assert _decode_jax._cache_size() == size  # same (batch, width): no recompilation
