"""Each SPEC §5 refusal, triggered by a deliberately broken model; nothing is written."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from test_harness_support import Bigram, bigram_table

from rexbench.benchmark.checks import ModelRefused, check_model
from rexbench.benchmark.cli import main
from rexbench.benchmark.loaders import MODEL_LOADERS, LoadedModel
from rexbench.benchmark.protocol import HostFunction, JaxFunction, as_model
from rexbench.benchmark.score import score_model
from rexbench.tasks import get_task

TASK = get_task("anbn")
V = TASK.vocab_size
TABLE = bigram_table(V)


def refusal(obj) -> str:
    with pytest.raises(ModelRefused) as info:
        check_model(as_model(obj, V), TASK)
    return info.value.reason


def test_wrong_shape() -> None:
    msg = refusal(lambda tokens: TABLE[tokens][:, :, 0])
    assert "wrong output shape" in msg and "expected [4, 251, 5]" in msg  # 251: the widest row anbn feeds


def test_wrong_length() -> None:
    assert "wrong output shape" in refusal(lambda tokens: TABLE[tokens][:, :-1])


def test_vocabulary_mismatch() -> None:
    big = bigram_table(V + 1)
    msg = refusal(JaxFunction(lambda p, t: p[t], jnp.asarray(big)))
    assert "vocabulary mismatch" in msg and "6 logits" in msg and "V = 5" in msg


def test_wrong_dtype() -> None:
    msg = refusal(lambda tokens: (TABLE[tokens] * 10).astype(np.int32))
    assert "wrong dtype" in msg and "int32" in msg


def test_nan_logits() -> None:
    def nan_model(tokens: np.ndarray) -> np.ndarray:
        out = TABLE[tokens].copy()
        out[:, 3, 2] = np.nan
        return out

    msg = refusal(nan_model)
    assert "non-finite" in msg and "NaN" in msg and "position 3" in msg


def test_inf_logits() -> None:
    msg = refusal(JaxFunction(lambda p, t: jnp.where(t[..., None] == 4, -jnp.inf, p[t]), jnp.asarray(TABLE)))
    assert "non-finite" in msg and "infinite" in msg


def test_not_causal_reports_first_position_and_difference() -> None:
    def peeks(tokens: np.ndarray) -> np.ndarray:
        out = TABLE[tokens].copy()
        out[:, 7, 3] += 0.5 * tokens[:, 9]  # position 7's logit of "a" looks at token 9
        return out

    msg = refusal(peeks)
    assert "not causal" in msg and "position 7" in msg and "by up to" in msg


def test_not_causal_flax_shift() -> None:
    class Leaky(nnx.Module):
        def __init__(self) -> None:
            self.table = nnx.Param(jnp.asarray(TABLE))

        def __call__(self, tokens_BT: jax.Array) -> jax.Array:
            return self.table[...][jnp.roll(tokens_BT, -1, axis=1)]  # position t sees token t+1

    msg = refusal(Leaky())
    assert "not causal" in msg and "position 0" in msg


def test_a_constant_shift_of_all_logits_is_not_a_difference() -> None:
    """Comparisons are on log-probabilities: adding the same amount to every logit of a
    position changes nothing the harness computes (loss, argmax, samples, P(EOS))."""
    shifted = HostFunction(lambda t: TABLE[t] + t[:, -1:, None], init_state_fn=lambda b: None,
                           step_fn=lambda s, tok, pos: (TABLE[tok] + 5.0, s))
    check_model(as_model(shifted, V), TASK)


def test_tiny_float_noise_is_tolerated() -> None:
    def noisy(tokens: np.ndarray) -> np.ndarray:
        out = TABLE[tokens].astype(np.float64)
        # future-dependent on one token's logit (so the log-probabilities do move), by at
        # most 1e-8 x (256 positions x token id 4) = 1e-5 nats, below the 5e-4 tolerance
        out[:, :, 3] += 1e-8 * tokens.sum(axis=1)[:, None]
        return out

    check_model(as_model(noisy, V), TASK)


def _shifted_step(table: np.ndarray, token: int, shift: float) -> HostFunction:
    """Forward = ``table``; the incremental path adds ``shift`` to one token's logit."""
    bump = np.zeros(V)
    bump[token] = shift
    return HostFunction(lambda t: table[t], init_state_fn=lambda b: None,
                        step_fn=lambda s, tok, pos: (table[tok] + bump, s))


def test_float32_rounding_of_unlikely_tokens_is_tolerated() -> None:
    """The tolerance is 5e-4 + 1e-4 x |log p|: by hand, a token at log p ~ -21.4 may move by
    up to 5e-4 + 2.14e-3 = 2.64e-3 nats (float32's rounding at logits of that scale, as
    amplified by a model's own numerics), a likely one by ~5e-4."""
    table = np.zeros((V, V))
    table[:, 0] = -20.0  # token 0 (PAD) at log p = -20 - ln 4 ~ -21.4 after every token
    # +2.5e-3 on its logit moves its log p by 2.5e-3 (and the others' by 2.5e-3 x e^-21.4):
    # under the 2.64e-3 allowed there, far above the absolute 5e-4
    check_model(as_model(_shifted_step(table, 0, 2.5e-3), V), TASK)
    assert "incremental decoding disagrees" in refusal(_shifted_step(table, 0, 2.8e-3))
    # +1e-3 on a token at p = 1/4 moves its log p by 1e-3 x 3/4 = 7.5e-4 > 5e-4 + 1e-4 x ln 4
    assert "incremental decoding disagrees" in refusal(_shifted_step(table, 1, 1e-3))


