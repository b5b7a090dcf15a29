"""A readable text summary of one result: the loss block and the capability block with chance."""

from __future__ import annotations

from typing import Any

from rexbench.benchmark.metrics import CAPABILITY_KEYS
from rexbench.benchmark.results import LOSS_KEYS


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    cells = lambda r: "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return [cells(rows[0]).rstrip(), "  ".join("-" * w for w in widths), *(cells(r).rstrip() for r in rows[1:])]


def format_result(result: dict[str, Any]) -> str:
    """Two tables: losses (nats/token) and capabilities (value, chance ± s.e., successes/count)."""
    m, counts = result["metrics"], result["counts"]
    head = f"{result['task_config']['config']} · model {result['model']} · seed {result['seed']}"
    loss_rows = [["loss", "nats/token", "tokens"]]
    for key in LOSS_KEYS:
        loss_rows.append([key, f"{m[key]:.5f}", str(counts[key]["tokens"])])
    cap_rows = [["capability", "value", "chance", "± s.e.", "n"]]

    def add(label: str, value: Any, chance: Any, stderr: Any, count: dict[str, int]) -> None:
        cap_rows.append([label, _fmt(value), _fmt(chance), _fmt(stderr), f"{count['successes']}/{count['count']}"])

    for key in CAPABILITY_KEYS:
        if key == "ood_rules":
            for rule in m[key]:
                add(f"  ood_rules.{rule}", m[key][rule], result["chance"][key][rule],
                    result["chance_stderr"][key][rule], counts[key][rule])
        else:
            add(key, m[key], result["chance"][key], result["chance_stderr"][key], counts[key])
    return "\n".join([head, "", *_table(loss_rows, {1, 2}), "", *_table(cap_rows, {1, 2, 3, 4})])
