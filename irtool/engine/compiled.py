"""Opt-in graph compilation of a network's forward pass (``torch.compile``), with the eager module as fallback.

Inductor fuses the elementwise work between matmuls and convolutions (LayerNorm, gated activations, residual
adds, softmax). On this project's 2-core CPU, full-size Res-HAIR at 512 px ran in 0.39-0.41x the official
implementation's time compiled against 0.67-0.74x eager, at 256 px in 0.57-0.80x against 0.64-1.00x, at equal
output (``python scripts/bench_models.py --official DIR --sizes 256 512 --compile [--retain-host-memory]``, README
"Speed and memory"). The price is the first call for each tile shape: 3.5-9 minutes on that CPU (a C++ compiler
builds the kernels; they are cached on disk, and a later process compiled the same graphs in 18-45 s). The lite
Hi-IR U-shape gains less: 0.79x per 384 px tile on an AVX2 CPU, which on one 12 MP photo the 10-15 s of tracing and
cache loading use up (``scripts/bench_restore.py --end-to-end --compile``). So it is an option for long batches,
not the default, and the eager module stays the reference the tests compare against.

Compilation fails where no compiler is installed (no C++ compiler on a CPU machine, no Triton for CUDA) or on an
operator Inductor cannot lower; the forward then falls back to the eager module for good and records why.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["CompiledForward"]


def _compile_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "this graph could not be compiled" (not: the network failed on this input)."""
    errors: list[type[BaseException]] = []
    try:
        from torch._dynamo.exc import BackendCompilerFailed

        errors.append(BackendCompilerFailed)
    except ImportError:  # pragma: no cover - private module moved in some torch release
        pass
    try:
        from torch._inductor.exc import InductorError

        errors.append(InductorError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors) or (RuntimeError,)


class CompiledForward:
    """Calls ``torch.compile(model)``; after a compile failure calls ``model`` itself (:attr:`failure` says why).

    ``dynamic=False``: every tile of an image has the same shape, so each image size compiles one static graph
    (the fastest kernels) and later tiles and same-size images reuse it. ``backend`` is ``torch.compile``'s.
    """

    def __init__(self, model: nn.Module, *, backend: Any = "inductor") -> None:
        self.eager = model
        self._compiled = torch.compile(model, dynamic=False, backend=backend)
        #: Why compilation failed (the error's first line), or None while the compiled graph is in use.
        self.failure: str | None = None

    @property
    def active(self) -> bool:
        """Whether calls still go through the compiled graph."""
        return self.failure is None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.failure is None:
            try:
                return self._compiled(*args, **kwargs)
            except _compile_errors() as error:
                # Dynamo wraps the backend's error ("backend='inductor' raised:"): report the cause itself.
                cause = getattr(error, "inner_exception", None) or error.__cause__ or error
                lines = str(cause).strip().splitlines()
                self.failure = f"{type(cause).__name__}: {lines[0] if lines else 'compilation failed'}"[:300]
        return self.eager(*args, **kwargs)