def _width_noise(token: int, shift: float) -> HostFunction:
    """A bigram model whose forward pass at every width but the widest moves ``token``'s logit
    by ``shift`` (as a model whose sums run over the padded width does)."""
    table = np.zeros((V, V))
    table[:, 0] = -15.0  # PAD at log p = -15 - ln 4 ~ -16.4, the xLSTM's case below

    def forward(tokens: np.ndarray) -> np.ndarray:
        out = table[tokens].astype(np.float64)
        if tokens.shape[1] < 251:  # 251: the widest row anbn feeds
            out[:, :, token] += shift
        return out
    return HostFunction(forward, init_state_fn=lambda b: None, step_fn=lambda s, tok, pos: (table[tok], s))


def test_width_rounding_of_a_trained_xlstm_is_tolerated() -> None:
    """The --full grid's xLSTM on bban (seed 4) gave 6.99e-4 nats at log p = -16.96 between
    widths 137 and 253 and was refused under the earlier 5e-4 + 1e-5 x |log p| (6.7e-4 there;
    benchmark/checks.py). The same difference at log p ~ -16.4 is tolerated now (allowed:
    5e-4 + 1.64e-3 nats); on a likely token (p ~ 1/4) a shift of 1e-3 moves log p by 7.5e-4,
    over the 5e-4 + 1.4e-4 allowed there, and is refused."""
    check_model(as_model(_width_noise(0, 7e-4), V), TASK)
    assert "batch-dependent" in refusal(_width_noise(1, 1e-3))


def _batch_size_noise(shift: float) -> HostFunction:
    """Forward = TABLE, except that in batches of more than 4 rows one likely token's logit
    moves by ``shift``: XLA:CPU's per-shape summation order, as a legitimate model shows it."""
    def forward(tokens: np.ndarray) -> np.ndarray:
        out = TABLE[tokens].astype(np.float64)
        if tokens.shape[0] > 4:
            out[:, :, 1] += shift
        return out
    return HostFunction(forward, init_state_fn=lambda b: None, step_fn=lambda s, tok, pos: (TABLE[tok], s))


def test_batch_size_rounding_of_a_trained_model_is_tolerated() -> None:
    """A Transformer trained 3,000 steps on anbn (seed 3) gave log-probabilities 1.53e-4 nats
    apart at log p = -1.6 between a batch of 128 rows and one of 4 (benchmark/checks.py) and
    was refused under the old absolute 1e-4. The same size of difference is tolerated now,
    and one of 1e-3 (twice the tolerance) is still refused."""
    check_model(as_model(_batch_size_noise(2e-4), V), TASK)
    assert "batch-dependent: a row's logits change with the batch size" in refusal(_batch_size_noise(1.3e-3))


def test_incremental_disagreement() -> None:
    class BadCache(Bigram):
        def decode_step(self, cache, tokens_B, position):
            return jnp.zeros((tokens_B.shape[0], V)), cache

    msg = refusal(BadCache(TABLE))
    assert "incremental decoding disagrees" in msg


def test_host_step_disagreement() -> None:
    host = HostFunction(
        lambda t: TABLE[t], init_state_fn=lambda b: None, step_fn=lambda s, tok, pos: (TABLE[tok] + np.eye(V)[1], s)
    )  # EOS's logit one higher in the incremental path
    assert "incremental decoding disagrees" in refusal(host)


def test_model_that_raises() -> None:
    def crash(tokens: np.ndarray) -> np.ndarray:
        raise RuntimeError("boom")

    msg = refusal(crash)
    assert "RuntimeError" in msg and "boom" in msg


def test_not_a_model() -> None:
    with pytest.raises(ModelRefused, match="cannot score"):
        as_model(42, V)


def test_score_model_refuses_before_scoring() -> None:
    with pytest.raises(ModelRefused, match="non-finite"):
        score_model(lambda t: np.full((*t.shape, V), np.nan, np.float32), TASK)


@pytest.mark.parametrize(
    "name, needle",
    [
        ("broken-shape", "wrong output shape"),
        ("broken-vocab", "vocabulary mismatch"),
        ("broken-causal", "not causal"),
        ("broken-nan", "non-finite"),
    ],
)
def test_cli_refusal_writes_nothing(name: str, needle: str, tmp_path: Path, monkeypatch, capsys) -> None:
    models = {
        "broken-shape": lambda t: TABLE[t][..., 0],
        "broken-vocab": lambda t: np.zeros((*t.shape, V + 2), np.float32),
        "broken-causal": lambda t: TABLE[t[:, ::-1]],
        "broken-nan": lambda t: np.full((*t.shape, V), np.nan, np.float32),
    }
    monkeypatch.setitem(MODEL_LOADERS, name, lambda task: LoadedModel(models[name], name))
    out = tmp_path / "out"
    rc = main(["score", "--model", name, "--task", "anbn", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0
    assert needle in err and "refused" in err
    assert not out.exists() or not any(out.iterdir())
