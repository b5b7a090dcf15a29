"""Per-prompt records (SPEC §4.3): every decode's rows, stored compactly in the result.

Every capability metric is an aggregate of per-row verdicts, and a result stores the
rows, so that every aggregate can be recomputed from the file
(:func:`rexbench.benchmark.metrics.aggregate`) and every verdict from the stored completion
(:func:`recompute_verdicts`). The leaderboard does both and refuses a file where either
differs.

Encoding (chosen so that a record is readable by eye and compresses well in git):

* a **completion** is the string of generated tokens, one character per token: a symbol
  as itself, ``$`` for EOS, ``^`` for SOS, ``_`` for PAD. A finished completion ends at
  its first EOS (so ``$`` is its last character); an unfinished one has all ``budget``
  (128) tokens and no ``$``. Example on ``anbn``: ``"bb$"`` (finished, two b's),
  ``"a^b$"`` (finished but malformed: an SOS before EOS), ``"abab…"`` (128 characters,
  unfinished).
* a **flag column** (``finished`` and every verdict) is a string of ``0``/``1``, one
  character per row, in row order.

Blocks (rows in split order unless stated; ``P`` = prompt length):

=====================  =====================================================================
``id_prompts``         ``completion``, ``finished``, ``in_language`` (whole word in the language)
``ood_prompts``        ``completion``, ``finished``, ``rules`` (one flag column per rule: the
                       whole word satisfies it)
``length_prompts``     ``completion``, ``finished``, ``in_language`` (in the doubled task)
``ood_stop_rule``      rows = the headline prompts, ``prompt_index`` into ``ood_prompts``;
                       ``completion`` (the symbols generated with EOS withheld, up to the
                       task's maximum word length), ``chosen_length`` (symbols of the chosen
                       prefix, ``P`` … max length), ``keep`` (the keep rule holds on it)
``sampled_ood``        ``prompt_index`` (one per sampled prompt; each has
                       ``samples_per_prompt`` consecutive rows), ``finished``, ``keep``
``generation``         ``finished``, ``in_language`` (samples from SOS)
=====================  =====================================================================

Sampled completions are not stored (thousands of rows of up to 128 tokens); their flags are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rexbench.benchmark.verdicts import in_language, keeps_rule
from rexbench.tasks import EOS, PAD, SOS, Task
from rexbench.tasks.vocab import NUM_SPECIAL

EOS_CHAR, SOS_CHAR, PAD_CHAR = "$", "^", "_"
GREEDY_BLOCKS: tuple[str, ...] = ("id_prompts", "ood_prompts", "length_prompts")
RECORD_BLOCKS: tuple[str, ...] = (*GREEDY_BLOCKS, "ood_stop_rule", "sampled_ood", "generation")


def token_table(symbols: str) -> dict[int, str]:
    return {SOS: SOS_CHAR, EOS: EOS_CHAR, PAD: PAD_CHAR, **{NUM_SPECIAL + i: ch for i, ch in enumerate(symbols)}}


def encode_completions(generated_NL: np.ndarray, finished_N: np.ndarray, symbols: str) -> list[str]:
    """Completion strings of decoder output (finished rows cut after their first EOS)."""
    table = token_table(symbols)
    out = []
    for row, fin in zip(np.asarray(generated_NL).tolist(), np.asarray(finished_N).tolist(), strict=True):
        if fin:
            row = row[: row.index(EOS) + 1]
        out.append("".join(table.get(int(t), "?") for t in row))
    return out


def encode_symbols(tokens: Sequence[int], symbols: str) -> str:
    """Symbol tokens as a string (the stop-rule completions contain symbols only)."""
    table = token_table(symbols)
    return "".join(table.get(int(t), "?") for t in tokens)


def flags(values: Sequence[bool] | np.ndarray) -> str:
    return "".join("1" if v else "0" for v in np.asarray(values, dtype=bool).tolist())


def unflag(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")


def is_finished(completion: str) -> bool:
    return completion.endswith(EOS_CHAR)


def completion_word(prompt: str, completion: str, symbols: str) -> str | None:
    """The whole word (prompt + symbols before EOS), or None if unfinished or malformed."""
    if not is_finished(completion):
        return None
    body = completion[:-1]
    if any(ch not in symbols for ch in body):
        return None  # SOS, PAD (or anything else) before EOS: malformed
    return prompt + body


def _language_column(task: Task, prompts: Sequence[str], completions: Sequence[str]) -> str:
    cache: dict[str, bool] = {}
    out = []
    for p, c in zip(prompts, completions, strict=True):
        word = completion_word(p, c, task.symbols)
        if word is not None and word not in cache:
            cache[word] = in_language(task, word)
        out.append(word is not None and cache[word])
    return flags(out)


def _rule_column(task: Task, rule: str, words: Sequence[str | None]) -> str:
    cache: dict[str, bool] = {}
    out = []
    for word in words:
        if word is not None and word not in cache:
            cache[word] = keeps_rule(task.rules[rule], word)
        out.append(word is not None and cache[word])
    return flags(out)


def greedy_block(task: Task, block: str, prompts: Sequence[str], completions: Sequence[str]) -> dict:
    """The record of one greedy prompt decode, verdicts computed from the completions."""
    rec: dict = {"completion": list(completions), "finished": flags([is_finished(c) for c in completions])}
    if block == "ood_prompts":
        words = [completion_word(p, c, task.symbols) for p, c in zip(prompts, completions, strict=True)]
        rec["rules"] = {r: _rule_column(task, r, words) for r in task.rules}
    else:
        target = task.resized(2 * task.size) if block == "length_prompts" else task
        rec["in_language"] = _language_column(target, prompts, completions)
    return rec


def stop_rule_block(task: Task, prompt_index: Sequence[int], prompts: Sequence[str], completions: Sequence[str],
                    chosen_length: Sequence[int]) -> dict:
    """The record of the EOS-withheld decode; ``keep`` from the chosen prefix of each row."""
    words = []
    for p, c, n in zip(prompts, completions, chosen_length, strict=True):
        body = c[: int(n) - len(p)]
        words.append(p + body if all(ch in task.symbols for ch in body) else None)
    return {
        "prompt_index": [int(i) for i in prompt_index],
        "completion": list(completions),
        "chosen_length": [int(n) for n in chosen_length],
        "keep": _rule_column(task, task.keep_rule, words),
    }


def recompute_verdicts(task: Task, records: dict, prompt_words: dict[str, Sequence[str]]) -> dict[str, dict]:
    """The verdict columns of every block with stored completions, recomputed from them.

    ``prompt_words`` maps each greedy block to its split's prompt strings. Returns
    ``{block: {column: flags}}`` in the layout of the stored records.
    """
    out: dict[str, dict] = {}
    for block in GREEDY_BLOCKS:
        fresh = greedy_block(task, block, prompt_words[block], records[block]["completion"])
        out[block] = {k: v for k, v in fresh.items() if k != "completion"}
    sr = records["ood_stop_rule"]
    ood = prompt_words["ood_prompts"]
    fresh = stop_rule_block(task, sr["prompt_index"], [ood[i] for i in sr["prompt_index"]], sr["completion"],
                            sr["chosen_length"])
    out["ood_stop_rule"] = {"keep": fresh["keep"]}
    return out
