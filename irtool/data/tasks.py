"""Task mixtures for all-in-one and detector training, and the degradation-type labels the GIV head learns.

A mixture maps restoration task names (the single tasks of :mod:`irtool.degradations`: ``denoise``, ``jpeg``,
``deblur``, ``derain``, ``dehaze``, ``lowlight``, ``sr2``/``sr3``/``sr4``) plus the pseudo-task ``clean`` (input =
target, so the degradation head also sees undegraded photos) to non-negative ratios. HAIR (sec. 4) trains its
all-in-one model on an equal mixture of tasks; the ratios here let a recipe change that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from irtool.degradations import CLEAN, MIXTURE_TASKS, TASKS, detector_types, task_scale
from irtool.errors import UsageError

__all__ = [
    "CLEAN_TASK",
    "KNOWN_TASKS",
    "UNKNOWN_KIND",
    "TaskMixture",
    "kind_index",
    "parse_task_mix",
    "task_kind",
    "task_scale",
]

#: Pseudo-task: the input is the clean image itself (label "clean", severity 0).
CLEAN_TASK = CLEAN
KNOWN_TASKS: tuple[str, ...] = MIXTURE_TASKS
#: ``kind`` of an item whose degradation is not known (paired folders without a task).
UNKNOWN_KIND = -1


def task_kind(task: str) -> str:
    """The degradation type (a detector label) a task's inputs carry."""
    if task == CLEAN_TASK:
        return CLEAN
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}; choose from {', '.join(KNOWN_TASKS)}")
    return TASKS[task].degradation


def kind_index(kind: str, types: Sequence[str] | None = None) -> int:
    """Index of a degradation type in ``types`` (default: the labels a detector trained now learns)."""
    labels = tuple(types) if types is not None else detector_types()
    try:
        return labels.index(kind)
    except ValueError:
        raise UsageError(f"unknown degradation type {kind!r}; expected one of {labels}") from None


class TaskMixture:
    """Normalised task -> probability table with a deterministic draw from a numpy Generator."""

    def __init__(self, *, ratios: Mapping[str, float]) -> None:
        if not ratios:
            raise UsageError("the task mixture is empty")
        cleaned: dict[str, float] = {}
        for task, ratio in ratios.items():
            task_kind(task)  # validates the name
            value = float(ratio)
            if not math.isfinite(value) or value < 0:
                raise UsageError(f"task ratio for {task!r} must be a finite number >= 0, got {ratio!r}")
            if value > 0:
                cleaned[task] = value
        total = sum(cleaned.values())
        if total <= 0:
            raise UsageError("every task ratio in the mixture is 0")
        self.tasks: tuple[str, ...] = tuple(cleaned)
        self.probabilities: Mapping[str, float] = MappingProxyType({t: r / total for t, r in cleaned.items()})
        self._cumulative = np.cumsum([self.probabilities[t] for t in self.tasks])

    def draw(self, rng: np.random.Generator) -> str:
        """One task, chosen with the mixture's probabilities (consumes exactly one uniform draw)."""
        position = int(np.searchsorted(self._cumulative, rng.random() * self._cumulative[-1], side="right"))
        return self.tasks[min(position, len(self.tasks) - 1)]

    @property
    def sr_scales(self) -> tuple[int, ...]:
        """The distinct super-resolution factors in the mixture (empty if none)."""
        return tuple(sorted({task_scale(t) for t in self.tasks} - {1}))

    def __repr__(self) -> str:
        body = ", ".join(f"{t}={p:.3g}" for t, p in self.probabilities.items())
        return f"TaskMixture({body})"


def parse_task_mix(task_mix: Mapping[str, float] | str) -> TaskMixture:
    """A mapping, a single task name (``"denoise"``) or ``"denoise:1,jpeg:0.5"`` (``=`` works too)."""
    if isinstance(task_mix, str):
        text = task_mix.strip()
        if not text:
            raise UsageError("the task mixture is empty")
        ratios: dict[str, float] = {}
        for part in text.split(","):
            name, sep, value = part.replace("=", ":").partition(":")
            name = name.strip()
            if name in ratios:
                raise UsageError(f"task {name!r} appears twice in {task_mix!r}")
            try:
                ratios[name] = float(value) if sep else 1.0
            except ValueError:
                raise UsageError(f"bad ratio {value.strip()!r} for task {name!r} in {task_mix!r}") from None
        return TaskMixture(ratios=ratios)
    return TaskMixture(ratios=task_mix)
