"""Runs every decode of SPEC §4 for one model on one task and records every row.

Decodes (buffer width :func:`rexbench.benchmark.decoding.decode_width`: one for the length prompts,
one shared by the other prompt decodes; the stop-rule decode has width max length + 1):

==============================  =================  =================================  ========================
metrics                         decoding           rows                               key purpose
==============================  =================  =================================  ========================
id_accuracy                     greedy             every ID prompt                    ``greedy/id_prompts``
ood_* (headline family, rules)  greedy             every OOD prompt                   ``greedy/ood_prompts``
ood_stop_rule                   greedy, EOS held   every headline prompt              ``greedy/stop_rule``
length_extrapolation            greedy             every length prompt                ``greedy/length_prompts``
sampled_ood_rule_extrapolation  T = 1              16 × the sampled subset (≤ 256)    ``sampled/ood_prompts``
generation_accuracy             T = 1              1,000 × SOS                        ``sampled/generation``
==============================  =================  =================================  ========================

Keys derive from the run seed (:func:`rexbench.benchmark.sampling.derive_key`). The output is the
result's ``records`` (:mod:`rexbench.benchmark.records`); the metrics are aggregated from them by
:func:`rexbench.benchmark.metrics.aggregate`, the same function the leaderboard recomputes with.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rexbench.benchmark import records as rec
from rexbench.benchmark.decoding import Completions, decode, decode_width, repeat_rows
from rexbench.benchmark.metrics import generation_count, prompt_sets
from rexbench.benchmark.protocol import ScorableModel
from rexbench.benchmark.records import encode_completions, encode_symbols
from rexbench.benchmark.sampling import derive_key
from rexbench.benchmark.stop_rule import decode_stop_rule
from rexbench.benchmark.subset import GENERATION_SAMPLES, SAMPLES_PER_PROMPT
from rexbench.benchmark.verdicts import in_language, keeps_rule, whole_word
from rexbench.tasks import SOS, Task, get_split

Progress = Callable[[str], None]


def greedy_split(model: ScorableModel, task: Task, split: str, seed: int, width: int | None = None,
                 limit: int | None = None) -> Completions:
    """Greedy completions of every prompt of a prompt split (of its first ``limit``)."""
    s = get_split(task, split)
    if width is None:
        width = decode_width(task, ("length_prompts",)) if split == "length_prompts" else decode_width(task)
    return decode(model, s.tokens()[:limit], s.lengths[:limit], key=derive_key(seed, f"greedy/{split}"), greedy=True,
                  width=width, desc=f"{task.name}: greedy {split}")


def sampled_ood(model: ScorableModel, task: Task, seed: int, width: int | None = None,
                limit: int | None = None) -> tuple[np.ndarray, Completions]:
    """(prompt index per row, completions): ``SAMPLES_PER_PROMPT`` samples of each subset prompt."""
    width = decode_width(task) if width is None else width
    s = get_split(task, "ood_prompts")
    idx = prompt_sets(task, limit).sampled_index
    prompts_NP, lengths_N = repeat_rows(s.tokens()[idx], s.lengths[idx], SAMPLES_PER_PROMPT)
    comps = decode(model, prompts_NP, lengths_N, key=derive_key(seed, "sampled/ood_prompts"), greedy=False, width=width,
                   desc=f"{task.name}: sampled OOD")
    return np.repeat(idx, SAMPLES_PER_PROMPT), comps


def generations(model: ScorableModel, seed: int, width: int, count: int = GENERATION_SAMPLES) -> Completions:
    """``count`` temperature-1 samples from SOS."""
    prompts_N1 = np.full((count, 1), SOS, dtype=np.int32)
    lengths_N = np.ones(count, dtype=np.int32)
    return decode(model, prompts_N1, lengths_N, key=derive_key(seed, "sampled/generation"), greedy=False, width=width,
                  desc="sampling from SOS")


def _sampled_flags(task: Task, prompts: list[str], comps: Completions, verdict: Callable[[str | None], bool]) -> tuple[str, str]:
    words = [whole_word(p, g, f, task.symbols) for p, g, f in
             zip(prompts, comps.generated_NL.tolist(), comps.finished_N.tolist(), strict=True)]
    cache: dict[str, bool] = {}
    out = []
    for w in words:
        if w is not None and w not in cache:
            cache[w] = verdict(w)
        out.append(w is not None and cache[w])
    return rec.flags(comps.finished_N), rec.flags(out)


def score_records(model: ScorableModel, task: Task, seed: int, progress: Progress | None = None,
                  limit: int | None = None) -> dict:
    """Every decode of ``model`` on ``task`` with the run ``seed``, as the result's ``records``
    (``limit``: a smoke test on the first ``limit`` prompts of each split, ``limit`` generations)."""
    say = progress or (lambda _msg: None)
    width = decode_width(task)
    out: dict = {}
    for block in rec.GREEDY_BLOCKS:
        words = get_split(task, block).words[:limit]
        say(f"{task.name}: greedy decoding of {block} ({len(words)} prompts)")
        comps = greedy_split(model, task, block, seed, None if block == "length_prompts" else width, limit)
        out[block] = rec.greedy_block(task, block, words, encode_completions(comps.generated_NL, comps.finished_N, task.symbols))

    say(f"{task.name}: EOS-withheld decoding of the headline prompts (ood_stop_rule)")
    ood = get_split(task, "ood_prompts")
    index = np.flatnonzero(prompt_sets(task, limit).headline)
    sr = decode_stop_rule(model, task, ood.tokens()[index], seed, row_ids_N=index)
    prompts = [ood.words[i] for i in index]
    out["ood_stop_rule"] = rec.stop_rule_block(
        task, index, prompts, [encode_symbols(row, task.symbols) for row in sr.symbols_NL.tolist()], sr.chosen_length_N,
    )

    say(f"{task.name}: sampled decoding of the OOD subset")
    rows_idx, sampled = sampled_ood(model, task, seed, width, limit)
    keep = task.rules[task.keep_rule]
    fin, keep_flags = _sampled_flags(task, [ood.words[i] for i in rows_idx], sampled, lambda w: keeps_rule(keep, w))
    out["sampled_ood"] = {"prompt_index": [int(i) for i in prompt_sets(task, limit).sampled_index], "finished": fin,
                          "keep": keep_flags}

    say(f"{task.name}: sampling from SOS (generation_accuracy)")
    gen = generations(model, seed, width, generation_count(limit))
    fin, lang = _sampled_flags(task, [""] * len(gen), gen, lambda w: in_language(task, w))
    out["generation"] = {"finished": fin, "in_language": lang}
    return out
