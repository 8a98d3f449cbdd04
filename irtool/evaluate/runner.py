"""Evaluation runner: score models (and the trivial baseline) on one dataset under one pinned protocol.

For each image the degraded input is made once (or read from the benchmark), every model restores it through its
:class:`~irtool.engine.InferenceEngine` (the same tiling path as ``irtool restore``), and the output is scored as
the :class:`~irtool.evaluate.protocols.Protocol` says. ``None`` in the model list is the baseline: the degraded
input itself, or for SR its MATLAB-bicubic upscale, scored exactly like a model output. Anything with
``restore_image(HxWxC float) -> HxWxC float`` (an :class:`ImageRestorer`, e.g. the classical denoisers of
:mod:`irtool.evaluate.classical`) is scored the same way, as another baseline row.

Metric families: ``wang-gaussian11`` uses :mod:`irtool.metrics` (BasicSR-equal); ``skimage-uniform7`` calls
scikit-image's ``peak_signal_noise_ratio`` / ``structural_similarity`` with ``data_range=1`` on float32 arrays,
which is what the PromptIR/HAIR ``compute_psnr_ssim`` does.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, runtime_checkable
from typing import Protocol as TypingProtocol

import numpy as np
from PIL import Image

from irtool.degradations import task_scale
from irtool.degrade import downscale, imresize, jpeg_compress, modcrop, to_uint8
from irtool.errors import InputError, UsageError
from irtool.io.atomic import atomic_output, atomic_write_text
from irtool.metrics import psnr, rgb_to_y, ssim

from .benchmarks import EvalDataset, EvalSample
from .protocols import JPEG_ENCODERS, Protocol, get_protocol

if TYPE_CHECKING:
    from irtool.zoo import LoadedModel

__all__ = [
    "EvalReport",
    "ImageRestorer",
    "ImageResult",
    "ModelSummary",
    "PreparedImage",
    "evaluate",
    "make_noisy",
    "prepare_image",
    "read_uint8",
    "reports_to_json",
    "score",
    "write_csv",
    "write_json",
]

ProgressCallback = Callable[[int, int], None]


@runtime_checkable
class ImageRestorer(TypingProtocol):
    """A restorer without a network engine (e.g. a classical denoiser): scored as a baseline row."""

    name: str
    scale: int
    parameters: int

    def restore_image(self, image: np.ndarray) -> np.ndarray:
        """HxWxC float in [0, 1] (may overshoot) -> the restored HxWxC float image."""
        ...


@dataclass(frozen=True, kw_only=True)
class ImageResult:
    benchmark: str
    model: str
    image: str
    psnr: float
    ssim: float
    seconds: float
    megapixels: float


@dataclass(frozen=True, kw_only=True)
class ModelSummary:
    """Mean over a benchmark's images for one model (the baseline has ``baseline=True`` and 0 parameters)."""

    benchmark: str
    model: str
    baseline: bool
    images: int
    psnr: float
    ssim: float
    parameters: int
    seconds_per_megapixel: float
    #: The precision the network ran in ("fp32", "bf16", ...; "-" for baselines), as the engine resolved it.
    precision: str = "-"


@dataclass(kw_only=True)
class EvalReport:
    """Per-image rows and per-model means for one benchmark, with the protocol that produced them."""

    protocol: Protocol
    task: str
    benchmark: str
    source: str
    lq_source: str
    sigma: float | None = None
    quality: int | None = None
    images: list[ImageResult] = field(default_factory=list)
    summaries: list[ModelSummary] = field(default_factory=list)

    @property
    def protocol_label(self) -> str:
        return self.protocol.label(sigma=self.sigma, quality=self.quality)

    def summary(self, model: str) -> ModelSummary:
        for s in self.summaries:
            if s.model == model:
                return s
        raise KeyError(model)

    def to_dict(self) -> dict[str, object]:
        return {
            "protocol": self.protocol.name,
            "protocol_label": self.protocol_label,
            "protocol_settings": self.protocol.settings(),
            "task": self.task,
            "sigma": self.sigma,
            "quality": self.quality,
            "benchmark": self.benchmark,
            "source": self.source,
            "inputs": self.lq_source,
            "summary": [_json_safe(asdict(s)) for s in self.summaries],
            "images": [_json_safe(asdict(r)) for r in self.images],
        }


