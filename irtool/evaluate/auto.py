"""``irtool eval --task auto``: what ``irtool restore --auto`` does to degraded photos whose clean originals are known.

The folder is the labelled layout ``--task detect --labelled`` reads, with the clean originals beside:
``DIR/clean/PHOTO.ext`` and ``DIR/<type>/PHOTO__<setting>.ext`` (``scripts/heldout_degrade.py`` and
``scripts/make_degraded_set.py --labelled`` write it; a ``manifest.json`` naming each file's ``photo`` is read when
there is one). Every image goes through the same :meth:`~irtool.restore.BatchRestorer.auto_restore` as
``irtool restore --auto``; the report has, per true type, how often the detector named it and how often ``--auto``
acted on the right type (the detector's call, or the pixel test that overruled it), the PSNR of the input and
of ``--auto``'s output against the clean original, the gain, and how many images ``--auto`` made worse; for clean
photos, how many were left unchanged. Gains are also reported at the best shift (:func:`irtool.metrics.aligned_psnr`:
each image compared with its original at the integer displacement within 8 px that suits it best), because a blur
whose kernel is not centred displaces the photo, which no restorer can undo and plain PSNR then counts as harm.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from irtool.degradations import CLEAN
from irtool.errors import UsageError

__all__ = ["AutoReport", "AutoSample", "WORSE_DB", "compare_reports", "evaluate_auto"]

#: An output more than this below its input's PSNR counts as made worse (the issue's "no harm" line).
WORSE_DB = 0.1
#: The decision of an image ``--auto`` did not judge (too small), in :meth:`AutoReport.decisions`.
NOT_JUDGED = "not judged"
#: The largest displacement (px, each axis) the best-shift PSNR searches.
ALIGN_SHIFT = 8


@dataclass(frozen=True)
class AutoSample:
    image: str
    true_type: str
    setting: str
    detected: str | None
    #: The detector's confidence in ``detected`` (None when the image was not judged).
    confidence: float | None
    model: str
    psnr_input: float
    psnr_output: float
    unchanged: bool
    #: PSNR at the best shift within 8 px (see the module docstring); NaN when not measured.
    psnr_input_aligned: float = math.nan
    psnr_output_aligned: float = math.nan
    #: The type ``--auto`` acted on (the detector's call unless a pixel test overruled it; None: not judged).
    decided: str | None = None

    @property
    def gain(self) -> float:
        return _gain(self.psnr_input, self.psnr_output)

    @property
    def aligned_gain(self) -> float:
        return _gain(self.psnr_input_aligned, self.psnr_output_aligned)


def _gain(before: float, after: float) -> float:
    if math.isinf(before) and math.isinf(after):
        return 0.0
    return after - before


@dataclass
class AutoReport:
    source: str
    detector: str
    samples: list[AutoSample] = field(default_factory=list)
    seconds: float = 0.0
    #: The detector's labels, in its order (the confusion matrix's rows and columns).
    labels: tuple[str, ...] = ()

    def detection(self):
        """The same detector calls as a :class:`~irtool.evaluate.detection.DetectionReport` (confusion matrix,
        calibration) over the images that were judged."""
        from .detection import DetectionReport, DetectionSample

        judged = [s for s in self.samples if s.detected is not None and s.confidence is not None]
        report = DetectionReport(detector=self.detector, source=self.source,
                                 types=tuple(dict.fromkeys([*self.labels, *(s.true_type for s in judged),
                                                            *(str(s.detected) for s in judged)])),
                                 severities=(), seed=0, images=len(judged), seconds=self.seconds, synthesis="files")
        report.samples = [DetectionSample(image=s.image, true_type=s.true_type, severity=None, true_severity=math.nan,
                                          predicted_type=str(s.detected), predicted_severity=math.nan,
                                          confidence=float(s.confidence or 0.0)) for s in judged]
        return report

    def types(self) -> list[str]:
        return list(dict.fromkeys(s.true_type for s in self.samples))

    def decisions(self) -> dict[str, dict[str, int]]:
        """The confusion matrix of what ``--auto`` did: per true type, how many images it acted on as each type
        (``clean``: copied as clean; ``not judged``: too small to judge), after the pixel tests."""
        matrix: dict[str, dict[str, int]] = {kind: {} for kind in self.types()}
        for sample in self.samples:
            row = matrix[sample.true_type]
            decided = sample.decided or NOT_JUDGED
            row[decided] = row.get(decided, 0) + 1
        return matrix

    def patched(self, subset: AutoReport) -> AutoReport:
        """This report with ``subset``'s results in place of its own for the images ``subset`` scored: a candidate
        run only on the images it can change (e.g. those sent to the route it replaces), read as a whole-set run."""
        theirs = {s.image: s for s in subset.samples}
        unknown = sorted(theirs.keys() - {s.image for s in self.samples})
        if unknown:
            raise UsageError(f"{subset.source} scored {len(unknown)} image(s) {self.source} did not, e.g. {unknown[0]}")
        return AutoReport(source=self.source, detector=self.detector, labels=self.labels, seconds=self.seconds,
                          samples=[theirs.get(s.image, s) for s in self.samples])

    @classmethod
    def from_dict(cls, data: dict) -> AutoReport:
        """The report :meth:`to_dict` wrote (the ``auto`` entry of ``irtool eval --task auto --json``). JSON has no
        infinity, so a PSNR saved as null is read back as infinite (an output equal to its original) and a
        best-shift PSNR as infinite where the plain one is, else NaN (not measured)."""
        def db(value: object, fallback: float) -> float:
            return fallback if value is None else float(value)  # type: ignore[arg-type]

        samples = []
        for item in data["samples"]:
            psnr_input, psnr_output = db(item["psnr_input"], math.inf), db(item["psnr_output"], math.inf)
            samples.append(AutoSample(
                image=item["image"], true_type=item["true_type"], setting=item.get("setting", ""),
                detected=item.get("detected"), confidence=item.get("confidence"), model=item["model"],
                psnr_input=psnr_input, psnr_output=psnr_output, unchanged=bool(item["unchanged"]),
                psnr_input_aligned=db(item.get("psnr_input_aligned"), math.inf if math.isinf(psnr_input) else math.nan),
                psnr_output_aligned=db(item.get("psnr_output_aligned"),
                                       math.inf if math.isinf(psnr_output) else math.nan),
                decided=item.get("decided")))
        labels = tuple((data.get("detection") or {}).get("types") or ())
        return cls(source=str(data.get("source", "")), detector=str(data.get("detector", "")), samples=samples,
                   seconds=float(data.get("seconds") or 0.0), labels=labels)

    def save(self, path: str | Path) -> Path:
        """Write the report as ``irtool eval --task auto --json FILE`` does (what :meth:`load` reads back)."""
        from irtool.io import atomic_write_text

        payload = {"tool": "irtool eval", "auto": self.to_dict(), "markdown": self.to_markdown()}
        return atomic_write_text(path, json.dumps(payload, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> AutoReport:
        """The report of an ``irtool eval --task auto --json FILE`` run."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_dict(data["auto"] if "auto" in data else data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not a report of `irtool eval --task auto --json` ({exc})") from None

    def rows(self) -> list[dict[str, object]]:
        """One row per true type: images, named right, mean PSNR in/out, mean and worst gain, images made worse."""
        rows = []
        for kind in self.types():
            group = [s for s in self.samples if s.true_type == kind]
            finite = [s for s in group if math.isfinite(s.psnr_input)]
            rows.append({
                "type": kind,
                "images": len(group),
                "named": sum(s.detected == kind for s in group) / len(group),
                "decided": sum(s.decided == kind for s in group) / len(group),
                "unchanged": sum(s.unchanged for s in group) / len(group),
                "psnr_input": float(np.mean([s.psnr_input for s in finite])) if finite else math.inf,
                "psnr_output": float(np.mean([s.psnr_output for s in finite])) if finite else math.inf,
                "gain": float(np.mean([s.gain for s in group])),
                "worst_gain": float(min(s.gain for s in group)),
                "worse": sum(s.gain < -WORSE_DB for s in group),
                "aligned_gain": float(np.mean([s.aligned_gain for s in group])),
                "aligned_worse": sum(s.aligned_gain < -WORSE_DB for s in group),
            })
        return rows

    def to_dict(self) -> dict[str, object]:
        def safe(value: object) -> object:
            return None if isinstance(value, float) and not math.isfinite(value) else value

        detection = self.detection().to_dict()
        for key in ("predictions", "severity_mae", "kind_severity_accuracy"):  # the samples carry them / no severities
            detection.pop(key)
        return {"source": self.source, "detector": self.detector, "seconds": round(self.seconds, 2),
                "worse_db": WORSE_DB, "types": [{k: safe(v) for k, v in row.items()} for row in self.rows()],
                "detection": detection,
                "samples": [{**{k: safe(v) for k, v in s.__dict__.items()}, "gain": safe(s.gain),
                             "aligned_gain": safe(s.aligned_gain)} for s in self.samples]}

    def to_markdown(self) -> str:
        lines = [f"`--auto` on {self.source} (detector {self.detector}; worse: PSNR more than {WORSE_DB} dB below "
                 "the input's)", "",
                 "| true type | images | named right | decided right | left unchanged | PSNR in | PSNR out | "
                 "mean gain | worst gain | made worse | gain at best shift | worse at best shift |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        def db(value: object, sign: str = "") -> str:
            return "-" if not isinstance(value, float) or not math.isfinite(value) else f"{value:{sign}.2f}"

        for row in self.rows():
            # A clean photo's input PSNR is infinite: its row counts the images --auto changed instead of gains.
            worse = f"{row['worse']} changed" if row["type"] == CLEAN else str(row["worse"])
            aligned_worse = f"{row['aligned_worse']} changed" if row["type"] == CLEAN else str(row["aligned_worse"])
            lines.append(f"| {row['type']} | {row['images']} | {row['named']:.0%} | {row['decided']:.0%} | "
                         f"{row['unchanged']:.0%} | "
                         f"{db(row['psnr_input'])} | {db(row['psnr_output'])} | {db(row['gain'], '+')} | "
                         f"{db(row['worst_gain'], '+')} | {worse} | {db(row['aligned_gain'], '+')} | {aligned_worse} |")
        judged = [s for s in self.samples if s.decided is not None]
        degraded = [s for s in judged if s.true_type != CLEAN]
        clean = [s for s in judged if s.true_type == CLEAN]
        if judged:
            right, clean_right = (sum(s.decided == s.true_type for s in group) for group in (degraded, clean))
            lines += ["", f"`--auto` acted on the right type for {right / max(1, len(degraded)):.1%} ({right}/"
                      f"{len(degraded)}) of the degraded images and treated {clean_right}/{len(clean)} clean ones "
                      "as clean (the detector's call unless a pixel test overruled it)."]
        return "\n".join([*lines, "", *self.decisions_markdown(), "", "What the detector said:", "",
                          self.detection().to_markdown()])

    def decisions_markdown(self) -> list[str]:
        """:meth:`decisions` as a Markdown table (columns: the detector's labels, then any other decision)."""
        matrix = self.decisions()
        columns = list(dict.fromkeys([*self.labels, *(d for row in matrix.values() for d in row)]))
        lines = ["What `--auto` acted on (rows: the true type; columns: the type it restored the image as, after the "
                 "pixel tests; clean: copied):", "",
                 "| true \\ acted on | " + " | ".join(columns) + " | right |",
                 "|---|" + "---:|" * (len(columns) + 1)]
        for kind, row in matrix.items():
            total = sum(row.values())
            cells = [f"**{row.get(c, 0)}**" if c == kind else str(row.get(c, 0)) for c in columns]
            lines.append(f"| {kind} | " + " | ".join(cells) + f" | {row.get(kind, 0) / max(1, total):.1%} |")
        return lines


def compare_reports(before: AutoReport, after: AutoReport, *, changed: bool = True) -> str:
    """Markdown: per true type, ``before`` against ``after`` (mean gain, images made worse, decided right, left
    unchanged) over the images both scored, then (``changed``) every image whose decision, model or gain (by more
    than 0.05 dB) differs. How a candidate is read against the shipped run.

    The made-worse count is a line at -0.1 dB, so an image already within a hair of it flips on any change; the
    summary also counts the degraded images the candidate makes worse by more than 0.1 dB *below their gain
    before* (``made worse anew``), which a change of a few hundredths cannot move."""
    theirs = {s.image: s for s in after.samples}
    pairs = [(s, theirs[s.image]) for s in before.samples if s.image in theirs]
    if not pairs:
        raise UsageError("the two reports share no image")
    lines = [f"{before.source} ({len(pairs)} images in both): before -> after", "",
             "| true type | images | mean gain | made worse | decided right | left unchanged |",
             "|---|---:|---:|---:|---:|---:|"]

    def gain(group: list[AutoSample]) -> str:
        finite = [s.gain for s in group if math.isfinite(s.gain)]
        return f"{np.mean(finite):+.2f}" if finite else "-"

    for kind in dict.fromkeys(s.true_type for s, _ in pairs):
        group = [(a, b) for a, b in pairs if a.true_type == kind]
        olds, news = [a for a, _ in group], [b for _, b in group]
        if kind == CLEAN:
            worse = f"{sum(not s.unchanged for s in olds)} -> {sum(not s.unchanged for s in news)} changed"
            gains = "-"
        else:
            worse = f"{sum(s.gain < -WORSE_DB for s in olds)} -> {sum(s.gain < -WORSE_DB for s in news)}"
            gains = f"{gain(olds)} -> {gain(news)}"
        right = f"{sum(s.decided == kind for s in olds)} -> {sum(s.decided == kind for s in news)}"
        kept = f"{sum(s.unchanged for s in olds)} -> {sum(s.unchanged for s in news)}"
        lines.append(f"| {kind} | {len(group)} | {gains} | {worse} | {right} | {kept} |")
    degraded = [(a, b) for a, b in pairs if a.true_type != CLEAN]
    lines += ["", f"Degraded images made worse: {sum(a.gain < -WORSE_DB for a, _ in degraded)} -> "
              f"{sum(b.gain < -WORSE_DB for _, b in degraded)}; decided right: "
              f"{sum(a.decided == a.true_type for a, _ in degraded)} -> "
              f"{sum(b.decided == b.true_type for _, b in degraded)} of {len(degraded)}.",
              f"Made worse anew (worse than the input and more than {WORSE_DB} dB below before): "
              f"{sum(_made_worse_anew(a.gain, b.gain) for a, b in degraded)}; the reverse: "
              f"{sum(_made_worse_anew(b.gain, a.gain) for a, b in degraded)}."]
    if changed:
        moved = [(a, b) for a, b in pairs if a.decided != b.decided or a.model != b.model
                 or not _same_gain(a.gain, b.gain)]
        lines += ["", f"Images whose outcome changed: {len(moved)}", ""]
        lines += [f"- {a.image}: {a.decided} / {a.model} / {_db(a.gain)} -> {b.decided} / {b.model} / {_db(b.gain)}"
                  for a, b in moved]
    return "\n".join(lines)


def _made_worse_anew(before: float, after: float) -> bool:
    """Worse than the input by more than WORSE_DB and more than WORSE_DB below ``before`` (a copy, no gain, reads 0)."""
    if not math.isfinite(after) or after >= -WORSE_DB:
        return False
    return not math.isfinite(before) or after < before - WORSE_DB


def _same_gain(a: float, b: float) -> bool:
    return a == b or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 0.05)


