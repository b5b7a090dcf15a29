"""Time the generation of every split of every task (fresh process, no cache).

    python scripts/bench_splits.py
"""

from __future__ import annotations

import time

from rexbench.tasks import SPLIT_NAMES, TASK_NAMES, get_task
from rexbench.tasks.splits import build_split


def main() -> None:
    total = 0.0
    for name in TASK_NAMES:
        task = get_task(name)
        start = time.perf_counter()
        sizes = [len(build_split(task, split)) for split in SPLIT_NAMES]
        elapsed = time.perf_counter() - start
        total += elapsed
        print(f"{name:<8} {elapsed:6.2f} s  ({sum(sizes):,} rows in {len(SPLIT_NAMES)} splits)")
    print(f"{'total':<8} {total:6.2f} s")


if __name__ == "__main__":
    main()
