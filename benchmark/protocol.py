"""The model protocol: anything that maps int32 tokens ``[B, T]`` to logits ``[B, T, V]``.

Three kinds of submission are accepted and normalised by :func:`as_model`:

* a **Flax NNX module** ``module(tokens_BT) -> logits_BTV``; if it also has
  ``init_cache(batch_size, max_len)`` and ``decode_step(cache, tokens_B, position)``
  decoding feeds one token per step through them, otherwise it reruns the full forward
  pass at every step. The module is scored in eval mode (``nnx.view`` with
  ``deterministic=True, use_running_average=True``); the caller's module is not touched;
* a **pure JAX function** with its parameters, :class:`JaxFunction`
  ``(apply_fn(params, tokens_BT), params)``, optionally with
  ``init_cache_fn(params, batch_size, max_len)`` and
  ``decode_step_fn(params, cache, tokens_B, position) -> (logits_BV, cache)``;
* a **host callable** on numpy arrays ``f(tokens: int32[B, T]) -> float[B, T, V]``
  (PyTorch or anything else), optionally wrapped in :class:`HostFunction` to give it an
  incremental ``init_state_fn`` / ``step_fn`` pair (the reference oracles use this).

Both JAX kinds become a :class:`JaxModel`: a hashable, static :class:`JaxProgram` (the
functions) plus a ``params`` pytree, so every jitted harness function takes the program
as a static argument and compiles once per program and shape, never per call. Host kinds
become a :class:`HostModel`, driven from a host-side loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rexbench.benchmark.errors import ModelRefused

PyTree = Any
ApplyFn = Callable[[PyTree, jax.Array], jax.Array]
InitCacheFn = Callable[[PyTree, int, int], PyTree]
DecodeStepFn = Callable[[PyTree, PyTree, jax.Array, jax.Array], tuple[jax.Array, PyTree]]
HostFn = Callable[[np.ndarray], np.ndarray]
HostInitFn = Callable[[int], Any]
HostStepFn = Callable[[Any, np.ndarray, int], tuple[np.ndarray, Any]]


# --------------------------------------------------------------------------- submissions
@dataclass(frozen=True, eq=False)
class JaxFunction:
    """A pure JAX model: ``apply_fn(params, tokens_BT) -> logits_BTV``.

    ``init_cache_fn(params, batch_size, max_len) -> cache`` and
    ``decode_step_fn(params, cache, tokens_B, position) -> (logits_BV, cache)`` are
    optional (both or neither); ``position`` is the 0-based index of the fed token, an
    int32 scalar, and ``logits_BV`` must equal ``apply_fn(params, tokens)[:, position]``.
    ``parameters`` overrides the parameter count recorded in the manifest (default: the
    number of scalars in ``params``).
    """

    apply_fn: ApplyFn
    params: PyTree
    init_cache_fn: InitCacheFn | None = None
    decode_step_fn: DecodeStepFn | None = None
    parameters: int | None = None


@dataclass(frozen=True, eq=False)
class HostFunction:
    """A host (numpy) model ``fn(tokens int32[B, T]) -> float[B, T, V]``.

    Optional incremental decoding: ``init_state_fn(batch_size) -> state`` and
    ``step_fn(state, tokens_B, position) -> (logits_BV, state)`` where ``logits_BV``
    equals ``fn(tokens)[:, position]``. Without them, decoding calls ``fn`` on the
    prefix ``tokens[:, :position + 1]`` at every step.
    """

    fn: HostFn
    init_state_fn: HostInitFn | None = None
    step_fn: HostStepFn | None = None
    parameters: int | None = None


# --------------------------------------------------------------------------- programs
class JaxProgram(Protocol):
    """The static (hashable) functions of a JAX model; ``params`` are passed separately."""

    @property
    def has_cache(self) -> bool: ...

    def forward(self, params: PyTree, tokens_BT: jax.Array) -> jax.Array: ...

    def init_cache(self, params: PyTree, batch_size: int, max_len: int) -> PyTree: ...

    def decode_step(
        self, params: PyTree, cache: PyTree, tokens_B: jax.Array, position: jax.Array
    ) -> tuple[jax.Array, PyTree]: ...


@dataclass(frozen=True)
class FunctionProgram:
    """Program of a :class:`JaxFunction` (hashed by function identity)."""

    apply_fn: ApplyFn
    init_cache_fn: InitCacheFn | None = None
    decode_step_fn: DecodeStepFn | None = None

    @property
    def has_cache(self) -> bool:
        return self.init_cache_fn is not None and self.decode_step_fn is not None

    def forward(self, params: PyTree, tokens_BT: jax.Array) -> jax.Array:
        return self.apply_fn(params, tokens_BT)

    def init_cache(self, params: PyTree, batch_size: int, max_len: int) -> PyTree:
        assert self.init_cache_fn is not None
        return self.init_cache_fn(params, batch_size, max_len)

    def decode_step(
        self, params: PyTree, cache: PyTree, tokens_B: jax.Array, position: jax.Array
    ) -> tuple[jax.Array, PyTree]:
        assert self.decode_step_fn is not None
        return self.decode_step_fn(params, cache, tokens_B, position)


@dataclass(frozen=True)
class NnxProgram:
    """Program of a Flax NNX module: its ``GraphDef`` (hashable; equal architectures
    share compiled code). ``params`` is the module's full ``nnx.State``."""

    graphdef: nnx.GraphDef
    has_cache: bool

    def forward(self, params: PyTree, tokens_BT: jax.Array) -> jax.Array:
        return nnx.merge(self.graphdef, params)(tokens_BT)

    def init_cache(self, params: PyTree, batch_size: int, max_len: int) -> PyTree:
        return nnx.merge(self.graphdef, params).init_cache(batch_size, max_len)

    def decode_step(
        self, params: PyTree, cache: PyTree, tokens_B: jax.Array, position: jax.Array
    ) -> tuple[jax.Array, PyTree]:
        return nnx.merge(self.graphdef, params).decode_step(cache, tokens_B, position)


