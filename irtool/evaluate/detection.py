"""Detector evaluation (``irtool eval --task detect``): does the GIV detector name the right degradation?

HAIR (sec. 3.1, fig. 3) shows its Global Information Vector separates degradation types; ``irtool restore --auto``
relies on a detector built on it (:mod:`irtool.detect`). This module measures that detector on a folder of clean
photos: every image is shown once clean and once per degradation kind the detector names (its ``types``) and
severity, each degraded with :func:`irtool.degrade.degrade` from its own seeded generator, and the predicted type
is compared with the true one.

Inputs are made the way ``--auto`` meets them and the detector was trained on them (``DegradedFolderDataset`` with
``sr_as_same_size``): a "low-resolution" sample is the image cropped to a multiple of the scale, MATLAB-bicubic
downscaled (severity 0 -> x2, 0.5 -> x3, 1 -> x4) and enlarged back to its own size; every sample is quantised to
8 bit like a saved photo.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from irtool.degradations import CLEAN, get_degradation
from irtool.degrade import degrade, modcrop, quantize_uint8
from irtool.errors import UsageError

__all__ = [
    "DEFAULT_SEVERITIES",
    "DetectionReport",
    "DetectionSample",
    "detection_input",
    "evaluate_detector",
    "evaluate_detector_on_files",
    "sr_scale_of",
]

DEFAULT_SEVERITIES: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Confidence bins of the calibration table.
CALIBRATION_BINS: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)

ProgressCallback = Callable[[int, int], None]


def sr_scale_of(severity: float) -> int:
    """The SR factor ``degrade`` uses for a "low-resolution" severity (2, 3 or 4), from the registry's ramp."""
    entry = get_degradation("low-resolution")
    return int(entry.generators[0].ramp("scale").at(severity))


def _sample_rng(seed: int, image: str, kind: str, severity: float) -> np.random.Generator:
    # Keyed by the image's name (not its position), so adding photos to the folder changes no existing sample.
    words = [seed, zlib.crc32(image.encode("utf-8")), zlib.crc32(kind.encode("utf-8")), round(severity * 1_000_000)]
    return np.random.default_rng(np.random.SeedSequence(words))


def detection_input(image: np.ndarray, kind: str, severity: float, *, rng: np.random.Generator,
                    synthesis: str = "default", generator: str | None = None) -> tuple[np.ndarray, float]:
    """(the detector's input, the severity label ``degrade`` records) for a clean float HxWx3 image in [0, 1].

    The input is float32 in [0, 1], quantised to 8-bit levels; "low-resolution" is enlarged back to the size of
    the image cropped to a multiple of its scale (so it is the image's size when that is already a multiple).
    ``generator`` names one registered generator of ``kind`` to make it with (default: drawn from ``synthesis``).
    """
    if kind == CLEAN:
        return quantize_uint8(image), 0.0
    if kind == "low-resolution":
        scale = sr_scale_of(severity)
        target = modcrop(image, scale)
        enlarged, info = degrade(target, kind, severity=severity, rng=rng, scale=scale, synthesis=synthesis,
                                 same_size=True, generator=generator)
        return quantize_uint8(enlarged), info.severity
    degraded, info = degrade(image, kind, severity=severity, rng=rng, synthesis=synthesis, generator=generator)
    return quantize_uint8(degraded), info.severity


@dataclass(frozen=True, kw_only=True)
class DetectionSample:
    """One detector call: the true type (``clean`` or a degradation kind) and what the detector said."""

    image: str
    true_type: str
    #: The severity asked for (None for clean) and the label ``degrade`` recorded for it.
    severity: float | None
    true_severity: float
    predicted_type: str
    predicted_severity: float
    confidence: float

    @property
    def correct(self) -> bool:
        return self.predicted_type == self.true_type


def _accuracy(samples: Sequence[DetectionSample]) -> float:
    return sum(s.correct for s in samples) / len(samples) if samples else math.nan


#: Confidence thresholds the report shows the effect of (``irtool restore --auto --min-confidence``).
MIN_CONFIDENCE_STEPS = (0.0, 0.5, 0.6, 0.7, 0.8)


