"""An adversarial submitter's battery (SPEC §5): models broken only where a short probe
does not look — late positions, other widths, other batch sizes, real rows only, the
incremental path, mid-scoring — in all three kinds (numpy host, pure JAX, Flax NNX).
Each must be refused with its own reason, and ``rexbench score`` must write nothing."""

from __future__ import annotations

import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from test_harness_support import Bigram, bigram_table

from rexbench.benchmark.checks import check_model, harness_widths
from rexbench.benchmark.cli import main
from rexbench.benchmark.errors import ModelRefused
from rexbench.benchmark.loaders import MODEL_LOADERS, LoadedModel
from rexbench.benchmark.protocol import HostFunction, JaxFunction, as_model
from rexbench.benchmark.score import score_model
from rexbench.tasks import EOS, PAD, get_split, get_task

TASK = get_task("anbn")
V = TASK.vocab_size
TABLE = bigram_table(V).astype(np.float32)
WIDTHS = harness_widths(TASK)
W = max(WIDTHS.values())
A = 3


def refused(obj, task=TASK) -> str:
    with pytest.raises(ModelRefused) as info:
        score_model(obj, task, model_name="adversary")
    return info.value.reason


# --------------------------------------------------------------------------- host (numpy) models
def host(fn) -> HostFunction:
    return HostFunction(fn)


def late_leak(tokens: np.ndarray) -> np.ndarray:
    out = TABLE[tokens].copy()
    if tokens.shape[1] > 130:
        out[:, 100, A] += 2.0 * (tokens[:, 130] == A)  # position 100 peeks at token 130 (a 30-position span)
    return out


def real_rows_leak(tokens: np.ndarray) -> np.ndarray:
    """Non-causal only on well-formed sequences (an EOS somewhere): leaks the next token."""
    out = TABLE[tokens].copy()
    has_eos = (tokens == EOS).any(axis=1)
    nxt = np.concatenate([tokens[:, 1:], np.full((tokens.shape[0], 1), PAD)], axis=1)
    out[has_eos, :, :] += 3.0 * np.eye(V, dtype=np.float32)[nxt[has_eos]]
    return out


def extreme_logit_leak(tokens: np.ndarray) -> np.ndarray:
    """v1's tolerance was relative to the largest |logit|: one -1e4 logit let a 0.9-nat
    leak toward the true next token through."""
    out = TABLE[tokens].copy()
    out[:, :, PAD] = -1e4
    nxt = np.concatenate([tokens[:, 1:], np.full((tokens.shape[0], 1), PAD)], axis=1)
    return out + 0.9 * np.eye(V, dtype=np.float32)[nxt]


def nan_in_loss_batches(tokens: np.ndarray) -> np.ndarray:
    out = TABLE[tokens].copy()
    if tokens.shape == (40, WIDTHS["loss"]):
        out[-1, -1, 0] = np.nan
    return out


def nan_at_decode_batch_8(tokens: np.ndarray) -> np.ndarray:
    """NaN only at batch size 8 (the ID-prompt decode batch), which no check uses."""
    out = TABLE[tokens].copy()
    if tokens.shape[0] == 8:
        out[:, -1, 0] = np.nan
    return out


def wrong_shape_at_loss_width(tokens: np.ndarray) -> np.ndarray:
    out = TABLE[tokens]
    return out[:, :-1] if tokens.shape[1] == WIDTHS["loss"] else out


def other_rows(tokens: np.ndarray) -> np.ndarray:
    """Causal per position, but reads the other rows of the batch."""
    out = TABLE[tokens].copy()
    out[:, :, A] += 0.5 * (tokens == A).mean(axis=0)[None, :]
    return out


def batch_of_one(tokens: np.ndarray) -> np.ndarray:
    out = TABLE[tokens].copy()
    if tokens.shape[0] == 1:
        out[:, :, A] += 0.3
    return out


def width_dependent(tokens: np.ndarray) -> np.ndarray:
    out = TABLE[tokens].copy()
    if tokens.shape[1] == WIDTHS["prompt decode"]:
        out[:, :, A] += 0.3
    return out


_NOISE = np.random.default_rng(0)


def nondeterministic(tokens: np.ndarray) -> np.ndarray:
    out = TABLE[tokens].copy()
    out[:, :, A] += _NOISE.normal(0.0, 0.1)
    return out


HOST_CASES = [
    ("late leak", late_leak, "not causal"),
    ("leak on real rows only", real_rows_leak, "not causal"),
    ("0.9-nat leak next to a -1e4 logit", extreme_logit_leak, "not causal"),
    ("NaN only in loss batches", nan_in_loss_batches, "non-finite logits"),
    ("NaN only at decode batch 8", nan_at_decode_batch_8, "non-finite logits (a decode step"),
    ("wrong shape at the loss width", wrong_shape_at_loss_width, "wrong output shape"),
    ("reads other rows", other_rows, "change with the other rows of its batch"),
    ("batch size 1", batch_of_one, "change with the batch size"),
    ("padded width", width_dependent, "change with the padded width"),
    ("nondeterministic", nondeterministic, "nondeterministic"),
]


@pytest.mark.parametrize(("label", "fn", "reason"), HOST_CASES, ids=[c[0] for c in HOST_CASES])
def test_host_adversary_is_refused(label: str, fn, reason: str) -> None:
    assert reason in refused(fn)


# --------------------------------------------------------------------------- pure JAX
def jax_nan_late(params, tokens):
    out = params[tokens]
    return out.at[:, 200:, 0].set(jnp.nan) if tokens.shape[1] > 200 else out


def jax_leak_late(params, tokens):
    out = params[tokens]
    if tokens.shape[1] > 170:
        out = out.at[:, 140, A].add(2.0 * (tokens[:, 170] == A))
    return out