def _json_safe(row: dict[str, object]) -> dict[str, object]:
    # JSON has no infinity: an identical image's PSNR is written as the string "inf".
    return {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in row.items()}


# ------------------------------------------------------------------------------------------ image handling


def read_uint8(path: Path, *, mode: str) -> np.ndarray:
    """An 8-bit benchmark image as HxWxC uint8: ``rgb`` (C=3), ``luma`` (Pillow L, C=1; for gray test sets, like
    OpenCV's IMREAD_GRAYSCALE) or ``matlab-y`` (gray files as they are, colour files -> MATLAB rgb2ycbcr Y, rounded).

    Benchmarks are read with Pillow directly, without EXIF rotation or colour management, so pixels are exactly
    the file's (what OpenCV/PIL-based reference scripts see).
    """
    try:
        with Image.open(path) as img:
            img.load()
            if mode == "rgb":
                return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
            is_gray = _pil_is_gray(img)
            if mode == "luma" or (mode == "matlab-y" and is_gray):
                return np.asarray(img.convert("L"), dtype=np.uint8)[:, :, None].copy()
            if mode == "matlab-y":
                return rgb_to_y(np.asarray(img.convert("RGB"), dtype=np.uint8))[:, :, None]
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    raise UsageError(f"unknown read mode {mode!r}")