@dataclass(kw_only=True)
class DetectionReport:
    """All detector calls of one run and the accuracies and confusion matrix derived from them."""

    detector: str
    source: str
    types: tuple[str, ...]
    severities: tuple[float, ...]
    seed: int
    images: int
    seconds: float
    samples: list[DetectionSample] = field(default_factory=list)
    #: The generator pool the degraded samples were drawn from ("default", "wide", "unseen"), or "files" for a
    #: labelled folder.
    synthesis: str = "default"

    @property
    def degraded(self) -> list[DetectionSample]:
        return [s for s in self.samples if s.true_type != CLEAN]

    @property
    def type_accuracy(self) -> float:
        """Share of degraded samples whose type was named correctly (all kinds and severities)."""
        return _accuracy(self.degraded)

    @property
    def clean_accuracy(self) -> float:
        """Share of clean samples called ``clean``."""
        return _accuracy([s for s in self.samples if s.true_type == CLEAN])

    def kind_accuracy(self) -> dict[str, float]:
        """Accuracy per true type (clean included), in :attr:`types` order."""
        return {t: _accuracy([s for s in self.samples if s.true_type == t]) for t in self.types}

    def kind_severity_accuracy(self) -> dict[str, dict[float, float]]:
        """Accuracy per degradation kind and requested severity."""
        return {t: {v: _accuracy([s for s in self.samples if s.true_type == t and s.severity == v])
                    for v in self.severities}
                for t in self.types if t != CLEAN}

    def severity_mae(self) -> dict[str, float]:
        """Mean |predicted - true| severity per kind, over the samples whose type was named correctly."""
        out = {}
        for t in self.types:
            if t == CLEAN:
                continue
            hits = [s for s in self.samples if s.true_type == t and s.correct]
            out[t] = float(np.mean([abs(s.predicted_severity - s.true_severity) for s in hits])) if hits else math.nan
        return out

    def gated_accuracy(self, min_confidence: float) -> tuple[float, float]:
        """(type accuracy, clean accuracy) when a detection less confident than ``min_confidence`` counts as
        ``clean``: what ``irtool restore --auto --min-confidence`` does (it copies such images)."""
        def said(s: DetectionSample) -> str:
            return CLEAN if s.confidence < min_confidence else s.predicted_type

        clean = [s for s in self.samples if s.true_type == CLEAN]
        degraded = self.degraded
        return (sum(said(s) == s.true_type for s in degraded) / len(degraded) if degraded else math.nan,
                sum(said(s) == CLEAN for s in clean) / len(clean) if clean else math.nan)

    def calibration(self, bins: Sequence[float] = CALIBRATION_BINS
                    ) -> tuple[float, list[tuple[str, int, float, float]]]:
        """(expected calibration error, one row per confidence bin: (range, samples, mean confidence, accuracy)).

        A detection reported at p% should be right about p% of the time; the error is the sample-weighted mean of
        |accuracy - mean confidence| over the bins (every sample, clean included: a "clean" call is a claim too)."""
        rows, error = [], 0.0
        edges = list(bins)
        for low, high in zip(edges[:-1], edges[1:]):
            last = high == edges[-1]
            inside = [s for s in self.samples if low <= s.confidence < high or (last and s.confidence == high)]
            if not inside:
                continue
            confidence = float(np.mean([s.confidence for s in inside]))
            accuracy = _accuracy(inside)
            rows.append((f"{low:.0%}-{high:.0%}", len(inside), confidence, accuracy))
            error += len(inside) * abs(accuracy - confidence)
        return (error / len(self.samples) if self.samples else math.nan), rows

    def confusion(self) -> np.ndarray:
        """Counts ``[true, predicted]`` over :attr:`types` (rows: true type incl. clean; columns: prediction)."""
        index = {t: i for i, t in enumerate(self.types)}
        matrix = np.zeros((len(self.types), len(self.types)), dtype=np.int64)
        for s in self.samples:
            matrix[index[s.true_type], index[s.predicted_type]] += 1
        return matrix

    def to_dict(self) -> dict[str, object]:
        def safe(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {
            "task": "detect",
            "detector": self.detector,
            "source": self.source,
            "seed": self.seed,
            "synthesis": self.synthesis,
            "severities": list(self.severities),
            "types": list(self.types),
            "images": self.images,
            "samples": len(self.samples),
            "seconds": self.seconds,
            "type_accuracy": safe(self.type_accuracy),
            "clean_accuracy": safe(self.clean_accuracy),
            "kind_accuracy": {k: safe(v) for k, v in self.kind_accuracy().items()},
            "kind_severity_accuracy": {k: {f"{sev:g}": safe(v) for sev, v in row.items()}
                                       for k, row in self.kind_severity_accuracy().items()},
            "severity_mae": {k: safe(v) for k, v in self.severity_mae().items()},
            "confusion": {"rows": "true type", "columns": "predicted type", "matrix": self.confusion().tolist()},
            "calibration_error": safe(self.calibration()[0]),
            "calibration": [{"confidence": r, "samples": n, "mean_confidence": c, "accuracy": a}
                            for r, n, c, a in self.calibration()[1]],
            "min_confidence": {f"{t:g}": {"type_accuracy": safe(a), "clean_accuracy": safe(c)}
                               for t in MIN_CONFIDENCE_STEPS for a, c in [self.gated_accuracy(t)]},
            "predictions": [{"image": s.image, "true_type": s.true_type, "severity": s.severity,
                             "predicted_type": s.predicted_type, "predicted_severity": round(s.predicted_severity, 4),
                             "confidence": round(s.confidence, 4)} for s in self.samples],
        }

    def to_markdown(self) -> str:
        """The confusion matrix and the summary as Markdown (for the README)."""
        matrix = self.confusion()
        lines = ["| true \\ predicted | " + " | ".join(self.types) + " | accuracy |",
                 "|---|" + "---:|" * (len(self.types) + 1)]
        accuracy = self.kind_accuracy()
        for name, row in zip(self.types, matrix):
            cells = " | ".join(f"**{n}**" if name == col else str(n) for col, n in zip(self.types, row))
            lines.append(f"| {name} | {cells} | {100 * accuracy[name]:.1f}% |")
        degraded = self.degraded
        lines += [
            "",
            f"Detector `{self.detector}` on {self.images} images ({self.source}), "
            + (f"severities {', '.join(f'{v:g}' for v in self.severities)}, seed {self.seed}, "
               f"{self.synthesis} synthesis" if self.synthesis != "files" else "labelled files")
            + ": type accuracy "
            f"{100 * self.type_accuracy:.1f}% ({sum(s.correct for s in degraded)}/{len(degraded)} degraded samples), "
            f"clean accuracy {100 * self.clean_accuracy:.1f}% "
            f"({sum(s.correct for s in self.samples if s.true_type == CLEAN)}/{len(self.samples) - len(degraded)}).",
            "",
            "| `restore --auto --min-confidence` | " + " | ".join(f"{t:g}" for t in MIN_CONFIDENCE_STEPS) + " |",
            "|---|" + "---:|" * len(MIN_CONFIDENCE_STEPS),
        ]
        gated = [self.gated_accuracy(t) for t in MIN_CONFIDENCE_STEPS]
        lines.append("| degraded: type named (else copied) | " + " | ".join(f"{100 * a:.1f}%" for a, _ in gated) + " |")
        lines.append("| clean: copied | " + " | ".join(f"{100 * c:.1f}%" for _, c in gated) + " |")
        error, rows = self.calibration()
        lines += ["", f"Calibration (a detection reported at p% should be right p% of the time): expected calibration "
                  f"error {100 * error:.1f} points.", "",
                  "| confidence | " + " | ".join(r for r, *_ in rows) + " |", "|---|" + "---:|" * len(rows),
                  "| detections | " + " | ".join(str(n) for _, n, _, _ in rows) + " |",
                  "| mean confidence | " + " | ".join(f"{100 * c:.0f}%" for _, _, c, _ in rows) + " |",
                  "| right | " + " | ".join(f"{100 * a:.0f}%" for *_, a in rows) + " |"]
        return "\n".join(lines)


def evaluate_detector(detector, folder: str | Path, *, severities: Sequence[float] = DEFAULT_SEVERITIES,
                      seed: int = 0, synthesis: str = "default",
                      progress: ProgressCallback | None = None) -> DetectionReport:
    """Run ``detector`` (an :class:`irtool.detect.Detector`) on every image of ``folder``, clean and degraded.

    Each image (whole, RGB) gives one clean sample plus one per (kind, severity); the degradation of a sample
    depends only on ``seed``, the image's name, the kind, the severity and the ``synthesis`` pool its generator is
    drawn from (``"wide"``: every registered generator, see :mod:`irtool.degradations`).
    """
    import torch

    from .benchmarks import folder_dataset
    from .runner import read_uint8

    severities = tuple(float(v) for v in severities)
    if not severities or any(not 0.0 <= v <= 1.0 for v in severities):
        raise UsageError(f"severities must be a non-empty list of values in [0, 1], got {list(severities)}")
    if len(set(severities)) != len(severities):
        raise UsageError(f"severities must be distinct, got {list(severities)}")
    types = tuple(detector.types)
    dataset = folder_dataset(folder)
    jobs = [(CLEAN, None)] + [(kind, sev) for kind in types if kind != CLEAN for sev in severities]
    report = DetectionReport(detector=str(getattr(detector, "name", "detector")), source=str(folder),
                             types=types, severities=severities, seed=int(seed),
                             images=len(dataset.samples), seconds=0.0, synthesis=synthesis)
    total, done = len(dataset.samples) * len(jobs), 0
    start = time.perf_counter()
    for sample in dataset.samples:
        clean = read_uint8(sample.gt, mode="rgb").astype(np.float32) / np.float32(255.0)
        for kind, severity in jobs:
            rng = _sample_rng(seed, sample.name, kind, 0.0 if severity is None else severity)
            pixels, label = detection_input(clean, kind, 0.0 if severity is None else severity, rng=rng,
                                            synthesis=synthesis)
            found = detector.detect(torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))))
            report.samples.append(DetectionSample(image=sample.name, true_type=kind, severity=severity,
                                                  true_severity=label, predicted_type=found.type,
                                                  predicted_severity=found.severity, confidence=found.confidence))
            done += 1
            if progress is not None:
                progress(done, total)
    report.seconds = time.perf_counter() - start
    return report