@partial(jax.jit, static_argnums=0)
def _jit_forward(program: JaxProgram, params: PyTree, tokens_BT: jax.Array) -> jax.Array:
    return program.forward(params, tokens_BT)


# --------------------------------------------------------------------------- scorable kinds
@dataclass(frozen=True, eq=False)
class JaxModel:
    """A model the harness runs inside ``jax.jit``: static program + parameter pytree."""

    program: JaxProgram
    params: PyTree
    vocab_size: int
    parameters: int | None
    kind: str = field(default="jax", init=False)

    def forward(self, tokens_BT: np.ndarray) -> np.ndarray:
        """Compiled full forward pass on host tokens; returns the raw output as numpy."""
        return np.asarray(_jit_forward(self.program, self.params, jnp.asarray(tokens_BT, jnp.int32)))


@dataclass(frozen=True, eq=False)
class HostModel:
    """A model the harness calls from Python on numpy arrays."""

    fn: HostFn
    vocab_size: int
    init_state_fn: HostInitFn | None = None
    step_fn: HostStepFn | None = None
    parameters: int | None = None
    kind: str = field(default="host", init=False)

    @property
    def has_step(self) -> bool:
        return self.init_state_fn is not None and self.step_fn is not None

    def forward(self, tokens_BT: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(np.ascontiguousarray(tokens_BT, dtype=np.int32)))

    def init_state(self, batch_size: int) -> Any:
        """Incremental state for ``batch_size`` rows (the token history by default)."""
        if self.init_state_fn is not None and self.step_fn is not None:
            return self.init_state_fn(batch_size)
        return np.zeros((batch_size, 0), dtype=np.int32)

    def step(self, state: Any, tokens_B: np.ndarray, position: int) -> tuple[np.ndarray, Any]:
        """Feeds the token at ``position``; returns (logits_BV, new state)."""
        tokens_B = np.ascontiguousarray(tokens_B, dtype=np.int32)
        if self.init_state_fn is not None and self.step_fn is not None:
            logits_BV, state = self.step_fn(state, tokens_B, position)
            return np.asarray(logits_BV), state
        history_BT = np.concatenate([state, tokens_B[:, None]], axis=1)
        return self.forward(history_BT)[:, position], history_BT


ScorableModel = JaxModel | HostModel


def count_leaves(tree: PyTree) -> int:
    """Number of scalars in the array leaves of a pytree."""
    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(tree)))


def from_nnx(module: nnx.Module, vocab_size: int) -> JaxModel:
    """Adapter for a Flax NNX module (scored in eval mode, parameters = its ``nnx.Param``s)."""
    view = nnx.view(module, deterministic=True, use_running_average=True, raise_if_not_found=False)
    graphdef, state = nnx.split(view)
    has_cache = callable(getattr(module, "init_cache", None)) and callable(getattr(module, "decode_step", None))
    parameters = count_leaves(nnx.state(module, nnx.Param))
    return JaxModel(NnxProgram(graphdef, has_cache), state, vocab_size, parameters)


def from_jax_function(fn: JaxFunction, vocab_size: int) -> JaxModel:
    """Adapter for a :class:`JaxFunction`."""
    if (fn.init_cache_fn is None) != (fn.decode_step_fn is None):
        raise ModelRefused("JaxFunction needs both init_cache_fn and decode_step_fn, or neither")
    program = FunctionProgram(fn.apply_fn, fn.init_cache_fn, fn.decode_step_fn)
    parameters = count_leaves(fn.params) if fn.parameters is None else fn.parameters
    return JaxModel(program, fn.params, vocab_size, parameters)


def as_model(obj: Any, vocab_size: int) -> ScorableModel:
    """Normalises a submission into a :class:`JaxModel` or :class:`HostModel`.

    Dispatch: an already-adapted model is returned as is; an ``nnx.Module`` →
    :func:`from_nnx`; a :class:`JaxFunction` → :func:`from_jax_function`; a
    :class:`HostFunction` or any other callable → :class:`HostModel` (a plain callable is
    treated as a numpy function). Anything else is refused.
    """
    if isinstance(obj, (JaxModel, HostModel)):
        return obj
    if isinstance(obj, nnx.Module):
        return from_nnx(obj, vocab_size)
    if isinstance(obj, JaxFunction):
        return from_jax_function(obj, vocab_size)
    if isinstance(obj, HostFunction):
        if (obj.init_state_fn is None) != (obj.step_fn is None):
            raise ModelRefused("HostFunction needs both init_state_fn and step_fn, or neither")
        return HostModel(obj.fn, vocab_size, obj.init_state_fn, obj.step_fn, obj.parameters)
    if callable(obj):
        return HostModel(obj, vocab_size)
    raise ModelRefused(
        f"cannot score an object of type {type(obj).__name__}: expected a flax.nnx.Module, "
        "a rexbench.benchmark.protocol.JaxFunction, a rexbench.benchmark.protocol.HostFunction or a numpy callable"
    )
