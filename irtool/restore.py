"""Batch restoration: read -> detect -> route -> engine -> write, one record per input.

Guarantees a batch of thousands of files relies on:

* inputs are never written: an output path that is an input is refused;
* every output is written to a temporary name and renamed when complete (``irtool.io``), so an
  interrupted run leaves no partial file, and a re-run skips outputs that exist (``overwrite``
  redoes them) — a batch resumes where it stopped;
* a bad input costs one ``error`` record with a one-line reason; the batch goes on.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from irtool.degradations import CLEAN, RESTORE_TASKS, degradation_names, get_degradation
from irtool.detect import DIM_BLACK_POINT_MAX, Detection, Detector, load_detector, load_detector_file
from irtool.errors import InputError, InvalidArgumentError, IrtoolError, UsageError
from irtool.io.inputs import file_output_format
from irtool.io.jobs import Job, ReadAhead, plan_jobs, will_decode
from irtool.weights.routes import RouteChoice
from irtool.zoo import EngineSettings, LoadedModel, ModelZoo


@dataclass(frozen=True)
class RestoreRequest:
    """What to run: exactly one of auto / task / model / weights."""

    auto: bool = False
    task: str | None = None
    model: str | None = None
    weights: Path | None = None
    arch: str | None = None
    detect_only: bool = False
    #: ``--auto`` copies an image whose detected degradation has a lower confidence than this (0: never), for
    #: users who would rather leave a photo as it is than restore it for a degradation it may not have.
    min_confidence: float = 0.0
    #: ``--auto``'s detector: a weights.toml detector entry or a detector checkpoint file (None: weights.toml's
    #: ``detector``), e.g. one just trained with ``irtool train --task detect``.
    detector: str | None = None
    #: ``--auto``'s routes replaced for this run: (degradation type, a weights.toml restorer entry, a restorer
    #: weights file, or ``"keep"`` to copy those images), e.g. a model just trained, measured in place of the one
    #: weights.toml routes to, or a correction the user does not want.
    routes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.detect_only:  # detection is what --auto does first; --detect-only stops there
            object.__setattr__(self, "auto", True)

    def validate(self) -> None:
        chosen = [n for n, v in (("auto", self.auto), ("task", self.task), ("model", self.model),
                                 ("weights", self.weights)) if v]
        if not chosen:
            raise InvalidArgumentError("say what to run: auto, a task, a model or a weights file", argument="what")
        if len(chosen) > 1:
            implied = " (detect_only implies auto)" if self.detect_only else ""
            raise InvalidArgumentError(f"choose one of {', '.join(chosen)}{implied}", argument="what")
        if self.task and self.task not in RESTORE_TASKS:
            raise InvalidArgumentError(f"unknown task {self.task!r}; tasks are {', '.join(RESTORE_TASKS)}",
                                       argument="task")
        if self.arch and not self.weights:
            raise InvalidArgumentError("arch goes with weights", argument="arch")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InvalidArgumentError(f"min_confidence must be in [0, 1], got {self.min_confidence}",
                                       argument="min_confidence")
        if self.min_confidence and not self.auto:
            raise InvalidArgumentError("min_confidence goes with auto", argument="min_confidence")
        if self.detector and not self.auto:
            raise InvalidArgumentError("detector goes with auto", argument="detector")
        if self.routes and not self.auto:
            raise InvalidArgumentError("route goes with auto", argument="route")
        kinds = [kind for kind, _ in self.routes]
        for kind in kinds:
            if kind not in degradation_names():
                raise InvalidArgumentError(f"route {kind!r}: not a degradation type; types are "
                                           f"{', '.join(degradation_names())}", argument="route")
            if kinds.count(kind) > 1:
                raise InvalidArgumentError(f"route {kind!r} is given twice", argument="route")


@dataclass(frozen=True)
class OutputSettings:
    format: str | None = None
    quality: int | None = None
    overwrite: bool = False


@dataclass
class RestoreRecord:
    input: str
    output: str | None
    status: str  # "ok" | "skipped" | "error"
    error: str | None = None
    detected: Detection | None = None
    model: str | None = None
    seconds: float = 0.0
    megapixels: float = 0.0
    tiles: int = 0
    #: Why ``--auto`` left the image as it is when that is not a detection (e.g. too small to judge).
    note: str | None = None
    #: The type ``--auto`` acted on (:attr:`AutoOutcome.decided`).
    decided: str | None = None

    @property
    def reason(self) -> str | None:
        """Why the file was not restored: the error, or why it was skipped."""
        return self.error if self.status == "error" else self.note if self.status == "skipped" else None

    def to_json(self) -> dict:
        return {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "error": self.error,
            "reason": self.reason,
            "detected": self.detected.to_json() if self.detected else None,
            "decided": self.decided,
            "model": self.model,
            "note": self.note,
            "seconds": round(self.seconds, 4),
        }


@dataclass(frozen=True)
class AutoOutcome:
    """What ``--auto`` did with one image: the restored pixels (None: leave the image as it is), the detection
    (None when the image was not judged), the model label the report shows, and the model that ran."""

    pixels: np.ndarray | None
    detection: Detection | None
    model: str
    loaded: LoadedModel | None
    note: str | None = None
    #: The degradation type ``--auto`` acted on: the detector's call, unless a pixel test overruled it (an exact
    #: enlargement, dim highlights, a noise floor; "clean" when the pixels contradicted the call). None: not judged.
    decided: str | None = None


#: Detected types whose images ``--auto`` also tests for an exact enlargement (which then goes to the
#: low-resolution route): blur and enlargement look alike to the detector, not to a least-squares fit.
ENLARGEMENT_CHECKED_TYPES = ("blur",)
#: Detected types whose images ``--auto`` also tests for under-exposure (which then goes to the low-light route):
#: the calls a plainly darkened photo gets from a detector trained on dark photos that were also noisy.
EXPOSURE_CHECKED_TYPES = ("clean", "blur")
#: Detected types whose images ``--auto`` also tests for noise (which then goes to the noise route): no training window
#: of these types reads a noise floor near :data:`~irtool.detect.NOISE_FLOOR_MIN` (``scripts/pixel_tests.py --test
#: noise``: JPEG 3.0 at most, blur 1.2, haze 4.1; clean 7.6 at its 98th percentile), so a floor that high is noise the
#: detector named as something else, and the routes of those types sharpen, stretch or keep it.
NOISE_CHECKED_TYPES = ("clean", "jpeg", "blur", "haze")

#: The finest JPEG quality ``--auto`` restores: the registry's lightest visible JPEG damage (severity 0 of the
#: ``jpeg`` degradation's first generator), the top of what the JPEG route was trained on. A JPEG call whose pixels
#: show a finer quantisation (:func:`~irtool.degrade.jpeg_grid.find_jpeg_grid`) is copied: the route's model, trained
#: on quality 10-60, makes most quality-85 to 95 windows of the training photos worse (``scripts/jpeg_grid_check.py
#: --route-gain``), and a camera's or a phone's JPEG is usually that fine.
FINEST_RESTORED_JPEG_QUALITY = int(get_degradation("jpeg").generators[0].ramp("quality").at_0)

#: Why an existing output is left alone (``OutputSettings.overwrite`` redoes it).
OUTPUT_EXISTS = "output exists (overwrite to redo)"


@dataclass
class Progress:
    """Callbacks the CLI uses to draw progress; all optional."""

    on_start: Callable[[Job], None] = lambda job: None
    on_tiles: Callable[[int, int], None] = lambda done, total: None
    on_done: Callable[[RestoreRecord], None] = lambda rec: None


def _chosen_detector(zoo: ModelZoo, detector: str | None) -> Detector:
    """``--detector``: a file if one is there or the name looks like one, else a weights.toml entry."""
    path = Path(detector) if detector else None
    if path is None or not _is_weights_file(str(path)):
        return load_detector(zoo, detector)
    if not path.is_file():
        raise InvalidArgumentError(f"detector {detector}: no such file", argument="detector")
    return load_detector_file(zoo, path)


def parse_route(text: str) -> tuple[str, str]:
    """``TYPE=MODEL`` (``--route``) as (type, model); the model is checked when the batch is prepared."""
    kind, sep, target = text.partition("=")
    if not sep or not kind.strip() or not target.strip():
        raise InvalidArgumentError(f"route {text!r}: write TYPE=MODEL, e.g. low-light=keep or "
                                   "noise=runs/denoise/final.safetensors", argument="route")
    return kind.strip(), target.strip()


def _is_weights_file(target: str) -> bool:
    """Whether a route or detector names a file (one is there, or the name ends like a weights file)."""
    path = Path(target)
    return path.is_file() or path.suffix in (".safetensors", ".pth", ".pt", ".ckpt")


#: ``--auto`` copies an image with a side shorter than this, with that reason: too few pixels to tell noise, JPEG
#: blocks, blur or an enlargement apart (the detector reads 96 px crops; its encoder reduces 32 px to a 4 x 4 map).
MIN_AUTO_SIDE = 32


def too_small_to_judge(shape: tuple[int, ...]) -> str | None:
    """Why ``--auto`` copies an image of this (H, W, ...) shape without judging it, or None."""
    h, w = shape[:2]
    if min(h, w) >= MIN_AUTO_SIDE:
        return None
    return f"too small to judge ({w}x{h} px; --auto needs {MIN_AUTO_SIDE} px a side): copied unchanged"


#: Degradations ``--auto`` looks for again after a whole-image correction (low light, haze) and then restores with
#: their own route: brightening multiplies the noise and JPEG artefacts a dark photo hid.
FOLLOW_UP_TYPES: tuple[str, ...] = ("noise", "jpeg")


#: ``--auto`` writes the input as it was when the routed model's output differs from it by at most this RMS (on the
#: [0, 1] scale): the rounding noise of an 8-bit file (1/sqrt(12) of a level). Such an output is the photo again,
#: re-encoded; the copy keeps its bytes and says so.
UNCHANGED_RMS = 1.0 / (255.0 * 12.0 ** 0.5)


def change_rms(before: np.ndarray, after: np.ndarray) -> float | None:
    """Root-mean-square difference of two float images in [0, 1], or None when their shapes differ."""
    if before.shape != after.shape:
        return None
    difference = np.subtract(after, before, dtype=np.float32)
    np.square(difference, out=difference)  # in place: one image-sized temporary on --auto's path, not two
    return float(np.sqrt(np.mean(difference, dtype=np.float64)))


#: log10 of the enlargement test's residual (in units of 8-bit rounding noise) up to which an image counts as an
#: exact bicubic enlargement: twice the rounding noise (a true enlargement reads about -0.4, a photo 1 to 3).
EXACT_ENLARGEMENT_RESIDUAL = float(np.log10(2.0))


def native_size(pixels: np.ndarray, scale: int, *, enlargement: tuple[int, int, str] | None = None) -> np.ndarray:
    """An enlarged photo (float HxWxC) brought back to its small original, clipped to [0, 1]: the least-squares
    inverse of a MATLAB-bicubic enlargement by ``scale`` where the image is one (and its sides are multiples of
    it); else of the enlargement :func:`~irtool.degrade.enlargement.find_enlargement` recognises (Pillow's or
    OpenCV's kernels, any factor from 1.4 to 4.6, so the result need not be ``1/scale`` of the size); else a
    bicubic downscale by ``scale``. ``enlargement``: what ``find_enlargement`` already found for these pixels."""
    from irtool.degrade import imresize
    from irtool.degrade.enlargement import (
        ENLARGEMENT_SCALES,
        enlargement_residuals,
        find_enlargement,
        recover_enlarged,
        recover_small,
    )

    h, w = pixels.shape[:2]
    if scale in ENLARGEMENT_SCALES and h % scale == 0 and w % scale == 0:
        residual = enlargement_residuals(_chw(pixels))
        if float(residual[ENLARGEMENT_SCALES.index(scale)]) <= EXACT_ENLARGEMENT_RESIDUAL:
            return np.clip(recover_small(pixels, scale), 0, 1).astype(np.float32)
    found = enlargement or find_enlargement(pixels)
    if found is not None:
        return np.clip(recover_enlarged(pixels, *found), 0, 1).astype(np.float32)
    return np.clip(imresize(pixels, output_shape=(-(-h // scale), -(-w // scale))), 0, 1).astype(np.float32)


def restore_same_size(loaded: LoadedModel, pixels: np.ndarray, *,
                      on_tiles: Callable[[int, int], None] | None = None,
                      enlargement: tuple[int, int, str] | None = None) -> np.ndarray:
    """What ``--auto`` does with a model: restore ``pixels`` (float HxWxC) and keep the image size.

    A "low-resolution" image is one that was enlarged from a smaller original (soft, bicubic-like): it is brought
    back to its native size and super-resolved by the model's factor, so details come back at the size the user
    already has. Where the image is recognisably an enlargement (MATLAB's bicubic by that factor, or Pillow's and
    OpenCV's kernels by any factor: :func:`native_size`), the small image is recovered exactly by least squares,
    and the super-resolved result is resized to the image's size when the factors differ; otherwise it is a
    bicubic downscale, which blurs it once more. Upscaling is asked for explicitly with ``--task sr2|sr3|sr4``.
    """
    if loaded.scale == 1:
        return loaded.run_image(pixels, progress=on_tiles)
    h, w = pixels.shape[:2]
    restored = loaded.run_image(native_size(pixels, loaded.scale, enlargement=enlargement), progress=on_tiles)
    if not (h <= restored.shape[0] < h + loaded.scale and w <= restored.shape[1] < w + loaded.scale):
        # The small original was not 1/scale of the image (another factor): back to the image's size.
        from irtool.degrade import imresize

        return np.clip(imresize(restored, output_shape=(h, w)), 0, 1).astype(np.float32)
    return restored[:h, :w]


def _chw(pixels: np.ndarray) -> torch.Tensor:
    """An HxWxC image as the ``[C, H, W]`` tensor the detector and the pixel tests read."""
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def _as_low_resolution(detection: Detection) -> Detection:
    """The same call, as low resolution: what an image detected as blurred is when its pixels are an enlargement."""
    return Detection(type="low-resolution", severity=detection.severity, confidence=detection.confidence)


def _pixels_call(detection: Detection, kind: str) -> Detection:
    """A call of ``kind`` with confidence 1: what an image the detector named otherwise is when one of ``--auto``'s
    pixel tests finds ``kind`` in it (dim highlights: low light; a noise floor: noise). The pixels decided."""
    return Detection(type=kind, severity=detection.severity, confidence=1.0)


def _notes(*notes: str | None) -> str | None:
    """The report's notes on one image, joined (None when there are none)."""
    return "; ".join(n for n in notes if n) or None


class BatchRestorer:
    def __init__(self, request: RestoreRequest, *, engine: EngineSettings = EngineSettings(),
                 output: OutputSettings = OutputSettings(), zoo: ModelZoo | None = None):
        request.validate()
        self.request = request
        self.output = output
        self.zoo = zoo or ModelZoo(engine)
        self._detector: Detector | None = None
        self._fixed: LoadedModel | None = None
        self._routes: dict[str, RouteChoice] = {}
        #: The models ``--route`` names, by the name given (a file path or an entry), loaded by :meth:`prepare`.
        self._route_models: dict[str, LoadedModel] = {}
        self._prepared = False

    # ..................................................................... model choice
    def prepare(self) -> None:
        """Load what every image needs up front, so a missing model fails before any work (idempotent)."""
        if self._prepared:
            return
        self._prepared = True
        r = self.request
        if r.auto:
            from irtool.weights.catalog import KEEP_ROUTE

            self._detector = _chosen_detector(self.zoo, r.detector)
            for _, target in r.routes:  # a missing file or entry fails here, before any image
                if target == KEEP_ROUTE:
                    continue
                if not _is_weights_file(target):
                    self._route_models[target] = self.zoo.from_entry(target)
                elif Path(target).is_file():
                    self._route_models[target] = self.zoo.from_file(target)
                else:
                    raise InvalidArgumentError(f"route model {target}: no such file", argument="route")
        elif r.weights:
            self._fixed = self.zoo.from_file(r.weights, r.arch)
        elif r.model:
            self._fixed = self.zoo.from_entry(r.model)
        elif r.task:
            self._fixed = self.zoo.for_task(r.task)

    def route_choice(self, kind: str) -> RouteChoice:
        """The entry ``--auto`` uses for degradation ``kind`` now: the first of its route's list that can run here
        (:mod:`irtool.weights.routes`), looked up once per run."""
        from irtool.weights.routes import choose_route

        if kind not in self._routes:
            given = dict(self.request.routes).get(kind)
            choice = RouteChoice(kind, (given,), given) if given else choose_route(self.zoo.catalog, kind)
            if not choice.preferences:
                raise UsageError(f"weights.toml routes nothing for {kind!r} and has no fallback")
            self._routes[kind] = choice
        return self._routes[kind]

    def route_name(self, detection: Detection) -> str | None:
        """The weights.toml entry a detected degradation goes to; None (copy the image) for a clean image, a
        "keep" route, or a detection less confident than ``--min-confidence``. When no entry of the route is present,
        its first (loading it then says which download it needs)."""
        from irtool.weights.catalog import KEEP_ROUTE

        if detection.type == CLEAN or self.unsure(detection):
            return None
        choice = self.route_choice(detection.type)
        name = choice.used or choice.preferences[0]
        return None if name == KEEP_ROUTE else name

    def route_note(self, detection: Detection) -> str | None:
        """The report's note when a preferred entry of the route was passed over (e.g. not downloaded)."""
        if detection.type == "clean" or self.unsure(detection):
            return None
        return self.route_choice(detection.type).note

    def unsure(self, detection: Detection) -> bool:
        """A degradation detected with less confidence than ``--min-confidence``: the image is copied."""
        return detection.type != "clean" and detection.confidence < self.request.min_confidence

    def _copy_label(self, detection: Detection) -> str:
        return "copy (unsure)" if self.unsure(detection) else "copy"

    def route(self, detection: Detection) -> LoadedModel | None:
        """The zoo model for a detected degradation (see :meth:`route_name`)."""
        name = self.route_name(detection)
        return None if name is None else self._load_route(name)

    def _route_label(self, name: str) -> str:
        """What the report calls a route's model without running it: the name a restoring run shows (a ``--route``
        weights file by its file name, as loaded), else the entry."""
        loaded = self._route_models.get(name)
        return loaded.name if loaded is not None else name

    def _load_route(self, name: str) -> LoadedModel:
        """A route's model: one ``--route`` named (a weights file or an entry), else a weights.toml entry."""
        return self._route_models.get(name) or self.zoo.from_entry(name)

    # ..................................................................... one image
    def _detect(self, image: torch.Tensor) -> Detection:
        assert self._detector is not None
        return self._detector.detect(image)

    def _run_auto(self, loaded: LoadedModel, pixels: np.ndarray, progress: Progress,
                  enlargement: tuple[int, int, str] | None = None) -> np.ndarray:
        return restore_same_size(loaded, pixels, on_tiles=progress.on_tiles, enlargement=enlargement)

    def implausible(self, detection: Detection, image: torch.Tensor, pixels: np.ndarray
                    ) -> tuple[str, str] | None:
        """(copy label, reason) when the pixels contradict the routed call, else None: an image called JPEG whose 8 x 8
        quantisation reads finer than :data:`FINEST_RESTORED_JPEG_QUALITY` (damage below what the route restores),
        one called hazy whose dark channel says it has no veil (:func:`~irtool.detect.shows_veil`), one called
        blurred whose sharpest edges are sharp in every direction (:func:`~irtool.detect.edge_sharpness`), or one
        called low light that
        the detector rates slight (severity below :data:`~irtool.detect.SLIGHT_SEVERITY`) and whose blacks are
        lifted (:func:`~irtool.detect.black_point` at or above :data:`~irtool.detect.DIM_BLACK_POINT_MAX`): a
        darkening pushes the blacks down, so that is a scene dark by nature, which brightening would ruin; or one
        rated slight whose histogram shows no darkening curve's gaps (:func:`~irtool.detect.tone_gaps` below
        :data:`~irtool.detect.TONE_GAPS_MIN`): the only evidence that tells a noise-free darkening, which the
        detector also rates slight, from a scene dark by nature; or a colour photo called hazy that the detector
        rates slight (below :data:`~irtool.detect.SLIGHT_SEVERITY`): a pale scene looks like a light veil; or a gray
        photo called hazy that the detector rates below :data:`~irtool.detect.GRAY_HAZE_SEVERITY_MIN`
        (:func:`~irtool.detect.is_gray`): without colour a light veil cannot be told from a low-contrast scene; or
        one called blurred that the detector rates slight (in a gray photo: below
        :data:`~irtool.detect.GRAY_BLUR_SEVERITY_MIN`): a soft scene looks like a light blur."""
        from irtool.detect import (
            EDGE_SHARPNESS_MIN,
            GRAY_BLUR_SEVERITY_MIN,
            GRAY_HAZE_SEVERITY_MIN,
            SLIGHT_SEVERITY,
            TONE_GAPS_MIN,
            black_point,
            edge_sharpness,
            is_gray,
            shows_veil,
            tone_gaps,
        )

        if detection.type not in ("jpeg", "haze", "blur", "low-light") or self.route_name(detection) is None:
            return None
        if detection.type == "jpeg":
            from irtool.degrade.jpeg_grid import find_jpeg_grid

            grid = find_jpeg_grid(pixels)
            if grid is None or grid.quality <= FINEST_RESTORED_JPEG_QUALITY:
                return None
            return "copy (fine JPEG)", (
                f"called JPEG ({detection.confidence:.0%}), but its 8x8 blocks are quantised as at quality "
                f"{grid.quality} or finer, above {FINEST_RESTORED_JPEG_QUALITY}, the lightest JPEG damage --auto "
                "removes: left as it is")
        if detection.type == "low-light":
            if detection.severity >= SLIGHT_SEVERITY:
                return None
            if (black := black_point(image)) >= DIM_BLACK_POINT_MAX:
                return "copy (dark by nature)", (
                    f"called low light ({detection.confidence:.0%}) but rated slight ({detection.severity:.2f}), and "
                    f"its darkest 1% sits at {black:.0%} (a darkening would have pushed it to black): left as it is")
            # The detector learnt darkness with the noise that comes with it, so it rates a noise-free darkening
            # slight as it rates a scene dark by nature; only a darkening curve's gaps in the histogram tell them
            # apart (docs/auto-history.md "A slight low-light call without a darkening's fingerprint").
            if (share := tone_gaps(image)) >= TONE_GAPS_MIN:
                return None
            gaps = "too few levels to read" if math.isnan(share) else f"{share:.0%} of its highlight levels empty"
            return "copy (dark by nature)", (
                f"called low light ({detection.confidence:.0%}) but rated slight ({detection.severity:.2f}), and its "
                f"histogram shows no darkening curve ({gaps}, below {TONE_GAPS_MIN:.0%}): left as it is")
        if detection.type == "haze":
            if not shows_veil(image):
                return "copy (no veil)", (f"called haze ({detection.confidence:.0%}), but most of it reaches black "
                                          "in some colour (no veil): left as it is")
            if detection.severity >= GRAY_HAZE_SEVERITY_MIN:  # above both slight-haze thresholds
                return None
            if not is_gray(image):
                if detection.severity >= SLIGHT_SEVERITY:
                    return None
                # A pale scene (a white wall, sand) looks like a light veil, and its correction turns it grey
                # (docs/auto-history.md "A haze call the detector rates slight").
                return "copy (slight haze)", (
                    f"called haze ({detection.confidence:.0%}) but rated slight ({detection.severity:.2f}), where a "
                    "pale scene looks like a light veil: left as it is")
            return "copy (gray, slight)", (
                f"called haze ({detection.confidence:.0%}) but rated slight ({detection.severity:.2f}) in a gray "
                "photo, where a light veil looks like the scene's own low contrast: left as it is")
        if detection.severity < GRAY_BLUR_SEVERITY_MIN and is_gray(image):
            return "copy (gray, slight blur)", (
                f"called blur ({detection.confidence:.0%}) but rated {detection.severity:.2f} in a gray photo, where "
                "a soft scene looks like a light blur: left as it is")
        if detection.severity < SLIGHT_SEVERITY:
            # A soft scene (smooth curved surfaces, a shallow depth of field) looks like a light blur, and
            # deblurring it sharpens what was soft to begin with (docs/auto-history.md "A blur call the detector
            # rates slight").
            return "copy (slight blur)", (
                f"called blur ({detection.confidence:.0%}) but rated slight ({detection.severity:.2f}), where a soft "
                "scene looks like a light blur: left as it is")
        sharpness = edge_sharpness(image)
        if sharpness < EDGE_SHARPNESS_MIN:
            return None
        return "copy (sharp)", (f"called blur ({detection.confidence:.0%}), but its sharpest edges cross "
                                f"{sharpness:.0%} of their contrast between neighbouring pixels in every "
                                "direction: left as it is")

    def _as_enlargement(self, detection: Detection, pixels: np.ndarray) -> tuple[str, tuple[int, int, str]] | None:
        """The low-resolution route, and the enlargement found, for an image detected as blurred whose pixels are
        an exact enlargement of a smaller image: the pixels decide that confusion (the detector's most common; the
        deblurring model makes enlargements worse). An enlargement by a large factor may stand out less
        (:func:`~irtool.degrade.enlargement.find_large_enlargement`)."""
        from irtool.degrade.enlargement import find_enlargement, find_large_enlargement

        if detection.type not in ENLARGEMENT_CHECKED_TYPES or self.unsure(detection):
            return None
        name = self.route_name(_as_low_resolution(detection))
        found = (find_enlargement(pixels) or find_large_enlargement(pixels)) if name is not None else None
        return None if found is None or name is None else (name, found)

    def _underexposed(self, detection: Detection, image: torch.Tensor) -> tuple[str | None, float, float] | None:
        """For an image called clean or blurred whose brightest part stays dim (:func:`~irtool.detect.highlight_level`
        < :data:`~irtool.detect.HIGHLIGHT_LEVEL_MAX`, below every clean, blurred or otherwise degraded training
        window): the low-light route, the highlight level and the black point (:func:`~irtool.detect.black_point`).
        The route is None where the darkest part sits above :data:`~irtool.detect.DIM_BLACK_POINT_MAX` (or low light
        has no route): darkening the detector did not recognise (without the noise it learnt to go with it) is still
        darkness in the pixels, but it pushes the blacks towards black, while a scene dark by nature keeps its own.
        None: not called clean or blurred, or its highlights are not dim."""
        from irtool.detect import HIGHLIGHT_LEVEL_MAX, SCENE_STATISTICS, scene_statistics

        if detection.type not in EXPOSURE_CHECKED_TYPES:
            return None
        statistics = scene_statistics(image)  # highlight_level and black_point, from one scene copy
        level = float(statistics[SCENE_STATISTICS.index("luma_p99")])
        black = float(statistics[SCENE_STATISTICS.index("luma_p01")])
        if level >= HIGHLIGHT_LEVEL_MAX:
            return None
        name = self.route_name(_pixels_call(detection, "low-light")) if black < DIM_BLACK_POINT_MAX else None
        return name, level, black

    def _tone_darkened(self, detection: Detection, image: torch.Tensor) -> tuple[str, float] | None:
        """The low-light route, and the share of empty highlight levels, for an image called clean or blurred whose
        histogram holds a darkening tone curve's fingerprint (:func:`~irtool.detect.tone_gaps` at or above
        :data:`~irtool.detect.TONE_GAPS_MIN`): a gamma darkening keeps the highlights bright, so the dim highlights
        test misses it, but applied to 8-bit pixels it leaves every other highlight level empty, which no camera's
        own curve and no scene dark by nature does."""
        from irtool.detect import TONE_GAPS_MIN, tone_gaps

        if detection.type not in EXPOSURE_CHECKED_TYPES:
            return None
        share = tone_gaps(image)
        if not share >= TONE_GAPS_MIN:  # NaN: too few populated levels to read
            return None
        name = self.route_name(_pixels_call(detection, "low-light"))
        return None if name is None else (name, share)

    def _hidden_noise(self, detection: Detection, image: torch.Tensor) -> tuple[str, str] | None:
        """The noise route, and the evidence for the note, for an image called clean, JPEG, blurred or hazy
        (:data:`NOISE_CHECKED_TYPES`) whose flattest regions hold noise (:func:`~irtool.detect.noise_floor` >=
        :data:`~irtool.detect.NOISE_FLOOR_MIN`): noise the detector's crops did not recognise (other generators, gray
        photos) is still noise in the pixels; for such an image whose floor is lower but not smooth
        (:data:`~irtool.detect.NOISE_REMOVED_FLOOR_MIN`), where the noise route's model removes noise even where it
        removes least (:func:`~irtool.detect.removed_noise` >= :data:`~irtool.detect.NOISE_REMOVED_MIN`): noise
        whose finest grain a JPEG took (docs/auto-history.md "Noise under a JPEG"); and for any image called rainy
        whose fine detail runs in no common direction (:func:`~irtool.detect.streak_coherence` <
        :data:`~irtool.detect.STREAK_COHERENCE_MIN`): the detector saw fine corruption it took for rain, and fine
        corruption without the streaks' common direction is noise (a camera's colour noise leaves the luma floor low,
        so no floor is asked of it; docs/auto-history.md "Rain calls without streaks")."""
        from irtool.detect import (
            NOISE_FLOOR_MIN,
            NOISE_REMOVED_FLOOR_MIN,
            NOISE_REMOVED_MIN,
            STREAK_COHERENCE_MIN,
            noise_floor,
            removed_noise,
            streak_coherence,
        )

        if detection.type == "rain":
            if streak_coherence(image) >= STREAK_COHERENCE_MIN:
                return None
        elif detection.type not in NOISE_CHECKED_TYPES:
            return None
        name = self.route_name(_pixels_call(detection, "noise"))
        if name is None:
            return None
        floor = noise_floor(image)
        if detection.type == "rain":
            return name, (f"its fine detail runs in no common direction (no streaks: noise, its flattest regions at "
                          f"{floor:.1f}/255)")
        if floor >= NOISE_FLOOR_MIN:
            return name, f"its flattest regions hold noise of {floor:.1f}/255"
        if floor < NOISE_REMOVED_FLOOR_MIN:
            return None
        loaded = self._load_route(name)
        removed = removed_noise(image, lambda pixels: restore_same_size(loaded, pixels))
        if removed.level < NOISE_REMOVED_MIN:
            return None
        return name, (f"its flattest regions read {floor:.1f}/255 of noise, yet {loaded.name} removes "
                      f"{removed.level:.1f}/255 even where it removes least (noise a JPEG smoothed)")

    def auto_restore(self, pixels: np.ndarray, progress: Progress = Progress()) -> AutoOutcome:
        """``--auto`` on one HxWxC float image in [0, 1]: judge it, then restore it with the routed model or leave it
        (``pixels`` None: copy the image). With ``detect_only`` nothing is restored: only the detector runs, and the
        noise route's model on samples where the noise test needs its reading (:func:`~irtool.detect.removed_noise`)."""
        if reason := too_small_to_judge(pixels.shape):
            return AutoOutcome(None, None, "copy (too small)", None, note=reason)
        image = _chw(pixels)  # one [C, H, W] copy for the detector and every pixel test
        detection = self._detect(image)
        enlarged = self._as_enlargement(detection, pixels)
        note = self.route_note(detection)
        if enlarged is not None:
            (small_h, small_w, kernel) = enlarged[1]
            h, w = pixels.shape[:2]
            note = _notes(f"an exact enlargement x{h / small_h:.2f} of {small_w}x{small_h} px ({kernel}): "
                          "super-resolved", self.route_note(_as_low_resolution(detection)))
        exposure = None if enlarged is not None else self._underexposed(detection, image)
        dim = None if exposure is None or exposure[0] is None else (exposure[0], exposure[1])
        if dim is not None:
            note = _notes(f"called {detection.type} ({detection.confidence:.0%}), but its brightest 1% reaches only "
                          f"{dim[1]:.0%} of white: brightened", self.route_note(_pixels_call(detection, "low-light")))
        elif exposure is not None and exposure[2] >= DIM_BLACK_POINT_MAX:
            note = _notes(f"its brightest 1% reaches only {exposure[1]:.0%} of white, but its darkest 1% sits at "
                          f"{exposure[2]:.0%} (a darkening would have pushed it to black: dark by nature), so not "
                          "brightened", note)
        hidden_noise = None if enlarged is not None or dim is not None else self._hidden_noise(detection, image)
        if hidden_noise is not None:
            note = _notes(f"called {detection.type} ({detection.confidence:.0%}), but {hidden_noise[1]}: denoised",
                          self.route_note(_pixels_call(detection, "noise")))
        curved = (None if exposure is not None or hidden_noise is not None or enlarged is not None
                  else self._tone_darkened(detection, image))
        if curved is not None:
            note = _notes(f"called {detection.type} ({detection.confidence:.0%}), but {curved[1]:.0%} of the levels "
                          "among its highlights are empty while its shadows are dense (a darkening tone curve applied "
                          "after it was stored in 8 bits): brightened",
                          self.route_note(_pixels_call(detection, "low-light")))
        override = next((found[0] for found in (enlarged, dim, hidden_noise, curved) if found is not None), None)
        decided = ("low-resolution" if enlarged is not None else "low-light" if dim or curved else
                   "noise" if hidden_noise is not None else detection.type)
        doubt = None if override is not None else self.implausible(detection, image, pixels)
        if doubt is not None:
            # The pixels contradict the call: correcting what is not there is the largest harm --auto can do (a
            # haze correction of a photo without haze stretches its contrast; deblurring a sharp one rings).
            return AutoOutcome(None, detection, doubt[0], None, note=doubt[1], decided=CLEAN)  # no route ran
        if self.request.detect_only:
            name = override or self.route_name(detection)
            label = self._route_label(name) if name else self._copy_label(detection)
            return AutoOutcome(None, detection, label, None, note=note, decided=decided)
        loaded = self._load_route(override) if override else self.route(detection)
        if loaded is None:
            return AutoOutcome(None, detection, self._copy_label(detection), None, note=note, decided=decided)
        outcome = self._routed(loaded, detection, pixels, progress, enlarged[1] if enlarged else None, note, decided)
        change = None if outcome.pixels is None else change_rms(pixels, outcome.pixels)
        if change is None or change > UNCHANGED_RMS:
            return outcome
        # The model found next to nothing to do: writing its output would only re-encode the photo.
        return AutoOutcome(None, detection, "copy (unchanged)", None, decided=CLEAN, note=_notes(
            note, f"{outcome.model} changed it by {change * 255:.2f}/255 RMS, within 8-bit rounding: left as it is"))

    def _routed(self, loaded: LoadedModel, detection: Detection, pixels: np.ndarray, progress: Progress,
                enlargement: tuple[int, int, str] | None, note: str | None, decided: str) -> AutoOutcome:
        """Run the routed model, and after a whole-image correction the follow-up route it calls for."""
        restored = self._run_auto(loaded, pixels, progress, enlargement)
        if not (loaded.preset.whole_image and FOLLOW_UP_TYPES):
            return AutoOutcome(restored, detection, loaded.name, loaded, note=note, decided=decided)
        # A whole-image correction (exposure, haze) lifts the noise and JPEG artefacts a dark photo hid: judge the
        # corrected image again and clean those up with their own route.
        again = self._detect(_chw(restored))
        follow = self.route(again) if again.type in FOLLOW_UP_TYPES else None
        if follow is None or follow.scale != 1 or follow.preset.whole_image:
            return AutoOutcome(restored, detection, loaded.name, loaded, note=note, decided=decided)
        return AutoOutcome(self._run_auto(follow, restored, progress), detection, f"{loaded.name} + {follow.name}",
                           loaded, note=_notes(note, f"then {again.type} ({again.confidence:.0%})",
                                               self.route_note(again)), decided=decided)

    def will_read(self, job: Job) -> bool:
        """Whether :meth:`process` decodes ``job``'s image: not for an input that named nothing, nor for an output
        that exists and is not to be redone."""
        return will_decode(job, overwrite=self.output.overwrite, detect_only=self.request.detect_only)

    def process(self, job: Job, progress: Progress = Progress(), reader: ReadAhead | None = None) -> RestoreRecord:
        """Restore one job's image (decoded by ``reader`` when one reads the batch ahead) and write its output."""
        from irtool import io

        started = time.perf_counter()
        record = RestoreRecord(input=str(job.source), output=str(job.output), status="ok")
        try:
            if job.problem is not None:
                record.status, record.error, record.output = "error", job.problem, None
                return record
            if not self.will_read(job):
                record.status, record.note = "skipped", OUTPUT_EXISTS
                return record
            image = reader.read(job) if reader is not None else io.read_image(job.source)
            record.megapixels = image.pixels.shape[0] * image.pixels.shape[1] / 1e6
            if self.request.auto:
                outcome = self.auto_restore(image.pixels, progress)
                record.detected, record.model, record.note = outcome.detection, outcome.model, outcome.note
                record.decided = outcome.decided
                if self.request.detect_only:  # report the route --auto would take, write nothing
                    record.output = None
                    return record
                if outcome.pixels is None:
                    self._copy(job, image)
                    return record
                loaded, restored = outcome.loaded, outcome.pixels
            else:
                assert self._fixed is not None
                loaded = self._fixed
                record.model = loaded.name
                restored = loaded.run_image(image.pixels, progress=progress.on_tiles)
            assert loaded is not None
            alpha = image.alpha
            if alpha is not None and restored.shape[0] != image.pixels.shape[0]:
                alpha = io.resize_alpha(alpha, loaded.scale)
            io.write_image(job.output, restored, like=image, format=self.output.format,
                           quality=self.output.quality, alpha=alpha)
            info = getattr(loaded.engine, "last_run", None)
            record.tiles = info.tiles if info else 0
            failure = getattr(loaded.engine, "compile_failure", None)
            if failure:
                record.note = _notes(record.note, f"--compile failed, ran eager ({failure})")
        except InputError as exc:  # the record names the file already
            record.status, record.error, record.output = "error", exc.reason, None
        except IrtoolError as exc:
            record.status, record.error, record.output = "error", str(exc), None
        except (OSError, ValueError, RuntimeError) as exc:  # a file-system or decode problem on this file only
            record.status, record.error, record.output = "error", f"{type(exc).__name__}: {exc}", None
        finally:
            record.seconds = time.perf_counter() - started
        return record

    def _copy(self, job: Job, image) -> None:
        """A clean image is copied byte for byte (re-encoded only when another format is asked for)."""
        from irtool import io

        same_format = self.output.format is None or io.normalize_format(self.output.format) == image.format
        if same_format:
            with io.atomic_output(job.output) as fh, open(job.source, "rb") as src:
                shutil.copyfileobj(src, fh)
        else:
            io.write_image(job.output, image.pixels, like=image, format=self.output.format,
                           quality=self.output.quality, alpha=image.alpha)

    def run(self, jobs: Sequence[Job], progress: Progress = Progress(),
            reader: ReadAhead | None = None) -> Iterator[RestoreRecord]:
        """Process ``jobs`` in order, each image decoded one ahead on a background thread (``reader``, else one
        started here, before the models load): decoding overlaps the network's work on the image before it."""
        own_reader = reader is None
        reader = reader or ReadAhead(jobs, will_read=self.will_read)
        try:
            self.prepare()
            for job in jobs:
                progress.on_start(job)
                record = self.process(job, progress, reader)
                progress.on_done(record)
                yield record
        finally:
            if own_reader:
                reader.close()


@dataclass
class BatchSummary:
    records: list[RestoreRecord] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "skipped": 0, "error": 0}
        for r in self.records:
            out[r.status] += 1
        return out

    @property
    def exit_code(self) -> int:
        return 1 if self.counts["error"] else 0

    def to_json(self) -> dict:
        return {"summary": self.counts, "results": [r.to_json() for r in self.records]}


def restore_paths(inputs: Sequence[str], out_dir: str | Path, request: RestoreRequest, *,
                  engine: EngineSettings = EngineSettings(), output: OutputSettings = OutputSettings(),
                  shard: str | None = None, progress: Progress = Progress()) -> BatchSummary:
    """The Python API behind ``irtool restore``: returns every record (tests call this)."""
    request.validate()
    if (file_format := file_output_format(out_dir, output.format)) is not None:  # out_dir names one output file
        output = replace(output, format=file_format)
    jobs = plan_jobs(inputs, Path(out_dir), fmt=output.format, shard=shard)
    summary = BatchSummary()
    for record in BatchRestorer(request, engine=engine, output=output).run(jobs, progress):
        summary.records.append(record)
    return summary
