"""The refusals of SPEC §5, run before anything is scored, at every width the harness feeds.

A model is refused (:class:`ModelRefused`, nothing scored or written) when, in order:

1. calling it raises, or its output is not an array (the message names the call);
2. the output shape is not ``[B, T, V]`` for input ``[B, T]`` (wrong shape), its last
   dimension is not the task's vocabulary size, its dtype is not floating, or a logit is
   NaN or ±inf (:func:`check_output`; the same check runs on every loss batch and, inside
   the compiled loops, on every decode step of the actual scoring);
3. **nondeterministic**: the same batch twice gives different logits;
4. **batch-dependent** (three reasons, checked around causality so that each broken model
   gets its own reason): a row's logits change with the other rows of its batch (checked
   first), with the batch size (1 and 40 = the loss batch, at the loss width; 128 = the
   decode batch, at the stop-rule width) or with the padded width (each harness width
   against ``W``) — both checked after causality, whose batches are compared with the base
   rows computed at their own shape;
5. **not causal**: a perturbation of the tokens after position ``c`` changes the logits at a
   position ``<= c``, over the whole width ``W`` the harness will ever feed
   (:func:`harness_widths`: the loss width ``L``, the prompt-decode width, the
   length-prompt decode width and the stop-rule width; ``W`` is the largest, at most 256).
   Within the **loss width** (where a leak could lower the test loss) every cut is tried,
   so a dependence of any position ``p`` on any later token ``q`` is caught by
   ``c = q - 1``. Beyond it, ``SAMPLED_CUTS`` (16) cuts, one drawn uniformly (fixed seed)
   in each of 16 equal strata of the remaining positions, plus the last position: a
   dependence spanning at least one stratum (``ceil((W - L) / 16)`` positions, 12 on
   ``anbn``) is always caught, a shorter one with probability span / stratum. Exhaustive
   cuts there would cost about 12 times more calls of the widest width, and at decode
   time the positions after ``t`` hold no data, only PAD;
6. its **incremental decoding** (``decode_step`` / a host ``step_fn``) disagrees with its
   full forward pass, at each decode width the harness uses, over that whole width.

During scoring, ``rexbench.benchmark.score`` adds two more: any exception the model raises in any
phase is a refusal naming the phase, and an ``excess_loss`` below -0.001 nats is refused.

Comparisons are per position on **log-probabilities** (``log_softmax`` of the logits),
each clipped below at ``LOGP_FLOOR`` (-30 nats: a probability under 1e-13), with the
tolerance ``LOGP_ATOL + LOGP_RTOL * |log p|`` (5e-4 + 1e-4 x |log p| nats): 5e-4 nats for
a likely token, at most 3.5e-3 at the floor. Both parts are set from legitimate models that a
tighter tolerance refused: a Transformer trained for 3,000 steps on ``anbn`` (logits up to
±29) gave, at log p = -15.1, log-probabilities 1.2e-4 nats apart between its KV cache and
its forward pass (float32's rounding at that scale); another seed of the
same run (``rexbench train --model transformer --task anbn --seeds 3-4 --steps 3000``, seed
3, logits within ±24) gave, at log p = -1.6, 1.53e-4 nats between a batch of 128 rows and
one of 4 (XLA:CPU compiles each batch shape with its own summation order), and was refused
under an absolute 1e-4; 5e-4 leaves it a 3x margin. The xLSTM of the ``--full`` grid on
``bban`` (seed 4, 2,000 steps) gave, at log p = -16.96 and position 131 of a test row
padded with PAD, 6.99e-4 nats between widths 137 and 253 (its mLSTM's quadratic form sums
over the padded width, and its normaliser amplifies the rounding far past the training
lengths), and was refused under the earlier relative part 1e-5 (it needs 1.2e-5; the
differences there grow with |log p|: 4e-5 nats at log p = -0.73, 2.3e-4 at -2.7);
1e-4 leaves it a 3x margin. The absolute part stays half of the -0.001-nat guard on
``excess_loss``: a leak inside the tolerance can lower a target's log-probability by at most
5e-4 + 1e-4 x |log p| nats, so the mean test loss by at most 5e-4 + 1e-4 x the loss itself
(under 7e-4 for any model whose loss is below 1.95 nats per token, the uniform model's on
the widest vocabulary, V = 7), and it cannot move a greedy choice between two tokens more than
~7e-4 nats apart. The floor bounds the tolerance, so no logit anywhere (the oracles' -1e4
included) can inflate it, and a leak of more than that toward any token is caught.

The check rows (:func:`check_rows`): two test sequences (PAD after EOS, as the loss sees
them), one OOD prompt followed by random tokens (as a decode sees it), and one row of
random tokens over the whole vocabulary after SOS; fixed numpy seed. The whole check is
about 17 model calls (7 of them loss batches, one of 64 rows of the widest width) plus
three incremental passes of 4 rows; its cost is measured by ``scripts/bench_score.py``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rexbench.benchmark import outputs
from rexbench.benchmark.decoding import DECODE_BATCH, decode_width
from rexbench.benchmark.errors import ModelRefused
from rexbench.benchmark.loss import LOSS_BATCH, sequence_width
from rexbench.benchmark.progress import bar
from rexbench.benchmark.protocol import HostModel, JaxModel, JaxProgram, PyTree, ScorableModel
from rexbench.tasks import PAD, SOS, Task, get_split

CHECK_ROWS = 4
CHECK_SEED = 20_240_917
SAMPLED_CUTS = 16  # cuts beyond the loss width (64 rows of the widest width)
LOGP_FLOOR = -30.0
LOGP_ATOL = 5e-4
# float32 rounds a log-probability by ~1e-6 of the logits' scale (more where a model's own
# numerics amplify it, as the xLSTM's normaliser does), so unlikely tokens (|log p| up to the
# floor, 30) move more than likely ones between two legitimate computation orders
LOGP_RTOL = 1e-4

__all__ = ["ModelRefused", "check_model", "check_output", "check_rows", "harness_widths"]


def harness_widths(task: Task) -> dict[str, int]:
    """Every row width the harness feeds a model on ``task`` (name -> width)."""
    return {
        "loss": sequence_width(task),
        "prompt decode": decode_width(task),
        "length-prompt decode": decode_width(task, ("length_prompts",)),
        "stop-rule decode": task.max_word_length + 1,
    }


def check_rows(task: Task, width: int, rng: np.random.Generator) -> np.ndarray:
    """The ``CHECK_ROWS`` base rows, int32 ``[4, width]`` (see the module docstring)."""
    V = task.vocab_size
    rows = np.full((CHECK_ROWS, width), PAD, dtype=np.int32)
    test = get_split(task, "test").tokens(sequence_width(task))[:2]
    rows[:2, : min(width, test.shape[1])] = test[:, :width]
    ood = get_split(task, "ood_prompts").tokens()[0]
    rows[2, : ood.size] = ood[:width]
    rows[2, ood.size :] = rng.integers(0, V, size=width - ood.size)
    rows[3] = rng.integers(0, V, size=width)
    rows[:, 0] = SOS
    return rows


def call_model(model: ScorableModel, tokens_BT: np.ndarray, what: str) -> np.ndarray:
    """One forward call, refused with ``what`` named if it raises or returns no array."""
    try:
        out = model.forward(tokens_BT)
    except ModelRefused:
        raise
    except Exception as err:  # the model itself failed: refuse with its message
        raise ModelRefused(f"the model raised {type(err).__name__} on {what} (tokens int32{list(tokens_BT.shape)}): {err}") from err
    if not isinstance(out, np.ndarray) or out.dtype == object:
        raise ModelRefused(f"the model returned {type(out).__name__} on {what}, not an array of logits")
    return out


def check_output(out: np.ndarray, batch: int, length: int, task: Task, where: str = "") -> None:
    """Shape, vocabulary, dtype and finiteness of one output for input ``[batch, length]``."""
    outputs.check_output(out, (batch, length), task.vocab_size, where)


def _forward(model: ScorableModel, tokens_BT: np.ndarray, task: Task, what: str) -> np.ndarray:
    out = call_model(model, tokens_BT, what)
    check_output(out, *tokens_BT.shape, task, where=what)
    return out


def clipped_logp(logits: np.ndarray) -> np.ndarray:
    """``max(log_softmax(logits), LOGP_FLOOR)`` in float64."""
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    lp = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    return np.maximum(lp, LOGP_FLOOR)


def logp_violations(lp_a: np.ndarray, lp_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For clipped log-probabilities ``[..., T, V]``: (positions where some entry differs by
    more than ``LOGP_ATOL + LOGP_RTOL * min(|lp_a|, |lp_b|)``, the largest difference)."""
    diff = np.abs(lp_a - lp_b)
    over = diff - (LOGP_ATOL + LOGP_RTOL * np.minimum(np.abs(lp_a), np.abs(lp_b)))
    axes = tuple(i for i in range(over.ndim) if i != over.ndim - 2)
    return np.flatnonzero(~(over.max(axis=axes) <= 0.0)), np.nanmax(diff)


