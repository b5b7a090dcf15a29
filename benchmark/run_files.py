"""What a scoring run writes next to its per-task result files.

* ``run__{model}__seed{seed}.json`` (always): one summary of the run, as
  lm-evaluation-harness users expect: the command, versions, limit, and for every task
  its result file and headline numbers. It repeats numbers of the result files and is
  never read by the leaderboard (``run`` is not a task name, so it cannot be mistaken
  for a result; the leaderboard skips ``run__*.json``).
* ``{task}__{model}__seed{seed}.samples.jsonl`` (``--log-samples``): one JSON object per
  decoded row, flattened from the result's records (the records stay the reference), e.g.
  ``{"block": "ood_prompts", "row": 3, "prompt": "aaaab", "completion": "bbb$",
  "finished": true, "rules": {"R1": true, "R2": false}}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rexbench.benchmark.fileio import atomic_write_bytes, atomic_write_json
from rexbench.benchmark.manifest import utc_now
from rexbench.benchmark.records import GREEDY_BLOCKS
from rexbench.benchmark.results import result_filename, sanitize_model_name
from rexbench.benchmark.subset import SAMPLES_PER_PROMPT
from rexbench.tasks import get_split, get_task

RUN_PREFIX = "run__"
SUMMARY_KEYS = ("test_loss", "excess_loss", "val_loss", "ood_rule_extrapolation", "ood_finished",
                "ood_rule_given_finished", "ood_stop_rule", "length_extrapolation")


def run_filename(model: str, seed: int) -> str:
    return f"{RUN_PREFIX}{sanitize_model_name(model)}__seed{seed}.json"


def samples_filename(task: str, model: str, seed: int) -> str:
    return result_filename(task, model, seed).removesuffix(".json") + ".samples.jsonl"


def _flag(col: str, i: int) -> bool:
    return col[i] == "1"


def sample_rows(result: dict) -> Iterator[dict[str, Any]]:
    """Every decoded row of ``result``'s records, one dict each, in block and row order."""
    task = get_task(result["task"], result["task_config"]["size"])
    limit = result.get("limit")
    records = result["records"]
    for block in GREEDY_BLOCKS:
        rec, words = records[block], get_split(task, block).words[:limit]
        for i, (prompt, completion) in enumerate(zip(words, rec["completion"], strict=True)):
            row: dict[str, Any] = {"block": block, "row": i, "prompt": prompt, "completion": completion,
                                   "finished": _flag(rec["finished"], i)}
            if block == "ood_prompts":
                row["rules"] = {r: _flag(col, i) for r, col in rec["rules"].items()}
            else:
                row["in_language"] = _flag(rec["in_language"], i)
            yield row
    ood = get_split(task, "ood_prompts").words
    sr = records["ood_stop_rule"]
    for i, (j, completion, n) in enumerate(zip(sr["prompt_index"], sr["completion"], sr["chosen_length"], strict=True)):
        yield {"block": "ood_stop_rule", "row": i, "prompt_index": j, "prompt": ood[j], "completion": completion,
               "chosen_length": n, "keep": _flag(sr["keep"], i)}
    so = records["sampled_ood"]
    for i in range(len(so["finished"])):
        j = so["prompt_index"][i // SAMPLES_PER_PROMPT]
        yield {"block": "sampled_ood", "row": i, "prompt_index": j, "sample": i % SAMPLES_PER_PROMPT,
               "prompt": ood[j], "finished": _flag(so["finished"], i), "keep": _flag(so["keep"], i)}
    gen = records["generation"]
    for i in range(len(gen["finished"])):
        yield {"block": "generation", "row": i, "finished": _flag(gen["finished"], i),
               "in_language": _flag(gen["in_language"], i)}


def write_samples(result: dict, out_dir: Path) -> Path:
    path = Path(out_dir) / samples_filename(result["task"], result["model"], result["seed"])
    text = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in sample_rows(result))
    atomic_write_bytes(path, text.encode())
    return path


def write_run_summary(results: Sequence[dict], out_dir: Path, command: Sequence[str] | None = None) -> Path:
    """The run's summary file (see the module docstring); ``results`` share model and seed."""
    first = results[0]
    summary = {
        "benchmark": "rexbench",
        "kind": "run summary (not a result: the per-task files are)",
        "suite_version": first["suite_version"],
        "harness_version": first["harness_version"],
        "model": first["model"],
        "seed": first["seed"],
        "limit": first.get("limit"),
        "command": list(sys.argv if command is None else command),
        "created": utc_now(),
        "tasks": {
            r["task"]: {"file": result_filename(r["task"], r["model"], r["seed"]),
                        "metrics": {k: r["metrics"][k] for k in SUMMARY_KEYS}}
            for r in results
        },
    }
    path = Path(out_dir) / run_filename(first["model"], first["seed"])
    atomic_write_json(path, summary)
    return path