def evaluate_detector_on_files(detector, folder: str | Path, *,
                               progress: ProgressCallback | None = None) -> DetectionReport:
    """Run ``detector`` on degraded images made elsewhere: ``folder/<type>/**`` holds images whose true type is
    the subfolder's name (``clean`` or a degradation), e.g. from another library's generators
    (``scripts/heldout_degrade.py``). Severities are unknown, so the report has none."""
    import torch

    from irtool.io import list_images

    from .runner import read_uint8

    root = Path(folder)
    types = tuple(detector.types)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    labelled = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in labelled if p.name not in types]
    if unknown:
        raise UsageError(f"{root}: subfolders must be named by the detector's types ({', '.join(types)}); "
                         f"got {', '.join(unknown)}")
    files = [(sub.name, path) for sub in labelled for path in list_images(sub, recursive=True)]
    if not files:
        raise UsageError(f"no images under {root}/<type>/ (types: {', '.join(types)})")
    report = DetectionReport(detector=str(getattr(detector, "name", "detector")), source=str(root), types=types,
                             severities=(), seed=0, images=len(files), seconds=0.0, synthesis="files")
    start = time.perf_counter()
    for done, (kind, path) in enumerate(files, start=1):
        pixels = read_uint8(path, mode="rgb").astype(np.float32) / np.float32(255.0)
        found = detector.detect(torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))))
        report.samples.append(DetectionSample(image=str(path.relative_to(root)), true_type=kind,
                                              severity=None, true_severity=math.nan, predicted_type=found.type,
                                              predicted_severity=found.severity, confidence=found.confidence))
        if progress is not None:
            progress(done, len(files))
    report.seconds = time.perf_counter() - start
    return report
