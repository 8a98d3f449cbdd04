"""Image folders for training: an optional decoded-once in-memory cache, crops and augmentation.

Folders are listed by :func:`irtool.io.list_images` (re-exported here).

Training images are used at 8-bit precision as 3-channel RGB: files are decoded with
``irtool.io.read_image`` (EXIF orientation applied), grey images are replicated to RGB and an alpha
channel is dropped. Keeping uint8 everywhere means the cached and uncached paths give identical pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from irtool.degrade import to_uint8
from irtool.errors import UsageError
from irtool.io import list_images, read_image

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "ImageStore",
    "augment_pair",
    "crop_pair",
    "list_images",
    "pad_to_at_least",
    "random_dihedral",
    "random_tone",
]

#: "auto" caching keeps a folder in memory when its decoded uint8 pixels fit in this many bytes.
DEFAULT_CACHE_BYTES = 2 * 1024**3

CacheMode = bool | Literal["auto"]


def read_rgb_uint8(path: Path) -> np.ndarray:
    """Decode one file as uint8 HxWx3 RGB (grey replicated, alpha dropped)."""
    pixels = to_uint8(read_image(path).pixels)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def header_size(path: Path) -> tuple[int, int]:
    """(height, width) after EXIF orientation, from the header only (no pixel decoding)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (OSError, ValueError, Image.DecompressionBombError):
        # Let the real decoder produce the proper one-line error.
        pixels = read_rgb_uint8(path)
        return int(pixels.shape[0]), int(pixels.shape[1])
    if orientation in (5, 6, 7, 8):  # these orientations swap the axes
        width, height = height, width
    return int(height), int(width)


class ImageStore:
    """Sequence of images by index; decoded once and kept as uint8 when caching is on.

    ``cache_in_memory="auto"`` caches when the decoded size (from file headers) is at most ``cache_bytes``.
    The cache is filled eagerly at construction, in the main process, so DataLoader workers forked later
    share the pages instead of each decoding its own copy.
    """

    def __init__(
        self, *, paths: Sequence[Path], cache_in_memory: CacheMode = "auto", cache_bytes: int = DEFAULT_CACHE_BYTES
    ) -> None:
        if not paths:
            raise UsageError("no images to load")
        self.paths: tuple[Path, ...] = tuple(paths)
        if cache_in_memory == "auto":
            decoded = sum(h * w * 3 for h, w in (header_size(p) for p in self.paths))
            cache = decoded <= cache_bytes
        elif isinstance(cache_in_memory, bool):
            cache = cache_in_memory
        else:
            raise UsageError(f"cache_in_memory must be True, False or 'auto', got {cache_in_memory!r}")
        self._cache: tuple[np.ndarray, ...] | None = None
        if cache:
            self._cache = tuple(read_rgb_uint8(p) for p in self.paths)
            for array in self._cache:
                array.setflags(write=False)  # crops are views; nothing may write through them

    @property
    def cached(self) -> bool:
        return self._cache is not None

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int) -> np.ndarray:
        """uint8 HxWx3 (read-only when cached)."""
        if self._cache is not None:
            return self._cache[index]
        return read_rgb_uint8(self.paths[index])


def pad_to_at_least(img: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """Mirror-pad bottom/right so the image is at least ``height`` x ``width``.

    Padding rather than upscaling: an upscaled photo is soft, and a soft *target* would teach deblurring
    and SR to leave blur in. Symmetric mirroring also works for images smaller than the pad.
    """
    pad_h, pad_w = max(0, height - img.shape[0]), max(0, width - img.shape[1])
    if pad_h == 0 and pad_w == 0:
        return img
    return np.pad(img, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")


def crop_pair(
    lq: np.ndarray, gt: np.ndarray, *, top: int, left: int, lq_size: int, scale: int
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned crops: ``lq_size`` square at (top, left) in lq, ``lq_size * scale`` at (top, left) * scale in gt."""
    hr = lq_size * scale
    return (
        lq[top : top + lq_size, left : left + lq_size],
        gt[top * scale : top * scale + hr, left * scale : left * scale + hr],
    )


def random_dihedral(rng: np.random.Generator) -> tuple[bool, int]:
    """One of the 8 flips/90-degree rotations: (horizontal flip?, number of quarter turns)."""
    flip = bool(rng.random() < 0.5)
    quarter_turns = int(rng.integers(0, 4))
    return flip, quarter_turns


#: Ranges of :func:`random_tone`'s changes (1 = unchanged), each drawn log-uniformly. They stay inside what
#: photographers' own exposures and grades span and short of the mildest synthetic low light (gamma 1.5 at gain
#: 0.8 plus noise), so a re-toned photo is still a clean photo.
TONE_RANGES: dict[str, tuple[float, float]] = {"gain": (0.8, 1.2), "gamma": (0.8, 1.25), "saturation": (0.6, 1.4)}


def random_tone(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo re-exposed and re-graded: ``clip(gain * img) ** gamma``, saturation scaled about its luma,
    rounded to 8-bit levels.

    ``img`` is float HxWx3 in [0, 1]. A detector trained on a few dozen photos otherwise learns their exact
    tones as "clean" and calls a darker, greyer or more muted photo low light or haze.
    """
    gain, gamma, saturation = (float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
                               for lo, hi in TONE_RANGES.values())
    out = np.clip(img * gain, 0.0, 1.0) ** gamma
    luma = out @ np.array([0.299, 0.587, 0.114], dtype=out.dtype)
    out = luma[..., None] + saturation * (out - luma[..., None])
    # Rounded to 8-bit levels: a re-graded photo is still a stored photo (values between the levels are a cue
    # a detector would learn instead of the degradations).
    return (np.round(np.clip(out, 0.0, 1.0) * 255.0) / 255.0).astype(img.dtype, copy=False)


def augment_pair(*images: np.ndarray, flip: bool, quarter_turns: int) -> tuple[np.ndarray, ...]:
    """Apply the same flip and rotation to every image (HWC arrays). Vertical flips are a flip + 2 turns."""
    out = []
    for img in images:
        if flip:
            img = img[:, ::-1]
        if quarter_turns:
            img = np.rot90(img, k=quarter_turns, axes=(0, 1))
        out.append(img)
    return tuple(out)
