"""The cheap capability metrics: the headline family alone, for use inside a run.

A full score (:func:`rexbench.benchmark.score.score_model`) decodes every prompt split,
samples, and computes the exact loss. Fine-tuning curves and capability-over-training
curves need only the headline family (SPEC §4.2), so this module runs just the two
decodes it is made of, with the same keys, prompt sets and verdicts as a full score:

* one greedy decode of the OOD prompts (key ``greedy/ood_prompts``): ``ood_finished``,
  ``ood_rule_given_finished`` and ``ood_rule_extrapolation`` (the headline);
* one EOS-withheld decode of the headline prompts (``ood_stop_rule``).

So for the same model and seed the values equal the full score's exactly (a test holds
them to it). Example::

    headline_metrics(model, get_task("anbn"))["ood_rule_extrapolation"].value   # e.g. 0.11
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rexbench.benchmark import records as rec
from rexbench.benchmark.capabilities import greedy_split
from rexbench.benchmark.metrics import Ratio, headline_family, prompt_sets
from rexbench.benchmark.protocol import as_model
from rexbench.benchmark.records import encode_completions, encode_symbols, unflag
from rexbench.benchmark.stop_rule import decode_stop_rule
from rexbench.tasks import Task, get_split


def headline_metrics(model: Any, task: Task, seed: int = 0) -> dict[str, Ratio]:
    """``ood_rule_extrapolation``, ``ood_finished``, ``ood_rule_given_finished`` and
    ``ood_stop_rule`` of ``model`` (anything :func:`~rexbench.benchmark.protocol.as_model`
    accepts) on ``task``, with the run ``seed``."""
    scorable = as_model(model, task.vocab_size)
    ood = get_split(task, "ood_prompts")
    comps = greedy_split(scorable, task, "ood_prompts", seed)
    block = rec.greedy_block(task, "ood_prompts", ood.words,
                             encode_completions(comps.generated_NL, comps.finished_N, task.symbols))
    index = np.flatnonzero(prompt_sets(task).headline)
    sr = decode_stop_rule(scorable, task, ood.tokens()[index], seed, row_ids_N=index)
    stop = rec.stop_rule_block(task, index, [ood.words[i] for i in index],
                               [encode_symbols(row, task.symbols) for row in sr.symbols_NL.tolist()],
                               sr.chosen_length_N)
    return headline_family(unflag(block["finished"])[index], unflag(block["rules"][task.keep_rule])[index],
                           unflag(stop["keep"]))
