"""Token ids shared by every task (SPEC §1).

A *word* is a Python string of symbol characters (``"aabb"``). A *sequence* is
``SOS word EOS``, right-padded with ``PAD``. Symbols get ids from 3 upward in the
task's fixed order, so a task with symbols ``"ab"`` has ``a=3, b=4`` and V = 5.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

SOS: int = 0
EOS: int = 1
PAD: int = 2
NUM_SPECIAL: int = 3
SPECIAL_NAMES: dict[int, str] = {SOS: "<sos>", EOS: "<eos>", PAD: "<pad>"}


class TokenError(ValueError):
    """A token sequence that is not a well-formed sequence of the task."""


def encode(word: str, symbols: str) -> list[int]:
    """``"ab"`` with symbols ``"ab"`` -> ``[SOS, 3, 4, EOS]``."""
    ids = []
    for ch in word:
        idx = symbols.find(ch)
        if idx < 0:
            raise TokenError(f"symbol {ch!r} is not in this task's alphabet {symbols!r}")
        ids.append(NUM_SPECIAL + idx)
    return [SOS, *ids, EOS]


def symbols_to_word(ids: Iterable[int], symbols: str) -> str:
    """Symbol ids (no specials) -> word; raises TokenError on any special or unknown id."""
    chars = []
    for tok in ids:
        idx = int(tok) - NUM_SPECIAL
        if not 0 <= idx < len(symbols):
            raise TokenError(f"token id {int(tok)} is not a symbol id of alphabet {symbols!r}")
        chars.append(symbols[idx])
    return "".join(chars)


def decode(tokens: Sequence[int], symbols: str) -> str:
    """``[SOS, 3, 4, EOS, PAD, …]`` -> ``"ab"``; strict about the framing."""
    toks = [int(t) for t in tokens]
    if not toks or toks[0] != SOS:
        raise TokenError(f"a sequence must start with SOS={SOS}, got {toks[:1]}")
    try:
        end = toks.index(EOS)
    except ValueError as err:
        raise TokenError("a sequence must contain EOS") from err
    if any(t != PAD for t in toks[end + 1 :]):
        raise TokenError("only PAD may follow EOS")
    return symbols_to_word(toks[1:end], symbols)


def pad_rows(rows: Sequence[Sequence[int]], width: int | None = None) -> np.ndarray:
    """Right-pad ragged token rows with PAD into an int32 array ``[N, width]``."""
    width = max((len(r) for r in rows), default=0) if width is None else width
    out = np.full((len(rows), width), PAD, dtype=np.int32)
    for i, row in enumerate(rows):
        if len(row) > width:
            raise TokenError(f"row {i} has {len(row)} tokens, more than the width {width}")
        out[i, : len(row)] = row
    return out