def _db(value: float) -> str:
    return f"{value:+.2f} dB" if math.isfinite(value) else "-"


def _originals(root: Path) -> dict[str, str]:
    """Degraded file (relative path) -> its clean photo's file name, from ``manifest.json`` when there is one."""
    manifest = root / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        return {str(item["file"]): str(item["photo"]) for item in files if "photo" in item}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{manifest}: cannot read it ({exc})") from None


def labelled_pairs(folder: str | Path) -> list[tuple[str, Path, Path]]:
    """(true type, degraded file, its clean original) for every image of a labelled folder (the module docstring's
    layout); a clean image is its own original."""
    from irtool import io
    from irtool.degradations import detector_types

    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    clean_dir = root / CLEAN
    if not clean_dir.is_dir():
        raise UsageError(f"{root} has no {CLEAN}/ folder of the originals (--task auto scores against them)")
    known = set(detector_types())
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in subfolders if p.name not in known]
    if unknown:
        raise UsageError(f"{root}: subfolders must be named by degradation types ({', '.join(sorted(known))}); "
                         f"got {', '.join(unknown)}")
    originals = {p.stem: p for p in io.list_images(clean_dir)}
    from_manifest = _originals(root)
    files = [(sub.name, path) for sub in subfolders for path in io.list_images(sub, recursive=True)]
    if not files:
        raise UsageError(f"no images under {root}/<type>/")

    def original_of(kind: str, path: Path) -> Path:
        rel = path.relative_to(root).as_posix()
        if kind == CLEAN:
            return path
        photo = from_manifest.get(rel)
        stem = Path(photo).stem if photo else path.stem.split("__")[0]
        if stem not in originals:
            raise UsageError(f"{rel}: no clean original {stem}.* in {clean_dir}")
        return originals[stem]

    return [(kind, path, original_of(kind, path)) for kind, path in files]