def _pil_is_gray(img: Image.Image) -> bool:
    if img.mode in ("L", "1"):
        return True
    rgb = np.asarray(img.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def _center_crop(img: np.ndarray, base: int) -> np.ndarray:
    """HAIR's ``crop_img``: keep the centred region whose sides are multiples of ``base``."""
    h, w = img.shape[:2]
    ch, cw = h % base, w % base
    return img[ch // 2 : h - ch + ch // 2, cw // 2 : w - cw + cw // 2].copy()


def make_noisy(gt: np.ndarray, protocol: Protocol, *, sigma: float,
               stream: np.random.RandomState | None = None) -> np.ndarray:
    """The noisy input (float32 HxWxC, [0, 1] scale) for uint8 ground truth ``gt`` under a denoise protocol.

    ``float-seed-per-image``: ``gt/255 + N(0, sigma/255)`` from ``np.random.seed(protocol.seed)`` reset for this
    image, drawn in BGR layout when the protocol says so; not clipped, not quantized (values may leave [0, 1]).
    ``uint8-clip-truncate-stream``: ``uint8(clip(gt + randn * sigma, 0, 255))`` (truncation, not rounding) drawn
    from ``stream``, the run's single legacy RandomState (created from the seed when not given).
    """
    if protocol.noise == "float-seed-per-image":
        rs = np.random.RandomState(protocol.seed)
        shape = gt.shape
        if protocol.noise_layout == "bgr" and gt.shape[2] == 3:
            noise = rs.normal(0.0, sigma / 255.0, shape)[:, :, ::-1]
        else:
            noise = rs.normal(0.0, sigma / 255.0, shape)
        return (gt.astype(np.float32) / np.float32(255.0) + noise).astype(np.float32)
    if protocol.noise == "uint8-clip-truncate-stream":
        rs = stream if stream is not None else np.random.RandomState(protocol.seed)
        noisy = np.clip(gt + rs.randn(*gt.shape) * sigma, 0, 255).astype(np.uint8)
        return noisy.astype(np.float32) / np.float32(255.0)
    raise UsageError(f"protocol {protocol.name!r} does not add Gaussian noise")


@dataclass(frozen=True, kw_only=True)
class PreparedImage:
    """Ground truth (uint8 HxWxC), model input (float32 HxWxC) and the baseline output (float HxWxC)."""

    gt: np.ndarray
    model_input: np.ndarray
    baseline: np.ndarray
    baseline_seconds: float


def prepare_image(sample: EvalSample, protocol: Protocol, *, task: str, gray: bool, sigma: float | None,
                  quality: int | None, stream: np.random.RandomState | None = None) -> PreparedImage:
    """Read, crop and degrade one sample as ``protocol`` prescribes (given input files take precedence)."""
    mode = "matlab-y" if protocol.channel == "gray" else ("luma" if gray else "rgb")
    gt = read_uint8(sample.gt, mode=mode)
    scale = task_scale(task)
    # An SR protocol that always synthesises its LR ignores the archive's; every other protocol reads given inputs.
    given = sample.lq if protocol.lr_source != "matlab-bicubic" else None
    lq_u8 = read_uint8(given, mode=mode) if given is not None else None
    if protocol.size_policy == "modcrop-scale":
        gt = modcrop(gt, scale)
    elif protocol.size_policy == "center-crop-16":
        gt = _center_crop(gt, 16)
        if lq_u8 is not None:
            lq_u8 = _center_crop(lq_u8, 16)

    if protocol.degradation == "sr-bicubic":
        if lq_u8 is not None:
            lh, lw = lq_u8.shape[:2]
            if gt.shape[0] < lh * scale or gt.shape[1] < lw * scale or gt.shape[0] - lh * scale >= scale \
                    or gt.shape[1] - lw * scale >= scale:
                raise InputError(
                    f"{sample.name}: LR {lw}x{lh} does not match HR {gt.shape[1]}x{gt.shape[0]} at x{scale}"
                )
            gt = gt[: lh * scale, : lw * scale]
            lr = lq_u8.astype(np.float32) / np.float32(255.0)
        else:
            lr = downscale(gt.astype(np.float32) / np.float32(255.0), scale=scale)
        start = time.perf_counter()
        baseline = imresize(lr, float(scale))
        return PreparedImage(gt=gt, model_input=lr, baseline=baseline, baseline_seconds=time.perf_counter() - start)

    if lq_u8 is not None:
        if lq_u8.shape != gt.shape:
            raise InputError(f"{sample.name}: input {lq_u8.shape[1]}x{lq_u8.shape[0]} and ground truth "
                             f"{gt.shape[1]}x{gt.shape[0]} differ in size")
        lq = lq_u8.astype(np.float32) / np.float32(255.0)
    elif protocol.degradation == "gaussian-noise":
        assert sigma is not None
        lq = make_noisy(gt, protocol, sigma=sigma, stream=stream)
    elif protocol.degradation == "jpeg":
        assert quality is not None
        lq = jpeg_compress(gt.astype(np.float32) / np.float32(255.0), quality=quality,
                           subsampling=JPEG_ENCODERS[protocol.jpeg_encoder or "pillow"])
    else:
        raise UsageError(f"protocol {protocol.name!r} needs paired data: {sample.name} has no degraded input "
                         "(pass --data-lq DIR)")
    return PreparedImage(gt=gt, model_input=lq, baseline=lq, baseline_seconds=0.0)


# ---------------------------------------------------------------------------------------------- scoring


def _gray_mean(img255: np.ndarray) -> float:
    if img255.shape[2] == 3:
        return float(np.mean(img255 @ np.array([0.299, 0.587, 0.114])))
    return float(np.mean(img255))


def _skimage_ssim(a: np.ndarray, b: np.ndarray, *, data_range: float) -> float:
    from skimage.metrics import structural_similarity

    if a.ndim == 2 or a.shape[2] == 1:
        return float(structural_similarity(a.reshape(a.shape[:2]), b.reshape(b.shape[:2]), data_range=data_range))
    return float(structural_similarity(a, b, data_range=data_range, channel_axis=2))


def score(output: np.ndarray, gt: np.ndarray, protocol: Protocol, *, task: str) -> tuple[float, float]:
    """(PSNR, SSIM) of a float HxWxC output in [0, 1] (may overshoot) against uint8 ground truth.

    ``protocol.output`` decides the image that is scored and its PSNR (BasicSR's on the rounded 8-bit image, or
    scikit-image's on the clipped float one, as the HAIR/PromptIR script); ``protocol.ssim`` decides the SSIM.
    """
    out = output.astype(np.float64)
    if protocol.gt_mean:
        # LLFlow-style: match the gray mean of the output to the ground truth's.
        ratio = _gray_mean(gt.astype(np.float64)) / max(_gray_mean(np.clip(out, 0, 1) * 255.0), 1e-12)
        out = np.clip(out * ratio, 0.0, 1.0)
    if protocol.output == "clip-float":
        from skimage.metrics import peak_signal_noise_ratio

        if protocol.channel != "rgb" or protocol.crop_border != 0:
            raise UsageError(f"protocol {protocol.name!r}: clip-float scoring is defined on whole RGB images only")
        restored = np.clip(out, 0.0, 1.0).astype(np.float32)
        clean = gt.astype(np.float32) / np.float32(255.0)
        value = float(peak_signal_noise_ratio(clean, restored, data_range=1))
        if protocol.ssim == "skimage-uniform7":
            return value, _skimage_ssim(clean, restored, data_range=1)
        return value, ssim(restored.astype(np.float64) * 255.0, gt.astype(np.float64))
    restored_u8 = to_uint8(out)
    border = task_scale(task) if protocol.crop_border == "scale" else int(protocol.crop_border)
    a, b = restored_u8, gt
    if protocol.channel == "y-uint8" and a.shape[2] == 3:
        a, b = rgb_to_y(a), rgb_to_y(b)
    y_float = protocol.channel == "y-float"
    value = psnr(a, b, crop_border=border, y_channel=y_float)
    if protocol.ssim == "skimage-uniform7":
        if y_float and a.shape[2] == 3:
            a, b = (rgb_to_y(x.astype(np.float64) / 255.0) * 255.0 for x in (a, b))
        if border:
            a, b = a[border:-border, border:-border], b[border:-border, border:-border]
        return value, _skimage_ssim(np.asarray(a, np.float64), np.asarray(b, np.float64), data_range=255.0)
    return value, ssim(a, b, crop_border=border, y_channel=y_float)


# ---------------------------------------------------------------------------------------------- running


def _run_model(model, image: np.ndarray) -> np.ndarray:
    """HxWxC float -> HxWxC float: a ``LoadedModel`` through :meth:`~irtool.zoo.LoadedModel.run_image` (as
    ``irtool restore`` runs it, gray data included), an :class:`ImageRestorer` directly."""
    if isinstance(model, ImageRestorer):
        return np.asarray(model.restore_image(image))
    return model.run_image(image)


def _save(path: Path, image: np.ndarray) -> None:
    pixels = to_uint8(np.asarray(image, dtype=np.float32))
    with atomic_output(path) as handle:
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(handle, format="PNG")


def _check_classical(models: Sequence[object | None], protocol: Protocol, sigma: float | None) -> None:
    from .classical import ClassicalDenoiser

    for model in models:
        if not isinstance(model, ClassicalDenoiser):
            continue
        if protocol.degradation != "gaussian-noise":
            raise UsageError(f"the classical denoiser {model.name!r} only applies to Gaussian denoising, "
                             f"not protocol {protocol.name!r}")
        if sigma is not None and model.sigma != sigma:
            raise UsageError(f"the classical denoiser {model.name!r} is set for sigma {model.sigma:g}, "
                             f"the run adds sigma {sigma:g}")


def evaluate(
    models: Sequence[LoadedModel | ImageRestorer | None],
    dataset: EvalDataset,
    protocol: Protocol | str | None,
    *,
    task: str,
    sigma: float | None = None,
    quality: int | None = None,
    save_images: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> EvalReport:
    """Score every model (``LoadedModel``, an :class:`ImageRestorer`, or ``None`` = the baseline) on every image
    of ``dataset``.

    Returns per-image rows and per-model means. The baseline is named ``bicubic`` for SR and ``input`` otherwise;
    image restorers are baselines too (``ModelSummary.baseline``).
    """
    if not isinstance(protocol, Protocol):
        protocol = get_protocol(protocol, task=task)
    elif task not in protocol.tasks:
        raise UsageError(f"protocol {protocol.name!r} is for {', '.join(protocol.tasks)}, not {task!r}")
    if not models:
        raise UsageError("nothing to evaluate: give at least one model or the baseline (None)")
    scale = task_scale(task)
    for model in models:
        if model is not None and model.scale != scale:
            raise UsageError(f"{model.name} upscales x{model.scale}, task {task} needs x{scale}")
    if protocol.degradation == "gaussian-noise":
        sigma = protocol.default_sigma if sigma is None else float(sigma)
    else:
        sigma = None
    if protocol.degradation == "jpeg":
        quality = protocol.default_quality if quality is None else int(quality)
    else:
        quality = None
    _check_classical(models, protocol, sigma)
    baseline_name = "bicubic" if protocol.degradation == "sr-bicubic" else "input"
    names = [baseline_name if m is None else str(m.name) for m in models]
    if len(set(names)) != len(names):
        raise UsageError(f"model names must be distinct in one run, got {names}")

    # dn-airnet: one legacy stream for the whole run, consumed image after image (as HAIR's test script does).
    stream = np.random.RandomState(protocol.seed) if protocol.noise == "uint8-clip-truncate-stream" else None
    report = EvalReport(protocol=protocol, task=task, benchmark=dataset.name, source=dataset.source,
                        lq_source=dataset.lq_source, sigma=sigma, quality=quality)
    seconds = {n: 0.0 for n in names}
    megapixels = 0.0
    total, done = len(dataset.samples) * len(models), 0
    warmed = False
    for sample in dataset.samples:
        prepared = prepare_image(sample, protocol, task=task, gray=dataset.gray, sigma=sigma, quality=quality,
                                 stream=stream)
        if not warmed:
            # One untimed pass per model, so one-off set-up (allocator, kernels) does not skew seconds/megapixel.
            for model in models:
                if isinstance(model, ImageRestorer):
                    # Only lazy imports to pay for here: a corner is enough and costs nothing.
                    _run_model(model, prepared.model_input[:16, :16])
                elif model is not None:
                    _run_model(model, prepared.model_input)
            warmed = True
        mp = prepared.gt.shape[0] * prepared.gt.shape[1] / 1e6
        megapixels += mp
        for model, name in zip(models, names):
            if model is None:
                output, elapsed = prepared.baseline, prepared.baseline_seconds
            else:
                start = time.perf_counter()
                output = _run_model(model, prepared.model_input)
                elapsed = time.perf_counter() - start
            if output.shape[:2] != prepared.gt.shape[:2]:
                raise UsageError(f"{name} returned {output.shape[1]}x{output.shape[0]} for a "
                                 f"{prepared.gt.shape[1]}x{prepared.gt.shape[0]} ground truth")
            value, sim = score(output, prepared.gt, protocol, task=task)
            seconds[name] += elapsed
            report.images.append(ImageResult(benchmark=dataset.name, model=name, image=sample.name, psnr=value,
                                             ssim=sim, seconds=elapsed, megapixels=mp))
            if save_images is not None:
                _save(Path(save_images) / dataset.name / name.replace("/", "_") / f"{sample.name}.png", output)
            done += 1
            if progress is not None:
                progress(done, total)

    from irtool.models import count_parameters

    for model, name in zip(models, names):
        rows = [r for r in report.images if r.model == name]
        restorer = isinstance(model, ImageRestorer)
        if model is None:
            parameters = 0
        elif isinstance(model, ImageRestorer):
            parameters = model.parameters
        else:
            parameters = count_parameters(model.module)
        report.summaries.append(ModelSummary(
            benchmark=dataset.name, model=name, baseline=model is None or restorer, images=len(rows),
            psnr=float(np.mean([r.psnr for r in rows])) if rows else math.nan,
            ssim=float(np.mean([r.ssim for r in rows])) if rows else math.nan,
            parameters=parameters,
            seconds_per_megapixel=seconds[name] / megapixels if megapixels else math.nan,
            precision="-" if model is None or isinstance(model, ImageRestorer) else model.engine.precision,
        ))
    return report


# ---------------------------------------------------------------------------------------------- files

_CSV_COLUMNS = ("protocol", "task", "benchmark", "model", "image", "psnr", "ssim", "seconds", "megapixels")


def write_csv(reports: Sequence[EvalReport], path: str | Path) -> Path:
    """Per-image rows of all reports; every row names its protocol (with sigma / quality). Written atomically."""
    rows = io.StringIO(newline="")
    writer = csv.writer(rows)
    writer.writerow(_CSV_COLUMNS)
    for report in reports:
        for r in report.images:
            writer.writerow([report.protocol_label, report.task, r.benchmark, r.model, r.image,
                             f"{r.psnr:.6f}", f"{r.ssim:.6f}", f"{r.seconds:.6f}", f"{r.megapixels:.6f}"])
    return atomic_write_text(path, rows.getvalue())


def reports_to_json(reports: Sequence[EvalReport]) -> dict[str, object]:
    return {"tool": "irtool eval", "reports": [r.to_dict() for r in reports]}


def write_json(reports: Sequence[EvalReport], path: str | Path) -> Path:
    """:func:`reports_to_json` as a JSON file, written atomically."""
    return atomic_write_text(path, json.dumps(reports_to_json(reports), indent=2))
