"""The registry of degradations and restoration tasks: every list of them in irtool is derived from here.

One :class:`Degradation` entry per kind of damage a photo can carry (its name is also the detector's label for it)
holds everything the rest of the tool needs to know about it:

* the restoration tasks that remove it (:class:`Task`, with the SR factor for ``low-resolution``), and how much
  weight each task has in the default all-in-one and detector training mixtures;
* its generators (:class:`Generator`): the functions in :mod:`irtool.degrade.generators` that synthesise it, each
  with its severity -> parameters map (:class:`Ramp`: severity 0 is the lightest visible damage, 1 the heaviest).

Adding a degradation is one entry here, its generator function(s) in ``irtool/degrade/generators.py`` and tests;
task lists, CLI choices, training mixtures, detector labels and evaluation loops pick it up. A trained detector
stores the labels it was trained with in its weights, so a new entry never shifts a shipped detector's labels.

This module imports nothing but the standard library and :mod:`irtool.errors` (the cheapest modules and data
loader workers read it); generator functions are named by their import path and resolved on first use.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from irtool.errors import InvalidArgumentError

__all__ = [
    "ALL_IN_ONE",
    "CLEAN",
    "DEGRADATIONS",
    "DETECT",
    "LEGACY_DETECTOR_TYPES",
    "MIXTURE_TASKS",
    "RESTORE_TASKS",
    "SINGLE_TASKS",
    "SYNTHESES",
    "TASKS",
    "Degradation",
    "Generator",
    "Ramp",
    "Task",
    "all_in_one_mixture",
    "degradation_names",
    "detect_mixture",
    "detector_types",
    "get_degradation",
    "get_task",
    "task_scale",
]

#: Generator pools: the original generators only, every registered one, or only those outside the original draw
#: ("unseen": what the networks trained on the default draw never saw, a stand-in for other people's generators
#: when a detector's confidence is calibrated; see :attr:`Generator.default`).
SYNTHESES: tuple[str, ...] = ("default", "wide", "unseen")
#: The label of an undamaged photo (the detector's first class; a pseudo-task whose input is its target).
CLEAN = "clean"
#: The pseudo-task of an all-in-one model: every task of :data:`ALL_IN_ONE_TASKS` at once.
ALL_IN_ONE = "all"
#: The training task of the degradation detector.
DETECT = "detect"
#: What the first shipped detector (``giv_detector_lite``) predicts, in its output order; a detector file that does
#: not list its types was trained with these.
LEGACY_DETECTOR_TYPES: tuple[str, ...] = (
    "clean", "noise", "jpeg", "blur", "low-resolution", "rain", "haze", "low-light")


@dataclass(frozen=True, kw_only=True)
class Ramp:
    """A parameter that moves linearly with severity: ``at_0`` at severity 0, ``at_1`` at severity 1.

    ``integer`` parameters are rounded (Python's ``round``) after the interpolation.
    """

    name: str
    at_0: float
    at_1: float
    integer: bool = False

    def at(self, severity: float) -> float | int:
        value = self.at_0 + (self.at_1 - self.at_0) * severity
        return round(value) if self.integer else value

    def severity_of(self, value: float) -> float:
        """The severity whose value this is, clamped to [0, 1]."""
        return min(max((value - self.at_0) / (self.at_1 - self.at_0), 0.0), 1.0)


GeneratorFunction = Callable[..., Any]


@dataclass(frozen=True, kw_only=True)
class Generator:
    """One way to synthesise a degradation.

    ``function`` is ``"module:name"`` of a callable ``(img, params, *, rng, options) -> (image, drawn)``: ``params``
    are the ramps' values at the chosen severity, ``options`` a :class:`irtool.degrade.DegradeOptions`, ``drawn``
    the parameters it drew at random (recorded with the others). ``weight`` is its share when an entry has several.
    """

    name: str
    function: str
    ramps: tuple[Ramp, ...] = ()
    weight: float = 1.0
    #: In the default draw. Generators added later join only the ``"wide"`` draw, so a seed keeps making the
    #: images (and the measured figures) it made before they existed.
    default: bool = True
    #: Returns the input's size, enlarged back as a low-resolution photo is seen (not the smaller image
    #: super-resolution trains on): drawn only when the caller asks for same-size output (``degrade(...,
    #: same_size=True)``).
    enlarges: bool = False
    description: str = ""

    def parameters(self, severity: float) -> dict[str, float | int]:
        return {ramp.name: ramp.at(severity) for ramp in self.ramps}

    def ramp(self, name: str) -> Ramp:
        for ramp in self.ramps:
            if ramp.name == name:
                return ramp
        raise KeyError(f"generator {self.name!r} has no parameter {name!r}")

    def resolve(self) -> GeneratorFunction:
        return _resolve(self.function)


@dataclass(frozen=True, kw_only=True)
class Task:
    """A restoration task: what ``restore --task``, ``train --task`` and ``eval --task`` accept."""

    name: str
    degradation: str
    #: Output / input size ratio (super-resolution factor); 1 for same-size tasks.
    scale: int = 1
    #: Share in the default all-in-one training mixture (0: not in it).
    all_in_one_weight: float = 0.0
    #: Share in the default detector training mixture (0: not in it).
    detect_weight: float = 1.0
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Degradation:
    """One kind of damage: its name (the detector's label), what removes it and how it is synthesised."""

    name: str
    label: str
    tasks: tuple[Task, ...]
    generators: tuple[Generator, ...]
    description: str = ""
    #: The parameter a caller may fix instead of giving a severity (``degrade(..., scale=3)``); the recorded
    #: severity is then that parameter's severity.
    fixable: str | None = None

    def __post_init__(self) -> None:
        if not any(g.default and not g.enlarges for g in self.generators):
            raise ValueError(f"degradation {self.name!r} has no default generator")
        for task in self.tasks:
            if task.degradation != self.name:
                raise ValueError(f"task {task.name!r} is listed under {self.name!r} but names {task.degradation!r}")

    def generator(self, name: str) -> Generator:
        for generator in self.generators:
            if generator.name == name:
                return generator
        raise InvalidArgumentError(f"{self.name} has no generator {name!r}; its generators: "
                         f"{', '.join(g.name for g in self.generators)}")

    def pool(self, synthesis: str, *, same_size: bool = False) -> tuple[Generator, ...]:
        """The generators a draw chooses from: ``"default"`` (the original ones), ``"wide"`` (every one) or
        ``"unseen"`` (every one but the original ones); those that return an enlarged image
        (:attr:`Generator.enlarges`) only for ``same_size`` draws."""
        if synthesis not in SYNTHESES:
            raise InvalidArgumentError(f"synthesis must be one of {', '.join(SYNTHESES)}, not {synthesis!r}")
        wanted = {"default": (True,), "wide": (True, False), "unseen": (False,)}[synthesis]
        pool = tuple(g for g in self.generators if g.default in wanted and (same_size or not g.enlarges))
        if not pool:
            raise InvalidArgumentError(f"{self.name} has no generator in the {synthesis!r} pool"
                                       f"{'' if same_size else ' that returns the smaller image'}")
        return pool

    def choose_generator(self, uniform: float, *, synthesis: str = "default", same_size: bool = False) -> Generator:
        """The generator a uniform draw in [0, 1) picks from the pool, by weight (callers draw only when the pool
        has several)."""
        pool = self.pool(synthesis, same_size=same_size)
        total = sum(g.weight for g in pool)
        edge = 0.0
        for generator in pool:
            edge += generator.weight / total
            if uniform < edge:
                return generator
        return pool[-1]


_ENTRIES: tuple[Degradation, ...] = (
    Degradation(
        name="noise",
        label="noise",
        description="sensor noise",
        tasks=(Task(name="denoise", degradation="noise", all_in_one_weight=1.0, description="remove noise"),),
        generators=(
            Generator(name="gaussian", function="irtool.degrade.generators:gaussian_noise",
                      ramps=(Ramp(name="sigma", at_0=5.0, at_1=50.0),),
                      description="white Gaussian noise, sigma on the 0-255 scale"),
            Generator(name="poisson-gaussian", function="irtool.degrade.generators:poisson_gaussian_noise",
                      ramps=(Ramp(name="shot", at_0=0.0005, at_1=0.02), Ramp(name="read_sigma", at_0=1.0, at_1=10.0)),
                      default=False, description="signal-dependent shot noise plus read noise, as a sensor makes"),
            Generator(name="chroma", function="irtool.degrade.generators:chroma_noise",
                      ramps=(Ramp(name="luma_sigma", at_0=2.0, at_1=15.0),
                             Ramp(name="chroma_sigma", at_0=6.0, at_1=45.0)),
                      default=False, description="luma grain plus stronger, blotchy colour noise (phones)"),
            Generator(name="correlated", function="irtool.degrade.generators:correlated_noise",
                      ramps=(Ramp(name="sigma", at_0=5.0, at_1=40.0),),
                      default=False, description="grain smeared over 0.5-1.5 px by a camera's demosaicing"),
            Generator(name="gaussian-then-jpeg", function="irtool.degrade.generators:gaussian_noise_then_jpeg",
                      ramps=(Ramp(name="sigma", at_0=5.0, at_1=50.0),),
                      default=False, description="Gaussian noise, then saved as JPEG at quality 70-95 (a web upload)"),
        ),
    ),
    Degradation(
        name="jpeg",
        label="JPEG artefacts",
        description="blocking and ringing of lossy JPEG compression",
        tasks=(Task(name="jpeg", degradation="jpeg", all_in_one_weight=1.0, description="remove JPEG artefacts"),),
        generators=(
            Generator(name="pillow-420", function="irtool.degrade.generators:jpeg_420",
                      ramps=(Ramp(name="quality", at_0=60.0, at_1=10.0, integer=True),),
                      description="Pillow's libjpeg, 4:2:0 chroma subsampling"),
            Generator(name="pillow-444", function="irtool.degrade.generators:jpeg_444",
                      ramps=(Ramp(name="quality", at_0=60.0, at_1=10.0, integer=True),),
                      default=False, description="Pillow's libjpeg without chroma subsampling (4:4:4)"),
            Generator(name="double", function="irtool.degrade.generators:double_jpeg",
                      ramps=(Ramp(name="quality", at_0=60.0, at_1=10.0, integer=True),),
                      default=False, description="a better JPEG recompressed at the severity's quality"),
        ),
    ),
    Degradation(
        name="blur",
        label="blur",
        description="blurred photos (defocus, camera shake)",
        tasks=(Task(name="deblur", degradation="blur", all_in_one_weight=1.0, detect_weight=1.5,
                    description="remove blur"),),
        generators=(
            Generator(name="gaussian", function="irtool.degrade.generators:gaussian_blur",
                      ramps=(Ramp(name="sigma", at_0=0.5, at_1=4.0),),
                      description="isotropic Gaussian blur, sigma in pixels"),
            Generator(name="motion", function="irtool.degrade.generators:linear_motion_blur",
                      ramps=(Ramp(name="length", at_0=3.0, at_1=25.0),),
                      description="straight-line motion blur at a random angle, length in pixels"),
            Generator(name="defocus", function="irtool.degrade.generators:defocus_blur",
                      ramps=(Ramp(name="radius", at_0=1.0, at_1=8.0),),
                      default=False, description="out-of-focus disk, radius in pixels"),
            Generator(name="shake", function="irtool.degrade.generators:shake_blur",
                      ramps=(Ramp(name="length", at_0=3.0, at_1=25.0),),
                      default=False, description="random camera-shake trajectory with inertia, extent in pixels"),
        ),
    ),
    Degradation(
        name="low-resolution",
        label="low resolution",
        description="a photo enlarged from a smaller original, or one to enlarge",
        tasks=tuple(Task(name=f"sr{s}", degradation="low-resolution", scale=s, detect_weight=0.4,
                         description=f"super-resolve x{s}") for s in (2, 3, 4)),
        generators=(
            Generator(name="matlab-bicubic", function="irtool.degrade.generators:bicubic_downscale",
                      ramps=(Ramp(name="scale", at_0=2.0, at_1=4.0, integer=True),),
                      description="MATLAB-bicubic downscale by an integer factor, rounded to 8 bit"),
            Generator(name="resampled", function="irtool.degrade.generators:resampled_enlargement",
                      ramps=(Ramp(name="scale", at_0=2.0, at_1=4.0),), default=False, enlarges=True,
                      description="shrunk and enlarged back by bilinear/bicubic/Lanczos/area kernels, integer or "
                                  "non-integer factors, sometimes then JPEG (same size as the input)"),
            Generator(name="shrunk", function="irtool.degrade.generators:shrunk_downscale",
                      ramps=(Ramp(name="scale", at_0=2.0, at_1=4.0, integer=True),), default=False,
                      description="shrunk by an integer factor with Pillow's area, bilinear, bicubic or Lanczos "
                                  "kernel, rounded to 8 bit (a photo tool's small image)"),
            Generator(name="interpolated", function="irtool.degrade.generators:interpolated_enlargement",
                      ramps=(Ramp(name="scale", at_0=2.0, at_1=4.0),), default=False, enlarges=True,
                      description="as resampled, enlarged back by any kernel the enlargement search knows (MATLAB/"
                                  "Pillow and OpenCV bicubic, bilinear, Lanczos 3 and 4; same size as the input)"),
        ),
        fixable="scale",
    ),
    Degradation(
        name="rain",
        label="rain",
        description="rain streaks",
        tasks=(Task(name="derain", degradation="rain", all_in_one_weight=1.0, description="remove rain streaks"),),
        generators=(
            Generator(name="streaks", function="irtool.degrade.generators:rain_streaks",
                      ramps=(Ramp(name="density", at_0=0.002, at_1=0.02), Ramp(name="length", at_0=10.0, at_1=30.0)),
                      description="slanted streaks screen-blended onto the photo"),
            Generator(name="drawn", function="irtool.degrade.generators:drawn_rain",
                      ramps=(Ramp(name="density", at_0=0.0004, at_1=0.003), Ramp(name="opacity", at_0=0.35,
                                                                                   at_1=0.8)),
                      default=False, description="semi-opaque grey drops over a dimmer, softer scene"),
        ),
    ),
    Degradation(
        name="haze",
        label="haze",
        description="haze or fog veiling the far part of a scene",
        tasks=(Task(name="dehaze", degradation="haze", all_in_one_weight=1.0, description="remove haze"),),
        generators=(
            Generator(name="depth", function="irtool.degrade.generators:depth_haze",
                      ramps=(Ramp(name="beta", at_0=0.3, at_1=3.0),),
                      description="atmospheric scattering over a far-at-the-top depth proxy, gray airlight"),
            Generator(name="veil", function="irtool.degrade.generators:veil_haze",
                      ramps=(Ramp(name="transmission", at_0=0.85, at_1=0.3),),
                      default=False, description="a uniform veil of one transmission, coloured airlight"),
            Generator(name="gradient", function="irtool.degrade.generators:gradient_haze",
                      ramps=(Ramp(name="beta", at_0=0.3, at_1=3.0),),
                      default=False, description="a planar depth ramp in a random direction, coloured airlight"),
            Generator(name="fractal", function="irtool.degrade.generators:fractal_haze",
                      ramps=(Ramp(name="beta", at_0=0.3, at_1=2.5),),
                      default=False, description="patchy fog from fractal noise, coloured airlight"),
            Generator(name="scattering", function="irtool.degrade.generators:scattering_fog",
                      ramps=(Ramp(name="beta", at_0=0.3, at_1=2.0), Ramp(name="sigma", at_0=0.8, at_1=3.0)),
                      default=False, description="patchy fog over a scene its forward scattering softens (a "
                                                 "Gaussian blur, sigma in pixels)"),
        ),
    ),
    Degradation(
        name="low-light",
        label="low light",
        description="an under-exposed photo",
        tasks=(Task(name="lowlight", degradation="low-light", all_in_one_weight=1.0,
                    description="brighten a dark photo"),),
        generators=(
            Generator(name="gamma-noise", function="irtool.degrade.generators:gamma_darken",
                      ramps=(Ramp(name="gamma", at_0=1.5, at_1=3.5), Ramp(name="scale", at_0=0.8, at_1=0.25),
                             Ramp(name="noise_sigma", at_0=2.0, at_1=8.0)),
                      description="exposure scale times img ** gamma, plus read noise"),
            Generator(name="exposure", function="irtool.degrade.generators:exposure_darken",
                      ramps=(Ramp(name="scale", at_0=0.5, at_1=0.1),),
                      default=False, description="plain under-exposure: values scaled down, no noise"),
            Generator(name="gamma", function="irtool.degrade.generators:gamma_only_darken",
                      ramps=(Ramp(name="gamma", at_0=1.3, at_1=2.5), Ramp(name="scale", at_0=0.6, at_1=0.25)),
                      default=False, description="scale times img ** gamma, no noise"),
            Generator(name="curve", function="irtool.degrade.generators:gamma_only_darken",
                      ramps=(Ramp(name="gamma", at_0=1.4, at_1=3.5),),
                      default=False, description="a darkening tone curve img ** gamma: white stays white"),
            Generator(name="lowered", function="irtool.degrade.generators:lowered_brightness",
                      ramps=(Ramp(name="offset", at_0=0.08, at_1=0.45),),
                      default=False,
                      description="brightness lowered by subtraction: shadows crushed to black, white dimmed"),
            Generator(name="poisson-gaussian", function="irtool.degrade.generators:poisson_gaussian_darken",
                      ramps=(Ramp(name="gamma", at_0=1.5, at_1=3.0), Ramp(name="scale", at_0=0.6, at_1=0.2),
                             Ramp(name="shot", at_0=0.0002, at_1=0.004), Ramp(name="read_sigma", at_0=1.0, at_1=6.0)),
                      default=False, description="darkened, then sensor shot and read noise"),
            Generator(name="gamma-noise-then-jpeg", function="irtool.degrade.generators:dark_noise_then_jpeg",
                      ramps=(Ramp(name="gamma", at_0=1.5, at_1=3.5), Ramp(name="scale", at_0=0.8, at_1=0.25),
                             Ramp(name="noise_sigma", at_0=2.0, at_1=8.0)),
                      default=False, description="dark and noisy, then saved as JPEG at quality 70-95"),
        ),
    ),
)

#: Degradation name -> entry, in registry order (which is also the order of the detector's labels after clean).
DEGRADATIONS: Mapping[str, Degradation] = MappingProxyType({d.name: d for d in _ENTRIES})
#: Task name -> entry for every single-degradation task.
TASKS: Mapping[str, Task] = MappingProxyType({t.name: t for d in _ENTRIES for t in d.tasks})
#: The single-degradation task names.
SINGLE_TASKS: tuple[str, ...] = tuple(TASKS)
#: What a model can serve and ``restore --task`` accepts.
RESTORE_TASKS: tuple[str, ...] = (*SINGLE_TASKS, ALL_IN_ONE)
#: What a training mixture may name: clean photos and every single task.
MIXTURE_TASKS: tuple[str, ...] = (CLEAN, *SINGLE_TASKS)
#: The clean share of the default detector mixture: a clean photo sent to a restorer is the costliest mistake.
CLEAN_DETECT_WEIGHT = 1.5


def degradation_names() -> tuple[str, ...]:
    return tuple(DEGRADATIONS)


def detector_types() -> tuple[str, ...]:
    """The labels a detector trained now learns: clean, then every degradation."""
    return (CLEAN, *DEGRADATIONS)


def _unknown(what: str, name: str, known: tuple[str, ...]) -> InvalidArgumentError:
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return InvalidArgumentError(f"unknown {what} {name!r}{hint} (known: {', '.join(known)})")


def get_degradation(name: str) -> Degradation:
    try:
        return DEGRADATIONS[name]
    except KeyError:
        raise _unknown("degradation", name, tuple(DEGRADATIONS)) from None


def get_task(name: str) -> Task:
    """A single-degradation task (``all`` and ``detect`` are not: they have no one degradation)."""
    try:
        return TASKS[name]
    except KeyError:
        raise _unknown("task", name, SINGLE_TASKS) from None


def task_scale(task: str) -> int:
    """The SR factor of a task: 1 for every same-size task (and for ``all``, ``clean``, ``detect``)."""
    entry = TASKS.get(task)
    return entry.scale if entry is not None else 1


def all_in_one_mixture() -> dict[str, float]:
    """The default task -> weight mixture of an all-in-one model (HAIR trains on an equal mixture, sec. 4)."""
    return {name: t.all_in_one_weight for name, t in TASKS.items() if t.all_in_one_weight > 0}


def detect_mixture() -> dict[str, float]:
    """The default task -> weight mixture a detector trains on: clean photos and every task's inputs."""
    return {CLEAN: CLEAN_DETECT_WEIGHT, **{name: t.detect_weight for name, t in TASKS.items() if t.detect_weight > 0}}


_RESOLVED: dict[str, GeneratorFunction] = {}


def _resolve(path: str) -> GeneratorFunction:
    if path not in _RESOLVED:
        module, _, name = path.partition(":")
        _RESOLVED[path] = getattr(importlib.import_module(module), name)
    return _RESOLVED[path]
