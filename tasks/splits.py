"""The six splits of SPEC §3, generated deterministically and pinned by SHA-256.

Every split is a pure function of (suite version, task config, split name): its random
stream is a ``numpy.random.Generator`` (PCG64) seeded from the SHA-256 of the string
``"rexbench/suite-<version>/<task>(<size>=<value>)/<split>"``. No global random state.

The digest of a split is the SHA-256 of its canonical JSON Lines form (the exact bytes
``rexbench export`` writes): one ``{"tokens": [...]}`` object per line, keys sorted, no
spaces; OOD prompts add ``"completable": {"R1": bool, ...}``.

* ``train`` / ``val`` / ``test``: 10,000 / 1,000 / 2,000 i.i.d. words as
  ``SOS word EOS`` (drawn independently: three different seeds).
* ``id_prompts``: every string of ``prompt_length`` symbols that is a prefix of positive
  probability, in lexicographic order of token ids, as ``SOS prompt``.
* ``ood_prompts``: every other string of that length (probability zero), same order,
  with per-rule completable flags and a ``regime`` flag (:func:`regime_half`).
* ``length_prompts`` (:func:`sample_length_prompts`): 64 prefixes of positive
  probability under the task with its size parameter doubled and **probability zero
  under the task itself**. Each is drawn as: a word ``w`` of the doubled task (from its
  distribution, rejected unless it is outside the original support); ``z`` = the length
  of its shortest prefix of probability zero under the original task; a cut ``c``
  uniform on ``z .. len(w) - 1``; the prompt is ``w[:c]``. Words with ``z = len(w)``
  (no proper prefix of probability zero) are rejected too. So no completion of a length
  prompt can stay inside the training distribution, and at least one symbol is always
  left to generate.

The regime half (SPEC §3, §6). Among the OOD prompts, the ones whose keep rule is
completable (the *headline prompts*) and the others are each split in two by a seeded
permutation (the split's generator with purpose ``"/regime"``): the first
``ceil(n / 2)`` of each group, in permutation order, are flagged ``regime``. Regimes
(``rexbench.baselines.regimes``) train on flagged prompts only; the unflagged headline prompts
are the *held-out half*, on which the harness also reports the headline.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from rexbench.tasks.base import Task
from rexbench.tasks.registry import get_task
from rexbench.tasks.vocab import SOS, encode, pad_rows

SUITE_VERSION = "2"
SEQUENCE_SPLITS: dict[str, int] = {"train": 10_000, "val": 1_000, "test": 2_000}
PROMPT_SPLITS: tuple[str, ...] = ("id_prompts", "ood_prompts", "length_prompts")
SPLIT_NAMES: tuple[str, ...] = (*SEQUENCE_SPLITS, *PROMPT_SPLITS)
NUM_LENGTH_PROMPTS = 64


def split_rng(task: Task, split: str, purpose: str = "") -> np.random.Generator:
    """The generator of one split (``purpose`` derives further independent streams)."""
    key = f"rexbench/suite-{SUITE_VERSION}/{task.config}/{split}{purpose}"
    entropy = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "big")
    return np.random.default_rng(np.random.SeedSequence(entropy))


@dataclass(frozen=True)
class Split:
    """One split: its words (or prompt strings) and, for OOD prompts, completable flags.

    For sequence splits ``words`` are whole words and rows are ``SOS word EOS``; for
    prompt splits ``words`` are prompt strings and rows are ``SOS prompt``.
    """

    task: str
    name: str
    words: tuple[str, ...]
    symbols: str
    completable: dict[str, np.ndarray] | None = None
    regime: np.ndarray | None = None  # bool [N], OOD prompts only: the regime half
    _rows: list[list[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rows = [encode(w, self.symbols) for w in self.words]
        if self.name in PROMPT_SPLITS:
            rows = [r[:-1] for r in rows]  # prompts carry no EOS
        object.__setattr__(self, "_rows", rows)

    @property
    def is_prompt(self) -> bool:
        return self.name in PROMPT_SPLITS

    def __len__(self) -> int:
        return len(self.words)

    @property
    def lengths(self) -> np.ndarray:
        """Number of non-PAD tokens of each row, int32 ``[N]``."""
        return np.array([len(r) for r in self._rows], dtype=np.int32)

    def tokens(self, width: int | None = None) -> np.ndarray:
        """Rows right-padded with PAD, int32 ``[N, width]`` (default: the longest row)."""
        return pad_rows(self._rows, width)

    def records(self) -> list[dict]:
        out: list[dict] = [{"tokens": row} for row in self._rows]
        if self.completable is not None:
            for i, rec in enumerate(out):
                rec["completable"] = {k: bool(v[i]) for k, v in self.completable.items()}
        if self.regime is not None:
            for i, rec in enumerate(out):
                rec["regime"] = bool(self.regime[i])
        return out

    def jsonl(self) -> bytes:
        lines = (json.dumps(r, sort_keys=True, separators=(",", ":")) for r in self.records())
        return "".join(line + "\n" for line in lines).encode()

    @cached_property
    def sha256(self) -> str:
        """Digest of :meth:`jsonl`; computed once (a split is immutable, and every result's
        manifest records the digests of its task's splits)."""
        return hashlib.sha256(self.jsonl()).hexdigest()


def enumerate_prompts(task: Task) -> tuple[list[str], list[str]]:
    """All strings of ``prompt_length`` symbols split into (positive-prob, zero-prob)."""
    id_prompts, ood_prompts = [], []
    for chars in itertools.product(task.symbols, repeat=task.prompt_length):
        prompt = "".join(chars)
        (id_prompts if task.is_reachable(prompt) else ood_prompts).append(prompt)
    return id_prompts, ood_prompts


def first_zero_prefix(task: Task, word: str) -> int | None:
    """Length of the shortest prefix of ``word`` with probability zero under ``task``
    (None if every prefix, the whole word included, has positive probability)."""
    for i in range(len(word) + 1):
        if not task.is_reachable(word[:i]):
            return i
    return None


def sample_length_prompts(task: Task) -> list[str]:
    """The 64 length prompts (see the module docstring for the exact rule)."""
    doubled = task.resized(2 * task.size)
    rng = split_rng(task, "length_prompts")
    prompts: list[str] = []
    while len(prompts) < NUM_LENGTH_PROMPTS:
        batch = doubled.sample_words(rng, NUM_LENGTH_PROMPTS)
        cut_u = rng.random(NUM_LENGTH_PROMPTS)  # one uniform per word, drawn whether used or not
        for word, u in zip(batch, cut_u.tolist(), strict=True):
            z = first_zero_prefix(task, word)
            if z is None or z >= len(word):
                continue
            cut = z + int(u * (len(word) - z))  # uniform on z .. len(word) - 1
            prompts.append(word[:cut])
    return prompts[:NUM_LENGTH_PROMPTS]


def regime_half(task: Task, completable_keep: np.ndarray) -> np.ndarray:
    """The ``regime`` flags of the OOD prompts (bool ``[N]``, see the module docstring)."""
    rng = split_rng(task, "ood_prompts", "/regime")
    flags = np.zeros(completable_keep.size, dtype=bool)
    for group in (np.flatnonzero(completable_keep), np.flatnonzero(~completable_keep)):
        order = rng.permutation(group.size)
        flags[group[order[: (group.size + 1) // 2]]] = True
    return flags


def build_split(task: Task, name: str) -> Split:
    if name in SEQUENCE_SPLITS:
        words = task.sample_words(split_rng(task, name), SEQUENCE_SPLITS[name])
        return Split(task.name, name, tuple(words), task.symbols)
    if name == "id_prompts":
        return Split(task.name, name, tuple(enumerate_prompts(task)[0]), task.symbols)
    if name == "ood_prompts":
        ood = enumerate_prompts(task)[1]
        flags = {r: np.array([task.rules[r].completable(p) for p in ood], dtype=bool) for r in task.rules}
        return Split(task.name, name, tuple(ood), task.symbols, flags, regime_half(task, flags[task.keep_rule]))
    if name == "length_prompts":
        return Split(task.name, name, tuple(sample_length_prompts(task)), task.symbols)
    raise KeyError(f"unknown split {name!r}; valid splits: {', '.join(SPLIT_NAMES)}")


@lru_cache(maxsize=None)
def _cached_split(task_name: str, size: int | None, name: str) -> Split:
    return build_split(get_task(task_name, size), name)


def get_split(task: Task | str, name: str) -> Split:
    """The split ``name`` of a task (object or registry name), cached per process."""
    task = get_task(task) if isinstance(task, str) else task
    if name not in SPLIT_NAMES:
        raise KeyError(f"unknown split {name!r}; valid splits: {', '.join(SPLIT_NAMES)}")
    return _cached_split(task.name, task.size, name)


def split_digests(task: Task | str) -> dict[str, str]:
    """SHA-256 of every split of a task, in SPLIT_NAMES order."""
    return {name: get_split(task, name).sha256 for name in SPLIT_NAMES}


def sos_only(batch: int) -> np.ndarray:
    """``[batch, 1]`` of SOS: the prompt for unconditional generation."""
    return np.full((batch, 1), SOS, dtype=np.int32)