def _cache_init(params, batch, max_len):
    return jnp.zeros((), jnp.int32)


def _drifting_step(params, cache, tokens_B, position):
    logits = params[tokens_B]
    return jnp.where(position > 100, logits.at[:, A].add(1.0), logits), cache


JAX_CASES = [
    ("NaN after position 200", JaxFunction(jax_nan_late, jnp.asarray(TABLE)), "non-finite logits"),
    ("position 140 peeks at token 170", JaxFunction(jax_leak_late, jnp.asarray(TABLE)), "not causal"),
    ("incremental drift after position 100",
     JaxFunction(lambda p, t: p[t], jnp.asarray(TABLE), _cache_init, _drifting_step), "incremental decoding disagrees"),
]


@pytest.mark.parametrize(("label", "fn", "reason"), JAX_CASES, ids=[c[0] for c in JAX_CASES])
def test_jax_adversary_is_refused(label: str, fn, reason: str) -> None:
    assert reason in refused(fn)


# --------------------------------------------------------------------------- Flax NNX
class LateDrift(Bigram):
    """Its decode_step drifts from its forward pass after position 16 (v1's probe length)."""

    def decode_step(self, cache, tokens_B, position):
        logits, cache = super().decode_step(cache, tokens_B, position)
        return jnp.where(position > 16, logits.at[:, EOS].add(0.5), logits), cache


class LeakyAt(nnx.Module):
    def __init__(self) -> None:
        self.table = nnx.Param(jnp.asarray(TABLE))

    def __call__(self, tokens_BT):
        out = self.table[...][tokens_BT]
        if tokens_BT.shape[1] > 60:
            out = out.at[:, 30, A].add(1.5 * (tokens_BT[:, 60] == A))
        return out


def test_nnx_adversaries_are_refused() -> None:
    assert "incremental decoding disagrees" in refused(LateDrift(TABLE))
    assert "not causal" in refused(LeakyAt())


# --------------------------------------------------------------------------- loss and mid-scoring
def test_memorizer_of_the_test_set_is_refused() -> None:
    """Causal, deterministic, batch-independent -- but it has seen the test set: on dyck its
    test loss is far below the Bayes optimum (SPEC §5: excess below -0.001 is refused)."""
    task = get_task("dyck")
    test = get_split(task, "test").tokens(task.max_word_length + 2)
    table = bigram_table(task.vocab_size).astype(np.float32)
    trie: dict[tuple[int, ...], np.ndarray] = {}
    for row in test.tolist():
        for t in range(1, len(row)):
            trie.setdefault(tuple(row[:t]), np.zeros(task.vocab_size))[row[t]] += 1

    def memorizer(tokens: np.ndarray) -> np.ndarray:
        out = table[tokens].copy()
        for b, row in enumerate(tokens.tolist()):
            for t in range(len(row)):
                hit = trie.get(tuple(row[: t + 1]))
                if hit is not None:
                    out[b, t] = np.log((hit + 1e-3) / (hit + 1e-3).sum())
        return out

    msg = refused(memorizer, task)
    assert "below -0.001" in msg and "Bayes-optimal" in msg


def test_model_that_raises_mid_scoring_is_refused() -> None:
    calls = {"n": 0}

    def flaky(tokens: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if tokens.shape[0] == 8:  # first met while decoding the ID prompts
            raise RuntimeError("out of memory (simulated)")
        return TABLE[tokens]

    msg = refused(flaky)
    assert "RuntimeError during decoding" in msg and "simulated" in msg
    assert calls["n"] > 10  # it passed the checks and the losses first


def test_jax_model_that_fails_to_trace_mid_scoring_is_refused() -> None:
    def apply(params, tokens):
        if tokens.shape[0] == 8:
            raise ValueError("unsupported batch")
        return params[tokens]

    assert "ValueError during decoding" in refused(JaxFunction(apply, jnp.asarray(TABLE)))


# --------------------------------------------------------------------------- the CLI: nothing written
@pytest.mark.parametrize("fn", [late_leak, nan_at_decode_batch_8, nondeterministic], ids=["leak", "nan", "nondet"])
def test_cli_writes_nothing(fn, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(MODEL_LOADERS, "adversary", lambda task: LoadedModel(host(fn), "adversary"))
    out = tmp_path / "out"
    assert main(["score", "--model", "adversary", "--task", "anbn", "--out", str(out), "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert "refused" in err and "nothing was written" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_timeout_refuses_a_slow_model(tmp_path: Path, monkeypatch, capsys) -> None:
    def slow(tokens: np.ndarray) -> np.ndarray:
        time.sleep(0.05)
        return TABLE[tokens]

    monkeypatch.setitem(MODEL_LOADERS, "slow", lambda task: LoadedModel(slow, "slow"))
    out = tmp_path / "out"
    t0 = time.perf_counter()
    assert main(["score", "--model", "slow", "--task", "anbn", "--out", str(out), "--timeout", "1.5"]) == 3
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert "took longer than --timeout 1.5 s" in err and "checking the model" in err  # progress was shown
    assert not out.exists()


def test_honest_models_pass_every_check() -> None:
    """No false refusals: the bigram of every kind, and the oracles, on the widest widths."""
    check_model(as_model(host(lambda t: TABLE[t]), V), TASK)
    check_model(as_model(JaxFunction(lambda p, t: p[t], jnp.asarray(TABLE)), V), TASK)
    check_model(as_model(Bigram(TABLE), V), TASK)
    assert W == WIDTHS["length-prompt decode"] > WIDTHS["prompt decode"] > WIDTHS["loss"]
