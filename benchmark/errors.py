"""Exceptions of the scoring harness, in one place so every module can raise them."""

from __future__ import annotations


class ModelRefused(ValueError):
    """A submitted model fails a SPEC §5 check; nothing is scored or written.

    ``reason`` is the human-readable explanation printed by ``rexbench score``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResultError(ValueError):
    """A result file that does not validate, or does not match the running harness."""


class ModelLoadError(ValueError):
    """A model spec that names something that cannot be loaded (e.g. a broken checkpoint
    directory); ``rexbench score`` prints it as one line and exits 2."""
