"""Training data: fixed-width token arrays and the seeded batch-order streams.

Shapes are fixed per task so that one compiled program serves a whole run: every split
used in training is padded (with PAD) to ``width`` = the longest sequence among the
``train`` and ``val`` splits (66 tokens for most suite-v1 tasks; 65 for ``anbncn``), not to
a global maximum.

Batch order is a pure function of (seed, number of rows, batch size): a
``numpy.random.default_rng(seed)`` stream of permutations of the rows, consumed in order
-- epoch after epoch, with no global random state. ``batch_indices(seed, n, b, start,
stop)`` gives the rows of steps ``start..stop-1`` (0-based) without materialising the
earlier ones' batches, and the same stream restarted at any step is identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rexbench.tasks import PAD, Task, get_split
from rexbench.tasks.vocab import encode, pad_rows


@dataclass(frozen=True)
class TaskData:
    """The arrays one training run needs: int32 ``[N, width]`` PAD-padded sequences."""

    task: str
    vocab_size: int
    width: int
    train: np.ndarray
    val: np.ndarray


# What the training rows are (``rexbench train --train-set``): "sampled", the task's 10,000
# i.i.d. ``train`` words (the suite's setting); "support", every word of the language once
# (Task.support: the rule-extrapolation code's setting, e.g. aⁿbⁿ at N = 128 = its 128
# words). The val split, selection and scoring are the same either way. "support" trains on
# the uniform distribution over the support, which is the task's own distribution only
# where that is uniform (aⁿbⁿ: n uniform on 1..N).
TRAIN_SETS: tuple[str, ...] = ("sampled", "support")


def train_words(task: Task, train_set: str = "sampled") -> tuple[str, ...]:
    """The training words of ``train_set`` (see :data:`TRAIN_SETS`)."""
    if train_set == "sampled":
        return get_split(task, "train").words
    if train_set == "support":
        return tuple(task.support())
    raise ValueError(f"unknown training set {train_set!r}; valid: {', '.join(TRAIN_SETS)}")


def sequence_width(task: Task, train_set: str = "sampled") -> int:
    """Longest ``SOS word EOS`` among the training words and the val split."""
    longest = max(len(w) for w in train_words(task, train_set)) + 2
    return int(max(longest, get_split(task, "val").lengths.max()))


def load_task_data(task: Task, width: int | None = None, train_set: str = "sampled") -> TaskData:
    words = train_words(task, train_set)
    width = sequence_width(task, train_set) if width is None else int(width)
    train = get_split(task, "train").tokens(width) if train_set == "sampled" else pad_rows(
        [encode(w, task.symbols) for w in words], width)
    return TaskData(task=task.name, vocab_size=task.vocab_size, width=width, train=train,
                    val=get_split(task, "val").tokens(width))


def pad_to_multiple(tokens: np.ndarray, multiple: int) -> np.ndarray:
    """Appends all-PAD rows (which carry no targets) up to a multiple of ``multiple`` rows."""
    extra = -len(tokens) % multiple
    if not extra:
        return tokens
    return np.concatenate([tokens, np.full((extra, tokens.shape[1]), PAD, tokens.dtype)])


def batch_indices(seed: int | np.random.SeedSequence | list[int], num_rows: int, batch_size: int, start: int, stop: int) -> np.ndarray:
    """Row indices int32 ``[stop - start, batch_size]`` of steps ``start..stop-1``.

    The stream: ``rng = numpy.random.default_rng(seed)``; epoch e is ``rng.permutation(num_rows)``;
    the epochs are concatenated and cut into consecutive batches of ``batch_size`` (a batch
    may straddle two epochs).
    """
    if stop < start:
        raise ValueError(f"stop={stop} < start={start}")
    stream = BatchStream(seed, num_rows, batch_size)
    stream.take(start)
    return stream.take(stop - start)


class BatchStream:
    """Sequential view of :func:`batch_indices` that keeps its generator (no replay cost)."""

    def __init__(self, seed: int | list[int], num_rows: int, batch_size: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._num_rows = num_rows
        self._batch_size = batch_size
        self._buffer = np.zeros(0, np.int64)

    def take(self, steps: int) -> np.ndarray:
        """Row indices int32 ``[steps, batch_size]`` of the next ``steps`` steps."""
        need = steps * self._batch_size
        parts = [self._buffer]
        have = len(self._buffer)
        while have < need:
            perm = self._rng.permutation(self._num_rows)
            parts.append(perm)
            have += len(perm)
        flat = np.concatenate(parts)
        self._buffer = flat[need:]
        return flat[:need].reshape(steps, self._batch_size).astype(np.int32)