def evaluate_auto(restorer, folder: str | Path, *,
                  progress: Callable[[int, int], None] | None = None) -> AutoReport:
    """Run ``restorer`` (an ``auto`` :class:`~irtool.restore.BatchRestorer`) on every image of the labelled folder
    and score its outputs against the clean originals (see the module docstring)."""
    from irtool import io
    from irtool.metrics import psnr

    root = Path(folder)
    pairs = labelled_pairs(root)
    restorer.prepare()
    detector = getattr(restorer, "_detector", None)
    report = AutoReport(source=str(root), detector=str(getattr(detector, "name", "detector")),
                        labels=tuple(getattr(detector, "types", ())))
    started = time.perf_counter()
    for done, (kind, path, original) in enumerate(pairs, start=1):
        image = io.read_image(path)
        clean = io.read_image(original).pixels
        outcome = restorer.auto_restore(image.pixels)
        output = image.pixels if outcome.pixels is None else outcome.pixels
        if clean.shape != image.pixels.shape or output.shape != clean.shape:
            raise UsageError(f"{path.relative_to(root)}: {image.pixels.shape} does not match its original's "
                             f"{clean.shape}")
        report.samples.append(AutoSample(
            image=path.relative_to(root).as_posix(), true_type=kind,
            setting=path.stem.split("__")[1] if "__" in path.stem else "",
            detected=outcome.detection.type if outcome.detection else None,
            confidence=outcome.detection.confidence if outcome.detection else None, model=outcome.model,
            psnr_input=psnr(image.pixels, clean), psnr_output=psnr(output, clean),
            unchanged=outcome.pixels is None, psnr_input_aligned=_aligned(image.pixels, clean),
            psnr_output_aligned=_aligned(output, clean), decided=outcome.decided))
        if progress is not None:
            progress(done, len(pairs))
    report.seconds = time.perf_counter() - started
    return report


def _aligned(image: np.ndarray, clean: np.ndarray) -> float:
    """PSNR at the best shift, or NaN for an image too small to shift 8 px each way."""
    from irtool.metrics import aligned_psnr

    if min(image.shape[:2]) <= 2 * ALIGN_SHIFT:
        return math.nan
    return aligned_psnr(image, clean, max_shift=ALIGN_SHIFT)[0]
