"""``ood_stop_rule`` (SPEC §4.2): rule-keeping without the stopping decision.

From each headline prompt the model is decoded greedily **with EOS withheld** until the
word has the task's maximum length (``task.max_word_length`` symbols: 64 on every task
but ``anbncn``, whose longest word has 63). At every visited prefix — the prompt itself,
then each longer prefix up to the maximum length — the harness records the model's
probability of EOS, ``softmax(logits)[EOS]`` at the prefix's last position. The verdict
of the row is whether the keep rule holds on the prefix where that probability is
highest; exact ties between prefixes are broken uniformly at random with the run's key
(purpose ``"stop_rule/ties"``, one uniform per (row, position)).

The choice of the next token is the argmax over the task's **symbols** only (EOS, SOS
and PAD are withheld): the metric asks where the model would stop, not whether it can
emit a well-formed word, which the headline already measures. Ties between symbols are
broken at random with the run's key (purpose ``"greedy/stop_rule"``), as in every greedy
decode.

The metric does not depend on whether or when the model actually stops, and it is
defined for a model that never stops.

Worked example (``anbn``, max length 64, prompt ``abababab``, P = 8 symbols): the
decode visits the prefixes of 8, 9, …, 64 symbols. A model that continues with b's and
puts P(EOS) = 0.9 after ``abababab`` (8 symbols, #a = #b) and P(EOS) ≤ 0.1 everywhere
else chooses length 8: the keep rule holds, verdict true — whether its greedy
completion stops there or never stops at all. A model whose P(EOS) peaks after
``ababababb`` (9 symbols) gets verdict false.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rexbench.benchmark.decoding import decode_batch_size, step_logits
from rexbench.benchmark.errors import ModelRefused
from rexbench.benchmark.outputs import check_output
from rexbench.benchmark.progress import bar
from rexbench.benchmark.protocol import HostModel, JaxModel, JaxProgram, PyTree, ScorableModel
from rexbench.benchmark.sampling import choose_tokens, choose_tokens_host, derive_key
from rexbench.tasks import EOS, PAD, SOS, Task
from rexbench.tasks.vocab import NUM_SPECIAL

TOKEN_PURPOSE = "greedy/stop_rule"
TIE_PURPOSE = "stop_rule/ties"


@dataclass(frozen=True)
class StopRuleDecode:
    """``symbols_NL``: int32 ``[N, max_len - P]`` generated symbol tokens;
    ``log_p_eos_NW``: float32 ``[N, W]`` log P(EOS) after each position (W = max_len + 1,
    valid from position P on); ``chosen_length_N``: int32, symbols of the chosen prefix."""

    symbols_NL: np.ndarray
    log_p_eos_NW: np.ndarray
    chosen_length_N: np.ndarray


def _withhold(logits_BV: jax.Array) -> jax.Array:
    """Logits with EOS, SOS and PAD set to -inf (the choice is among symbols only)."""
    V = logits_BV.shape[-1]
    special_V = jnp.arange(V) < NUM_SPECIAL
    return jnp.where(special_V, -jnp.inf, logits_BV.astype(jnp.float32))


def _log_p_eos(logits_BV: jax.Array) -> jax.Array:
    logits_BV = logits_BV.astype(jnp.float32)
    return logits_BV[:, EOS] - jax.nn.logsumexp(logits_BV, axis=-1)


@partial(jax.jit, static_argnums=(0, 6))
def _stop_rule_jax(program: JaxProgram, params: PyTree, buffer_BW: jax.Array, prompt_len: jax.Array,
                   key: jax.Array, row_ids_B: jax.Array, vocab_size: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    B, W = buffer_BW.shape
    cache = program.init_cache(params, B, W) if program.has_cache else jnp.zeros((), jnp.int32)

    def body(t: jax.Array, carry: tuple) -> tuple:
        buffer_BW, lp_BW, cache, bad = carry
        logits_BV, cache, bad = step_logits(program, params, cache, buffer_BW, t, vocab_size, bad, "a stop-rule decode step")
        lp_BW = jax.lax.dynamic_update_index_in_dim(lp_BW, _log_p_eos(logits_BV), t, axis=1)
        tokens_B = choose_tokens(_withhold(logits_BV), key, row_ids_B, t + 1, jnp.bool_(True))
        column_B = jax.lax.dynamic_index_in_dim(buffer_BW, jnp.minimum(t + 1, W - 1), axis=1, keepdims=False)
        write = (t + 1 >= prompt_len) & (t + 1 < W)
        column_B = jnp.where(write, tokens_B, column_B)
        buffer_BW = jax.lax.dynamic_update_index_in_dim(buffer_BW, column_B, jnp.minimum(t + 1, W - 1), axis=1)
        return buffer_BW, lp_BW, cache, bad

    lp_BW = jnp.full((B, W), -jnp.inf, jnp.float32)
    buffer_BW, lp_BW, _, bad = jax.lax.fori_loop(0, W, body, (buffer_BW, lp_BW, cache, jnp.int32(-1)))
    return buffer_BW, lp_BW, bad


def _stop_rule_host(model: HostModel, buffer_BW: np.ndarray, prompt_len: int, key: jax.Array,
                    row_ids_B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    B, W = buffer_BW.shape
    buffer_BW = buffer_BW.copy()
    lp_BW = np.full((B, W), -np.inf, dtype=np.float32)
    state = model.init_state(B)
    for t in range(W):
        logits_BV, state = model.step(state, buffer_BW[:, t], t)
        logits_BV = np.asarray(logits_BV)
        check_output(logits_BV, (B,), model.vocab_size, f"a stop-rule decode step at position {t}")
        lp_BW[:, t] = np.asarray(_log_p_eos(jnp.asarray(logits_BV)))
        if prompt_len <= t + 1 < W:
            buffer_BW[:, t + 1] = choose_tokens_host(np.asarray(_withhold(jnp.asarray(logits_BV))), key, row_ids_B,
                                                     t + 1, True)
    return buffer_BW, lp_BW


@jax.jit
def choose_prefix(log_p_eos_NW: jax.Array, first_position: jax.Array, key: jax.Array, row_ids_N: jax.Array) -> jax.Array:
    """Position (= symbols in the prefix) of the highest P(EOS) from ``first_position`` on,
    exact ties broken uniformly at random with ``fold_in(fold_in(key, row), position)``."""
    N, W = log_p_eos_NW.shape
    visited_W = jnp.arange(W) >= first_position
    lp_NW = jnp.where(visited_W[None, :], log_p_eos_NW, -jnp.inf)
    is_max_NW = visited_W[None, :] & (lp_NW == jnp.max(lp_NW, axis=1, keepdims=True))

    def uniforms(row: jax.Array) -> jax.Array:
        k = jax.random.fold_in(key, row)
        return jax.vmap(lambda t: jax.random.uniform(jax.random.fold_in(k, t)))(jnp.arange(W))

    u_NW = jax.vmap(uniforms)(row_ids_N)
    return jnp.argmax(jnp.where(is_max_NW, u_NW, -1.0), axis=1).astype(jnp.int32)


def decode_stop_rule(model: ScorableModel, task: Task, prompts_NP: np.ndarray, seed: int,
                     row_ids_N: np.ndarray | None = None) -> StopRuleDecode:
    """The EOS-withheld decode of prompts ``SOS prompt`` (int32 ``[N, 1 + P]``, all of the
    task's prompt length). ``row_ids_N`` (default ``0..N-1``) keys each row's randomness."""
    prompts_NP = np.asarray(prompts_NP, dtype=np.int32)
    N, P1 = prompts_NP.shape
    W = task.max_word_length + 1  # positions 0..max_len: the prefix after position t has t symbols
    row_ids_N = np.arange(N, dtype=np.int32) if row_ids_N is None else np.asarray(row_ids_N, dtype=np.int32)
    key = derive_key(seed, TOKEN_PURPOSE)
    batch = decode_batch_size(N)
    buffer_NW = np.full((N, W), PAD, dtype=np.int32)
    lp_NW = np.full((N, W), -np.inf, dtype=np.float32)
    pbar = bar(N, f"{task.name}: EOS-withheld decode", "prompt")
    for start in range(0, N, batch):
        n = min(batch, N - start)
        buffer_BW = np.full((batch, W), PAD, dtype=np.int32)
        buffer_BW[:, 0] = SOS
        buffer_BW[:n, :P1] = prompts_NP[start : start + n]
        ids_B = np.zeros(batch, dtype=np.int32)
        ids_B[:n] = row_ids_N[start : start + n]
        if isinstance(model, JaxModel):
            out_BW, lp_BW, bad = _stop_rule_jax(model.program, model.params, jnp.asarray(buffer_BW), jnp.int32(P1),
                                                key, jnp.asarray(ids_B), model.vocab_size)
            if int(bad) >= 0:
                raise ModelRefused(f"non-finite logits (a stop-rule decode step): at position {int(bad) // batch} of "
                                   f"batch row {int(bad) % batch}")
        else:
            out_BW, lp_BW = _stop_rule_host(model, buffer_BW, P1, key, ids_B)
        buffer_NW[start : start + n] = np.asarray(out_BW)[:n]
        lp_NW[start : start + n] = np.asarray(lp_BW)[:n]
        pbar.update(n)
    pbar.close()
    chosen_N = np.asarray(choose_prefix(jnp.asarray(lp_NW), jnp.int32(P1 - 1), derive_key(seed, TIE_PURPOSE),
                                        jnp.asarray(row_ids_N)))
    return StopRuleDecode(buffer_NW[:, P1:], lp_NW, chosen_N)
