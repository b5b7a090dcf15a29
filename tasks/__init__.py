"""The task library of rexbench: formal languages as intersections of named rules.

Public API::

    from rexbench.tasks import get_task, get_split, TASK_NAMES, SPLIT_NAMES
    task = get_task("anbn")                  # suite size; get_task("anbn", 16) for another N
    task.next_probs("aab")                   # exact p(. | prefix) over the vocabulary
    get_split(task, "ood_prompts").tokens()  # int32 [N, T], PAD-padded
"""

from rexbench.tasks.base import Rule, Task
from rexbench.tasks.registry import TASK_NAMES, TASKS, UnknownTaskError, get_task
from rexbench.tasks.splits import SPLIT_NAMES, SUITE_VERSION, Split, get_split, split_digests
from rexbench.tasks.vocab import EOS, PAD, SOS

__all__ = [
    "EOS", "PAD", "SOS", "SPLIT_NAMES", "SUITE_VERSION", "TASKS", "TASK_NAMES",
    "Rule", "Split", "Task", "UnknownTaskError", "get_split", "get_task", "split_digests",
]
