"""Shared fixtures. Tests run on CPU; keep JAX quiet and deterministic."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