TOLERANCE_TEXT = f"tolerance {LOGP_ATOL:g} + {LOGP_RTOL:g} x |log p|"


def _compare(a: np.ndarray, b: np.ndarray, reason: str) -> None:
    bad, worst = logp_violations(clipped_logp(a), clipped_logp(b))
    if bad.size:
        raise ModelRefused(
            f"{reason}: the log-probabilities at position {int(bad[0])} differ by up to {float(worst):.4g} nats "
            f"({TOLERANCE_TEXT})"
        )


def _perturbed(base_RW: np.ndarray, cuts: list[int], V: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each cut ``c`` (cut-major), every base row with all tokens after ``c`` changed."""
    R, W = base_RW.shape
    rows = []
    for cut in cuts:
        perturbed = base_RW.copy()
        perturbed[:, cut + 1 :] = (base_RW[:, cut + 1 :] + rng.integers(1, V, size=(R, W - cut - 1))) % V
        rows.append(perturbed)
    return np.concatenate(rows), np.repeat(np.asarray(cuts), R)


def _causal_pass(model: ScorableModel, task: Task, rows_NW: np.ndarray, cuts_N: np.ndarray, batch: int,
                 filler_RW: np.ndarray) -> None:
    """Perturbed rows in batches of ``batch``, each compared with the base rows computed at
    the very same batch shape (so a model that depends on the shape is not reported here,
    but by the batch-size and width checks)."""
    R = filler_RW.shape[0]
    ref = np.tile(filler_RW, (-(-batch // R), 1))[:batch]
    base_lp = clipped_logp(_forward(model, ref, task, "the causality check")[:R])
    for start in range(0, rows_NW.shape[0], batch):
        chunk = rows_NW[start : start + batch]
        n = chunk.shape[0]
        if n < batch:  # keep one shape per pass: pad with copies of the base rows
            chunk = np.concatenate([chunk, np.tile(filler_RW, (-(-(batch - n) // R), 1))])[:batch]
        out = clipped_logp(_forward(model, chunk, task, "the causality check"))
        for i in range(n):
            cut = int(cuts_N[start + i])
            bad, worst = logp_violations(out[i, : cut + 1], base_lp[(start + i) % R, : cut + 1])
            if bad.size:
                raise ModelRefused(
                    f"not causal: the log-probabilities at position {int(bad[0])} change by up to {float(worst):.4g} "
                    f"nats ({TOLERANCE_TEXT}) when only tokens after position {cut} are perturbed; "
                    "position t may depend only on tokens 0..t"
                )


def stratified_cuts(lo: int, hi: int, rng: np.random.Generator) -> list[int]:
    """``SAMPLED_CUTS`` cuts in ``lo .. hi - 1``: one uniform in each of as many equal strata,
    and always ``hi - 1`` (the last position)."""
    edges = np.linspace(lo, hi, SAMPLED_CUTS + 1)
    picked = {int(rng.integers(int(np.ceil(a)), max(int(np.ceil(a)) + 1, int(np.ceil(b))))) for a, b in zip(edges[:-1], edges[1:])}
    return sorted(c for c in picked | {hi - 1} if lo <= c < hi)


def check_causal(model: ScorableModel, task: Task, base_RW: np.ndarray, full_RWV: np.ndarray, rng: np.random.Generator) -> None:
    """Every cut of the loss width, in loss-shaped batches; ``SAMPLED_CUTS`` cuts beyond it
    (the last position included), in one decode-shaped batch of the whole width."""
    R, W = base_RW.shape
    V = task.vocab_size
    L = sequence_width(task)
    loss_base = base_RW[:, :L]
    rows, cuts = _perturbed(loss_base, list(range(L - 1)), V, rng)
    _causal_pass(model, task, rows, cuts, LOSS_BATCH, loss_base)
    if W > L:
        rows, cuts = _perturbed(base_RW, stratified_cuts(L - 1, W - 1, rng), V, rng)
        _causal_pass(model, task, rows, cuts, rows.shape[0], base_RW)


def check_other_rows(model: ScorableModel, task: Task, base_RW: np.ndarray, full_RWV: np.ndarray,
                     rng: np.random.Generator) -> None:
    R, W = base_RW.shape
    others = base_RW.copy()
    others[1:] = rng.integers(0, task.vocab_size, size=(R - 1, W))
    others[:, 0] = SOS
    _compare(_forward(model, others, task, "the batch-independence check")[:1], full_RWV[:1],
             "batch-dependent: a row's logits change with the other rows of its batch")


def check_batch_sizes(model: ScorableModel, task: Task, base_RW: np.ndarray, full_RWV: np.ndarray) -> None:
    R = base_RW.shape[0]
    L = sequence_width(task)
    for size, width in ((1, L), (LOSS_BATCH, L), (DECODE_BATCH, task.max_word_length + 1)):
        batch = np.tile(base_RW[:, :width], (-(-size // R), 1))[:size]
        out = _forward(model, batch, task, f"the batch-size check (batch {size}, width {width})")
        n = min(size, R)
        _compare(out[:n], full_RWV[:n, :width], f"batch-dependent: a row's logits change with the batch size ({size} vs {R})")


def check_widths(model: ScorableModel, task: Task, base_RW: np.ndarray, full_RWV: np.ndarray) -> None:
    """Each harness width against ``W`` (the loss and stop-rule widths are already compared
    with ``W`` by :func:`check_batch_sizes`, at batch sizes 1, 40 and 128)."""
    covered = {base_RW.shape[1], sequence_width(task), task.max_word_length + 1}
    for name, width in harness_widths(task).items():
        if width in covered:
            continue
        out = _forward(model, base_RW[:, :width], task, f"the width check ({name}, width {width})")
        _compare(out, full_RWV[:, :width],
                 f"batch-dependent: a row's logits change with the padded width ({width}, the {name} width, vs {base_RW.shape[1]})")


@partial(jax.jit, static_argnums=0)
def _incremental_jax(program: JaxProgram, params: PyTree, tokens_BT: jax.Array) -> jax.Array:
    B, T = tokens_BT.shape
    cache = program.init_cache(params, B, T)

    def step(cache: PyTree, t: jax.Array) -> tuple[PyTree, jax.Array]:
        logits_BV, cache = program.decode_step(params, cache, tokens_BT[:, t], t)
        return cache, logits_BV

    _, logits_TBV = jax.lax.scan(step, cache, jnp.arange(T, dtype=jnp.int32))
    return jnp.swapaxes(logits_TBV, 0, 1)


def incremental_logits(model: ScorableModel, tokens_BT: np.ndarray) -> np.ndarray | None:
    """Logits ``[B, T, V]`` from the model's own incremental path, or None if it has none."""
    if isinstance(model, JaxModel):
        if not model.program.has_cache:
            return None
        return np.asarray(_incremental_jax(model.program, model.params, jnp.asarray(tokens_BT)))
    assert isinstance(model, HostModel)
    if not model.has_step:
        return None
    state = model.init_state(tokens_BT.shape[0])
    steps = []
    for t in range(tokens_BT.shape[1]):
        logits_BV, state = model.step(state, tokens_BT[:, t], t)
        steps.append(np.asarray(logits_BV))
    return np.stack(steps, axis=1)


def check_incremental(model: ScorableModel, task: Task, base_RW: np.ndarray, full_RWV: np.ndarray) -> None:
    widths = harness_widths(task)
    for name in ("prompt decode", "length-prompt decode", "stop-rule decode"):
        width = widths[name]
        try:
            inc = incremental_logits(model, base_RW[:, :width])
        except ModelRefused:
            raise
        except Exception as err:
            raise ModelRefused(f"incremental decoding (init_cache/decode_step) raised {type(err).__name__} "
                               f"at the {name} width {width}: {err}") from err
        if inc is None:
            return
        if inc.shape != full_RWV[:, :width].shape:
            raise ModelRefused(
                f"incremental decoding returned logits of shape {list(inc.shape)} at the {name} width; "
                f"expected {list(full_RWV[:, :width].shape)} (one [B, V] per step)"
            )
        check_output(inc, *base_RW[:, :width].shape, task, where=f"incremental decoding, {name} width")
        _compare(inc, full_RWV[:, :width],
                 f"incremental decoding disagrees with the full forward pass (at the {name} width {width})")


def check_model(model: ScorableModel, task: Task) -> None:
    """Runs every refusal check; returns None or raises :class:`ModelRefused`."""
    rng = np.random.default_rng(CHECK_SEED)
    W = max(harness_widths(task).values())
    base_RW = check_rows(task, W, rng)
    with bar(6, f"{task.name}: refusal checks", "check") as pbar:
        full = _forward(model, base_RW, task, "the check rows")
        again = _forward(model, base_RW.copy(), task, "the check rows, a second time")
        diff = float(np.abs(clipped_logp(full) - clipped_logp(again)).max())
        if not diff <= LOGP_ATOL:
            raise ModelRefused(f"nondeterministic: the same input twice gave log-probabilities differing by up to {diff:.4g} nats")
        pbar.update(1)
        for check in (check_other_rows, check_causal, check_batch_sizes, check_widths, check_incremental):
            pbar.set_postfix_str(check.__name__.removeprefix("check_").replace("_", " "))
            check(model, task, base_RW, full, *((rng,) if check in (check_other_rows, check_causal) else ()))
            pbar.update(1)
