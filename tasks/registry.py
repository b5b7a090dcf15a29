"""Tasks by name. Adding a language = one module with a Task subclass + one line here."""

from __future__ import annotations

from rexbench.tasks.anbn import AnBn
from rexbench.tasks.anbncn import AnBnCn
from rexbench.tasks.ban import BAn
from rexbench.tasks.base import Task
from rexbench.tasks.bban import BBAn
from rexbench.tasks.csdyck import CsDyck
from rexbench.tasks.dyck import Dyck
from rexbench.tasks.icl import IclHeavy, IclRare, IclSingle

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (AnBn, AnBnCn, BAn, BBAn, Dyck, CsDyck, IclSingle, IclRare, IclHeavy)}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


class UnknownTaskError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def get_task(name: str, size: int | None = None) -> Task:
    """The task ``name`` at its suite size (or at ``size``)."""
    try:
        cls = TASKS[name]
    except KeyError:
        raise UnknownTaskError(f"unknown task {name!r}; valid tasks: {', '.join(TASK_NAMES)}") from None
    return cls(size)
