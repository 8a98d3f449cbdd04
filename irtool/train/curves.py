"""``runs/NAME/curves.png``: a run's loss and validation curves, drawn with Pillow (no plotting dependency).

Two panels against the iteration: the training loss on a log scale (it falls by orders of magnitude, and a
linear axis flattens everything after the first drop), and the validation score with a marker at every
validation (a short run may have one) and, where the objective measures it, the input's own score as a dashed
reference line: the line the model has to be above. :func:`curve_panels` computes what is drawn (scales, ticks,
lines, where they land in the image), so it can be checked without reading pixels; :func:`write_curves` draws it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irtool.io.atomic import atomic_output

__all__ = ["Panel", "ReferenceLine", "Series", "curve_panels", "write_curves"]

Color = tuple[int, int, int]
LOSS_COLOR: Color = (31, 78, 160)
SCORE_COLOR: Color = (200, 30, 30)
REFERENCE_COLOR: Color = (230, 120, 0)
_GRID: Color = (225, 225, 225)
#: Axis titles of the scores objectives report (``val_`` + metric).
_SCORE_LABELS = {"val_psnr": "PSNR (dB)", "val_ssim": "SSIM", "val_accuracy": "type accuracy"}


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[float, float], ...]
    color: Color
    #: A marker at every point: validations are few, and a single one draws no line.
    markers: bool


@dataclass(frozen=True)
class ReferenceLine:
    label: str
    value: float
    color: Color


@dataclass(frozen=True)
class Panel:
    title: str
    x_label: str
    y_label: str
    log_y: bool
    series: tuple[Series, ...]
    references: tuple[ReferenceLine, ...]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_ticks: tuple[float, ...]
    y_ticks: tuple[float, ...]
    #: The plot area in the image: (left, top, right, bottom) pixels.
    box: tuple[int, int, int, int]

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """Where the point (iteration ``x``, value ``y``) is drawn."""
        left, top, right, bottom = self.box
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        if self.log_y:
            y, y0, y1 = math.log10(y), math.log10(y0), math.log10(y1)
        return left + (x - x0) / (x1 - x0) * (right - left), bottom - (y - y0) / (y1 - y0) * (bottom - top)


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _linear_ticks(lo: float, hi: float, *, count: int = 5, integer: bool = False) -> tuple[float, ...]:
    step = _nice_step(hi - lo, count)
    if integer:
        step = max(1.0, float(round(step)))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 12))
        value += step
    return tuple(ticks)


def _log_ticks(lo: float, hi: float) -> tuple[float, ...]:
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    # Decades, or over a narrower range 1-2-5 (then 1-2-3-5) steps, so the axis has at least three labels.
    for multiples in ((1,), (1, 2, 5), (1, 2, 3, 5)):
        ticks = tuple(m * 10.0**d for d in decades for m in multiples if lo <= m * 10.0**d <= hi)
        if len(ticks) >= 3:
            return ticks
    return _linear_ticks(lo, hi)


def _padded(lo: float, hi: float, *, log: bool) -> tuple[float, float]:
    if log:
        lo_log, hi_log = math.log10(lo), math.log10(hi)
        pad = max(0.05 * (hi_log - lo_log), 0.1)
        return 10 ** (lo_log - pad), 10 ** (hi_log + pad)
    pad = 0.08 * (hi - lo) if hi > lo else max(0.5, 0.05 * abs(lo))
    return lo - pad, hi + pad


def _points(history: Sequence[dict[str, Any]], key: str, *, positive: bool = False) -> tuple[tuple[float, float], ...]:
    return tuple((float(r["iter"]), float(r[key])) for r in history
                 if key in r and math.isfinite(r[key]) and (r[key] > 0 or not positive))


def curve_panels(history: Sequence[dict[str, Any]], *, score_key: str, reference_key: str | None = None,
                 size: tuple[int, int] = (1000, 400)) -> list[Panel]:
    """The panels :func:`write_curves` draws for ``history`` (a run's metrics records): training loss (log
    scale) and validation ``score_key`` with markers and, when records hold ``reference_key``, its last value as a
    reference line ("input")."""
    width, height = size
    loss = _points(history, "loss", positive=True)
    score = _points(history, score_key)
    reference = _points(history, reference_key) if reference_key else ()
    score_label = _SCORE_LABELS.get(score_key, score_key.removeprefix("val_"))
    unit = " dB" if score_label.endswith("(dB)") else ""
    # The input's score is the same at every validation (same images, same seed): the last one is drawn.
    references = tuple(ReferenceLine(f"input {value:.2f}{unit}", value, REFERENCE_COLOR) for _, value in reference[-1:])
    panels = []
    specs = [
        ("training loss", "loss", True, (Series("training loss", loss, LOSS_COLOR, markers=len(loss) == 1),), ()),
        (f"validation {score_label.split(' (')[0]}", score_label, False,
         (Series(f"validation {score_label}", score, SCORE_COLOR, markers=True),), references),
    ]
    # One iteration axis for both panels, from the start of the run.
    last = max([x for x, _ in loss + score], default=0.0)
    x_range = (0.0, max(last, 1.0) * 1.02)
    panel_width = width // len(specs)
    for i, (title, y_label, log_y, series, references) in enumerate(specs):
        box = (i * panel_width + 78, 34, (i + 1) * panel_width - 20, height - 52)
        ys = [y for s in series for _, y in s.points] + [r.value for r in references]
        if ys:
            y_range = _padded(min(ys), max(ys), log=log_y)
        else:
            y_range = (0.01, 1.0) if log_y else (0.0, 1.0)
        y_ticks = _log_ticks(*y_range) if log_y else _linear_ticks(*y_range)
        x_ticks = _linear_ticks(*x_range, integer=True)
        panels.append(Panel(title, "iteration", y_label, log_y, series, references, x_range, y_range, x_ticks,
                            y_ticks, box))
    return panels


def _label(value: float, ticks: Sequence[float]) -> str:
    if len(ticks) > 1:
        step = min(abs(b - a) for a, b in zip(ticks, ticks[1:]))
        decimals = max(0, -math.floor(math.log10(step)) if step < 1 else 0)
        if all(abs(t - round(t)) < 1e-9 for t in ticks):
            decimals = 0
        if decimals <= 4:
            return f"{value:.{decimals}f}"
    return f"{value:.3g}"


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _draw_panel(img, panel: Panel) -> None:
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(img)
    font, small = _font(14), _font(12)
    left, top, right, bottom = panel.box
    for tick in panel.y_ticks:
        _, y = panel.to_pixel(panel.x_range[0], tick)
        draw.line([(left, y), (right, y)], fill=_GRID)
        draw.line([(left - 5, y), (left, y)], fill="black")
        text = f"{tick:g}" if panel.log_y else _label(tick, panel.y_ticks)
        draw.text((left - 8, y), text, fill="black", font=small, anchor="rm")
    for tick in panel.x_ticks:
        x, _ = panel.to_pixel(tick, panel.y_range[0])
        draw.line([(x, top), (x, bottom)], fill=_GRID)
        draw.line([(x, bottom), (x, bottom + 5)], fill="black")
        draw.text((x, bottom + 8), f"{tick:.0f}", fill="black", font=small, anchor="mt")
    draw.rectangle([left, top, right, bottom], outline="black")
    draw.text(((left + right) / 2, 8), panel.title, fill="black", font=font, anchor="mt")
    draw.text(((left + right) / 2, bottom + 28), panel.x_label, fill="black", font=font, anchor="mt")
    # The y axis title, written sideways.
    w = int(draw.textlength(panel.y_label, font=font)) + 4
    label = Image.new("RGB", (w, 18), "white")
    ImageDraw.Draw(label).text((2, 0), panel.y_label, fill="black", font=font)
    label = label.rotate(90, expand=True)
    img.paste(label, (left - 74, int((top + bottom - label.height) / 2)))
    for ref in panel.references:
        _, y = panel.to_pixel(panel.x_range[0], ref.value)
        for x in range(left, right, 12):  # dashed
            draw.line([(x, y), (min(x + 7, right), y)], fill=ref.color, width=2)
        draw.text((right - 6, y - 4), ref.label, fill=ref.color, font=small, anchor="rb")
    for series in panel.series:
        xy = [panel.to_pixel(x, y) for x, y in series.points]
        if len(xy) > 1:
            draw.line(xy, fill=series.color, width=2)
        if series.markers:
            for x, y in xy:
                draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=series.color)


def write_curves(history: Sequence[dict[str, Any]], path: Path, *, score_key: str, reference_key: str | None = None,
                 size: tuple[int, int] = (1000, 400)) -> list[Panel]:
    """Draw :func:`curve_panels` of ``history`` into the PNG ``path``; returns the panels drawn."""
    from PIL import Image

    panels = curve_panels(history, score_key=score_key, reference_key=reference_key, size=size)
    img = Image.new("RGB", size, "white")
    for panel in panels:
        _draw_panel(img, panel)
    with atomic_output(path) as handle:
        img.save(handle, format="PNG")
    return panels
