"""Teacher-forced loss: mean negative log-likelihood in nats per target token.

Targets are every token after SOS up to and including EOS; PAD is excluded. Losses are
kept as :class:`NllSum` (sum of nats, number of target tokens) pairs: each fixed-shape
batch contributes per-row float32 sums (:func:`token_nll`, in float32 on the model's logits),
which are added up in float64 on the host and divided once at the end. The last batch
is padded with PAD rows, which carry no targets.

A JAX model's forward pass and the NLL are one compiled function per (program, batch
shape); a host model's logits go through the same compiled NLL function. Every batch is
checked where the numbers are made (SPEC §5): shape, vocabulary and dtype while tracing,
finiteness inside the compiled program (one flag per batch, a refusal naming the row and
position); a host model's output is checked on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from rexbench.benchmark.errors import ModelRefused
from rexbench.benchmark.outputs import check_output, check_traced, first_bad
from rexbench.benchmark.progress import bar
from rexbench.benchmark.protocol import JaxModel, JaxProgram, PyTree, ScorableModel
from rexbench.tasks import PAD, Task, get_split, get_task

LOSS_BATCH = 40  # rows per compiled loss call: divides 1,000 and 2,000; larger batches thrash CPU caches


@dataclass(frozen=True)
class NllSum:
    """A loss as (total nats, number of target tokens); ``mean`` divides once."""

    nats: float
    tokens: int

    @property
    def mean(self) -> float:
        return self.nats / self.tokens if self.tokens else float("nan")

    def __add__(self, other: NllSum) -> NllSum:
        return NllSum(self.nats + other.nats, self.tokens + other.tokens)


def token_nll(logits_BTV: jax.Array, targets_BT: jax.Array) -> jax.Array:
    """NLL in nats of each target under the logits at its position, in float32:
    ``logsumexp(logits) - logits[target]``. The one definition of the per-token loss,
    shared by scoring (below) and training (``rexbench.baselines.train``)."""
    logits_BTV = logits_BTV.astype(jnp.float32)
    picked_BT = jnp.take_along_axis(logits_BTV, targets_BT[..., None], axis=-1)[..., 0]
    return jax.nn.logsumexp(logits_BTV, axis=-1) - picked_BT


def nll_rows(logits_BTV: jax.Array, tokens_BT: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-row (sum of nats, number of targets): position t predicts token t+1 unless PAD."""
    targets_BT = tokens_BT[:, 1:]
    mask_BT = targets_BT != PAD
    nats_B = jnp.sum(jnp.where(mask_BT, token_nll(logits_BTV[:, :-1], targets_BT), 0.0), axis=1)
    return nats_B, jnp.sum(mask_BT, axis=1, dtype=jnp.int32)


_nll_rows_jit = jax.jit(nll_rows)


@partial(jax.jit, static_argnums=(0, 3))
def _jax_nll_rows(program: JaxProgram, params: PyTree, tokens_BT: jax.Array, vocab_size: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-row (nats, targets) and the flat index of the first non-finite position (-1: none)."""
    logits_BTV = program.forward(params, tokens_BT)
    check_traced(logits_BTV, tokens_BT.shape, vocab_size, "a loss batch")  # static: raised while tracing
    return (*nll_rows(logits_BTV, tokens_BT), first_bad(logits_BTV))


def sequence_nll(model: ScorableModel, tokens_NT: np.ndarray, batch_size: int = LOSS_BATCH,
                 desc: str = "loss") -> NllSum:
    """Loss of ``model`` on PAD-padded sequences ``SOS word EOS`` (int32 ``[N, T]``)."""
    tokens_NT = np.asarray(tokens_NT, dtype=np.int32)
    N, T = tokens_NT.shape
    nats, count = 0.0, 0
    pbar = bar(N, desc, "seq")
    for start in range(0, N, batch_size):
        batch_BT = np.full((batch_size, T), PAD, dtype=np.int32)
        chunk = tokens_NT[start : start + batch_size]
        batch_BT[: len(chunk)] = chunk
        where = f"loss batch of rows {start}..{start + len(chunk) - 1}"
        if isinstance(model, JaxModel):
            nats_B, count_B, bad = _jax_nll_rows(model.program, model.params, jnp.asarray(batch_BT), model.vocab_size)
            if int(bad) >= 0:
                raise ModelRefused(f"non-finite logits ({where}): at row {start + int(bad) // T}, position {int(bad) % T}")
        else:
            logits_BTV = np.asarray(model.forward(batch_BT))
            check_output(logits_BTV, (batch_size, T), model.vocab_size, where)
            nats_B, count_B = _nll_rows_jit(jnp.asarray(logits_BTV), jnp.asarray(batch_BT))
        nats += float(np.asarray(nats_B, dtype=np.float64).sum())
        count += int(np.asarray(count_B).sum())
        pbar.update(len(chunk))
    pbar.close()
    return NllSum(nats, count)


def sequence_width(task: Task) -> int:
    """Fixed row width for loss batches of a task: ``SOS`` + longest word + ``EOS``."""
    return task.max_word_length + 2


def split_nll(model: ScorableModel, task: Task, split: str, limit: int | None = None) -> NllSum:
    """Loss of ``model`` on a sequence split (``"test"`` or ``"val"``; its first ``limit`` sequences)."""
    tokens_NT = get_split(task, split).tokens(sequence_width(task))[:limit]
    return sequence_nll(model, tokens_NT, desc=f"{task.name}: {split} loss")


def optimal_nll(task: Task, split: str = "test", limit: int | None = None) -> NllSum:
    """The Bayes-optimal loss of the task's exact distribution on the same sequences."""
    return _optimal_nll(task.name, task.size, split, limit)


@lru_cache(maxsize=None)
def _optimal_nll(task_name: str, size: int | None, split: str, limit: int | None) -> NllSum:
    """Cached per process like the split itself (keyed as :func:`rexbench.tasks.get_split`
    keys it): every scoring of a task needs it, and it is a Python loop over every token."""
    task = get_task(task_name, size)
    nats, tokens = task.nll_sum_count(get_split(task, split).words[:limit])
    return NllSum(float(nats), int(tokens))
