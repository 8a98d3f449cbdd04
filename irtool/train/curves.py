"""``runs/NAME/curves.png``: a run's loss and validation curves, drawn with Pillow (no plotting dependency)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from irtool.io.atomic import atomic_output

__all__ = ["write_curves"]


def write_curves(history: list[dict[str, Any]], path: Path, *, score_key: str,
                 size: tuple[int, int] = (900, 360)) -> None:
    """The training loss and validation ``score_key`` of ``history`` (the run's metrics records), as a PNG."""
    from PIL import Image, ImageDraw

    panels = [("loss", "train loss"), (score_key, "validation")]
    w, h = size
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    pw = w // len(panels)
    for i, (key, title) in enumerate(panels):
        pts = [(r["iter"], r[key]) for r in history if key in r and math.isfinite(r[key])]
        x0, y0, x1, y1 = i * pw + 50, 30, (i + 1) * pw - 15, h - 35
        draw.rectangle([x0, y0, x1, y1], outline="black")
        draw.text((x0, 8), f"{title} ({key})", fill="black")
        if len(pts) < 2:
            continue
        xs, ys = zip(*pts, strict=True)
        lo, hi = min(ys), max(ys)
        hi = hi if hi > lo else lo + 1e-9
        xy = [(x0 + (x - xs[0]) / max(xs[-1] - xs[0], 1) * (x1 - x0), y1 - (y - lo) / (hi - lo) * (y1 - y0))
              for x, y in pts]
        draw.line(xy, fill="navy", width=2)
        draw.text((x0 - 45, y0), f"{hi:.4g}", fill="black")
        draw.text((x0 - 45, y1 - 10), f"{lo:.4g}", fill="black")
        draw.text((x0, y1 + 5), f"{xs[0]}", fill="black")
        draw.text((x1 - 40, y1 + 5), f"{xs[-1]}", fill="black")
    with atomic_output(path) as handle:
        img.save(handle, format="PNG")
