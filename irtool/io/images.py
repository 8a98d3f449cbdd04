"""Reading and writing image files: formats, bit depths, alpha, EXIF orientation, ICC, bomb guard.

Pixels are float32 HxWxC in [0, 1] (C = 3 for RGB, 1 for gray) with alpha kept apart as HxW, so the models only
ever see colour and the writer can put the alpha back. 16-bit sources stay 16-bit end to end: Pillow has no
16-bit colour mode, so 16-bit RGB/RGBA/LA PNGs are decoded by imagecodecs (libpng, via `irtool.io._png`), which
also encodes every PNG (8-bit too: 10x faster than Pillow's encoder at the same size); 16-bit multi-sample TIFFs
are read with tifffile (the library behind imageio's TIFF plugin), and every TIFF is written with tifffile
(`irtool.io._tiff`). Pillow does the rest, and opens every file first: format, size (the bomb guard, from the
header, before any pixel is decoded), ICC profile and EXIF.
"""

from __future__ import annotations

import io
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
from PIL import Image

from irtool.errors import InputError, IrtoolError, UsageError
from irtool.io import _png, _tiff
from irtool.io.atomic import atomic_output

__all__ = [
    "DEFAULT_JPEG_QUALITY",
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "LoadedImage",
    "normalize_format",
    "read_image",
    "resize_alpha",
    "write_image",
]

DEFAULT_MAX_PIXELS = 300_000_000
DEFAULT_JPEG_QUALITY = 95
SUPPORTED_FORMATS = ("png", "jpeg", "webp", "tiff", "bmp", "ppm")
# "ppm" is Netpbm: PPM (colour) and PGM (gray) files, as Pillow reads and writes them.
_FORMAT_ALIASES = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp", "tif": "tiff", "tiff": "tiff",
                   "bmp": "bmp", "ppm": "ppm", "pgm": "ppm"}
# MPO is how Pillow labels many camera JPEGs (a JPEG with an appended preview frame); the JPEG opener returns it.
_PILLOW_FORMAT_NAMES = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp", "TIFF": "tiff", "BMP": "bmp",
                        "PPM": "ppm"}
_PILLOW_SAVE_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP", "ppm": "PPM"}
_EXIF_PREFIX = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# Errors Pillow/zlib/numpy raise on damaged files; anything else is a bug and should surface as such.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, KeyError)

# Pillow's bomb limit is a process-wide global; we swap in the caller's limit only around Image.open.
_PILLOW_LIMIT_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True, eq=False)
class LoadedImage:
    """One decoded image file, orientation already applied."""

    path: Path
    pixels: np.ndarray  # float32 HxWx3 (RGB) or HxWx1 (gray), values in [0, 1]
    alpha: np.ndarray | None  # float32 HxW in [0, 1], straight (not premultiplied)
    bit_depth: int  # 8 or 16: bits per sample in the file (1-bit and palette images count as 8)
    mode: str  # Pillow's mode string for the file, e.g. "RGB", "I;16", "P", "CMYK"
    format: str  # one of SUPPORTED_FORMATS
    icc_profile: bytes | None
    exif: bytes | None  # "Exif\0\0" + TIFF-structured EXIF, orientation reset to 1
    source_size: tuple[int, int]  # (width, height) as stored in the file, before orientation
    orientation: int = 1  # EXIF orientation that was applied (1 = none)
    frame_count: int = 1  # >1 for multi-page TIFF / animated PNG or WebP: only frame 0 is read
    notes: tuple[str, ...] = field(default_factory=tuple)  # things the user may want to know, one line each

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def is_gray(self) -> bool:
        return self.pixels.shape[2] == 1


def normalize_format(name: str) -> str:
    """'JPG', '.jpeg', 'tif' ... -> a canonical name from SUPPORTED_FORMATS; UsageError otherwise."""
    key = name.strip().lower().lstrip(".")
    if key not in _FORMAT_ALIASES:
        raise UsageError(f"unknown image format {name!r}; choose one of png, jpg, webp, tiff, bmp, ppm")
    return _FORMAT_ALIASES[key]


# ----------------------------------------------------------------------------------------------- reading


@contextmanager
def _pillow_bomb_limit(max_pixels: int) -> Iterator[None]:
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _bomb_message(width: int, height: int, max_pixels: int) -> str:
    return (
        f"{width}x{height} = {width * height / 1e6:.1f} MP exceeds the {max_pixels / 1e6:g} MP limit "
        "(decompression-bomb guard; raise the pixel limit if the image is genuine)"
    )


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation 1-8 applied to an HxW[xC] array, matching PIL.ImageOps.exif_transpose."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, k=-1)
    if orientation == 7:
        return np.rot90(array, k=2).swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(array, k=1)
    return array


def _exif_with_orientation_reset(image: Image.Image, raw_exif: bytes | None, tiff_source: bool) -> bytes | None:
    exif = image.getexif()
    if tiff_source:
        # A TIFF's "EXIF" is its whole first IFD, strip offsets and all; keep only the descriptive tags.
        for tag in [tag for tag in exif if tag in _tiff._LAYOUT_TAGS]:
            del exif[tag]
        for group in (0x8769, 0x8825):  # Exif and GPS sub-IFDs: load them before re-serialising
            if group in exif:
                exif.get_ifd(group)
        if len(exif) == 0:
            return None
        exif[_ORIENTATION_TAG] = 1
        return exif.tobytes()
    if not raw_exif and len(exif) == 0:
        return None
    if exif.get(_ORIENTATION_TAG, 1) != 1:
        exif[_ORIENTATION_TAG] = 1
        return exif.tobytes()
    if raw_exif is None:
        return exif.tobytes()
    return raw_exif if raw_exif.startswith(_EXIF_PREFIX) else _EXIF_PREFIX + raw_exif


def _reset_orientation(raw_exif: bytes | None) -> tuple[bytes | None, int]:
    """(EXIF bytes with "Exif\\0\\0" prefix and orientation 1, the orientation it had)."""
    if not raw_exif:
        return None, 1
    prefixed = raw_exif if raw_exif.startswith(_EXIF_PREFIX) else _EXIF_PREFIX + raw_exif
    parsed = _tiff.exif_tags(prefixed)
    orientation = int(parsed.get(_ORIENTATION_TAG, 1) or 1) if parsed is not None else 1
    if parsed is None or orientation == 1:
        return prefixed, 1
    parsed[_ORIENTATION_TAG] = 1
    return parsed.tobytes(), orientation


def _to_unit_float(samples: np.ndarray) -> np.ndarray:
    scale = 65535.0 if samples.dtype.itemsize == 2 else 255.0
    return samples.astype(np.float32) / np.float32(scale)


def _oriented_planes(samples: np.ndarray, orientation: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Colour and alpha planes of decoded samples, turned upright by the EXIF ``orientation``."""
    pixels, alpha = _split_alpha(samples)
    if orientation != 1:
        pixels = np.ascontiguousarray(_orient(pixels, orientation))
        alpha = None if alpha is None else np.ascontiguousarray(_orient(alpha, orientation))
    return pixels, alpha


def _split_alpha(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """HxWxC integer samples -> (float colour HxWx1|3, float alpha HxW or None)."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    channels = samples.shape[2]
    if channels in (2, 4):
        return _to_unit_float(samples[:, :, :-1]), _to_unit_float(samples[:, :, -1])
    return _to_unit_float(samples), None


def _decode_with_pillow(image: Image.Image, notes: list[str]) -> tuple[np.ndarray, int]:
    """Load and normalise Pillow's modes to L/LA/RGB/RGBA (8-bit) or uint16 gray; returns (samples, bits)."""
    image.load()
    mode = image.mode
    has_transparency = "transparency" in image.info
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image).astype(np.uint16), 16
    if mode == "I":
        # Older Pillow opens 16-bit gray PNG as 32-bit "I"; Pillow opens 16-bit PGM so (scaled to 0-65535).
        if image.format in ("PNG", "PPM"):
            return np.clip(np.asarray(image), 0, 65535).astype(np.uint16), 16
        raise ValueError("32-bit integer samples are not supported (convert to 16-bit first)")
    if mode == "F":
        raise ValueError("32-bit floating-point samples (HDR/scientific TIFF) are not supported")
    if mode in ("1", "L"):
        target = "LA" if has_transparency else "L"
    elif mode in ("LA", "La"):
        target = "LA"
    elif mode in ("P", "PA"):
        target = "RGBA" if mode == "PA" or has_transparency else "RGB"
    elif mode in ("RGB", "RGBX", "YCbCr"):
        target = "RGBA" if has_transparency and mode == "RGB" else "RGB"
    elif mode in ("RGBA", "RGBa"):
        target = "RGBA"
    elif mode == "CMYK":
        target = "RGB"
        notes.append("CMYK converted to RGB without colour management; the CMYK ICC profile was dropped")
    else:
        raise ValueError(f"image mode {mode!r} is not supported")
    converted = image if image.mode == target else image.convert(target)
    return np.asarray(converted), 8


def _decode_tiff_with_tifffile(
    file_path: Path, max_pixels: int
) -> tuple[np.ndarray, int, str, int, bytes | None, int, tuple[int, int]]:
    """16-bit colour / gray+alpha TIFF pixels; returns (samples, bits, mode, orientation, icc, frames, size)."""
    import tifffile  # imported lazily: only needed for 16-bit multi-sample TIFFs

    with tifffile.TiffFile(file_path) as tiff:
        page = tiff.pages.first
        width, height = int(page.imagewidth), int(page.imagelength)
        if width * height > max_pixels:
            raise InputError(_bomb_message(width, height, max_pixels), path=file_path)
        if page.dtype not in (np.dtype(np.uint8), np.dtype(np.uint16)):
            raise ValueError(f"{page.dtype} samples are not supported (8- or 16-bit unsigned integers only)")
        if int(page.photometric) not in (1, 2):  # BlackIsZero or RGB
            raise ValueError(f"TIFF photometric interpretation {page.photometric!r} is not supported")
        samples = page.asarray()
        if samples.ndim == 3 and samples.shape[0] == page.samplesperpixel and samples.shape[1:] == (height, width):
            samples = np.moveaxis(samples, 0, -1)  # planar configuration 2
        samples = samples.reshape(height, width, -1)
        if samples.shape[2] > 4:
            raise ValueError(f"{samples.shape[2]} samples per pixel are not supported")
        orientation_tag = page.tags.get(274)
        orientation = int(orientation_tag.value) if orientation_tag is not None else 1
        mode = {1: "I;16", 2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[samples.shape[2]]
        bits = 16 if samples.dtype == np.uint16 else 8
        return samples, bits, mode, orientation, page.iccprofile, len(tiff.pages), (width, height)


def read_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode one image file (PNG, JPEG, WebP, TIFF, BMP, PPM/PGM), applying its EXIF orientation.

    Raises InputError (message "<path>: <reason>", one line) for missing, empty, damaged, unsupported or
    oversized files. The size check uses the header only, before any pixel is decoded.
    """
    file_path = Path(path)

    def failure(reason: str) -> InputError:
        return InputError(reason, path=file_path)

    try:
        stat = file_path.stat()
    except FileNotFoundError:
        raise failure("no such file") from None
    except OSError as error:
        raise failure(f"cannot access file ({error.strerror or error})") from None
    if file_path.is_dir():
        raise failure("is a folder, not an image file")
    if stat.st_size == 0:
        raise failure("empty file (0 bytes)")
    try:
        data = file_path.read_bytes()
    except OSError as error:
        raise failure(f"cannot read file ({error.strerror or error})") from None

    notes: list[str] = []
    try:
        with _pillow_bomb_limit(max_pixels):
            image: Image.Image | None = Image.open(io.BytesIO(data), formats=list(_PILLOW_SAVE_NAMES.values()))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise failure(f"refused by the decompression-bomb guard ({error})") from None
    except Image.UnidentifiedImageError:
        image = None
    except _DECODE_ERRORS as error:
        raise failure(f"damaged image header ({error})") from None

    if image is None:
        if data[:4] in _TIFF_SIGNATURES:  # e.g. 16-bit gray+alpha TIFF, which Pillow cannot open
            return _read_tiff_without_pillow(file_path, max_pixels)
        raise failure("not a PNG, JPEG, WebP, TIFF, BMP or PPM/PGM image (unrecognised or damaged header)")

    with image:
        image_format = _PILLOW_FORMAT_NAMES[image.format or ""]
        stored_size = image.size
        if image_format == "tiff":
            # Pillow >= 13 reports (and later decodes) TIFFs already rotated; report the stored size.
            tiff_orientation = image.getexif().get(_ORIENTATION_TAG, 1)
            if tiff_orientation in (5, 6, 7, 8):
                stored_size = (image.size[1], image.size[0])
        width, height = image.size
        if width * height > max_pixels:
            raise failure(_bomb_message(width, height, max_pixels))
        frame_count = int(getattr(image, "n_frames", 1))
        if frame_count > 1:
            notes.append(f"{frame_count} frames/pages in file: only the first was read")
        icc_profile = image.info.get("icc_profile") or None
        source_mode = image.mode
        png_header = _png.parse_header(data[:33]) if image_format == "png" else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                if png_header is not None and png_header.bit_depth == 16 and png_header.color_type in (2, 4, 6):
                    samples, codec_notes = _png.decode(data)  # a tRNS colour comes back as an alpha channel
                    bit_depth = 16
                    notes.extend(codec_notes)
                    # Pillow read an eXIf chunk placed before the image data; one after it needs a look further on.
                    exif, orientation = _reset_orientation(image.info.get("exif") or _png.find_chunk(data, b"eXIf"))
                    needs_orienting = True
                elif image_format == "tiff" and _is_multisample_16bit_tiff(image):
                    samples, bit_depth, source_mode, orientation, tiff_icc, _, stored_size = (
                        _decode_tiff_with_tifffile(file_path, max_pixels)
                    )
                    icc_profile = icc_profile or tiff_icc
                    exif = _exif_with_orientation_reset(image, None, tiff_source=True)
                    needs_orienting = True
                else:
                    orientation = int(image.getexif().get(_ORIENTATION_TAG, 1) or 1)
                    samples, bit_depth = _decode_with_pillow(image, notes)
                    # Pillow >= 13 rotates TIFFs itself while loading and then drops the tag.
                    needs_orienting = not (
                        image_format == "tiff" and image.getexif().get(_ORIENTATION_TAG, 1) in (None, 1)
                    )
                    raw_exif = image.info.get("exif")
                    exif = _exif_with_orientation_reset(image, raw_exif, tiff_source=image_format == "tiff")
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise failure(f"refused by the decompression-bomb guard ({error})") from None
        except _DECODE_ERRORS as error:
            raise failure(_describe_decode_error(error)) from None
        except MemoryError:
            raise failure("not enough memory to decode this image") from None

    if source_mode == "CMYK":
        icc_profile = None  # it describes the CMYK data we no longer have
    if orientation not in range(1, 9):
        notes.append(f"invalid EXIF orientation {orientation} ignored")
        orientation = 1
    pixels, alpha = _oriented_planes(samples, orientation if needs_orienting else 1)
    return LoadedImage(
        path=file_path,
        pixels=pixels,
        alpha=alpha,
        bit_depth=bit_depth,
        mode=source_mode,
        format=image_format,
        icc_profile=icc_profile,
        exif=exif,
        source_size=stored_size,
        orientation=orientation,
        frame_count=frame_count,
        notes=tuple(notes),
    )


def _is_multisample_16bit_tiff(image: Image.Image) -> bool:
    tags = getattr(image, "tag_v2", {})
    bits = tags.get(258, (8,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    return max(bits) == 16 and int(tags.get(277, 1)) > 1


def _read_tiff_without_pillow(file_path: Path, max_pixels: int) -> LoadedImage:
    try:
        samples, bit_depth, mode, orientation, icc_profile, frame_count, size = _decode_tiff_with_tifffile(
            file_path, max_pixels
        )
    except InputError:
        raise
    except Exception as error:  # tifffile raises a wide variety of types on damaged files
        raise InputError(f"not a readable TIFF ({_describe_decode_error(error)})", path=file_path) from None
    notes = ["EXIF metadata of this TIFF variant is not carried over"]
    if frame_count > 1:
        notes.append(f"{frame_count} frames/pages in file: only the first was read")
    if orientation not in range(1, 9):
        orientation = 1
    pixels, alpha = _oriented_planes(samples, orientation)
    return LoadedImage(
        path=file_path,
        pixels=pixels,
        alpha=alpha,
        bit_depth=bit_depth,
        mode=mode,
        format="tiff",
        icc_profile=icc_profile,
        exif=None,
        source_size=size,
        orientation=orientation,
        frame_count=frame_count,
        notes=tuple(notes),
    )


def _describe_decode_error(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "truncated" in text.lower():  # Pillow: "image file is truncated (54 bytes not processed)"
        detail = re.search(r"\(([^()]*)\)\s*$", text)
        return f"file is truncated ({detail.group(1)})" if detail else "file is truncated"
    return f"damaged image data ({text})"


# ----------------------------------------------------------------------------------------------- writing


def resize_alpha(alpha: np.ndarray, scale: float, *, size: tuple[int, int] | None = None) -> np.ndarray:
    """Resize an HxW alpha plane by `scale` (or to `size` = (width, height)) with Lanczos, clipped to [0, 1].

    Used for super-resolution, where the model upscales the colour and the alpha follows with a good filter.
    """
    plane = np.asarray(alpha, dtype=np.float32)
    if plane.ndim == 3 and plane.shape[2] == 1:
        plane = plane[:, :, 0]
    if plane.ndim != 2:
        raise UsageError(f"alpha must be HxW, got shape {plane.shape}")
    if size is None:
        if scale <= 0:
            raise UsageError(f"alpha scale must be positive, got {scale}")
        size = (max(1, round(plane.shape[1] * scale)), max(1, round(plane.shape[0] * scale)))
    if size == (plane.shape[1], plane.shape[0]):
        return plane.copy()
    resized = Image.fromarray(plane, mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


#: Samples converted per step by :func:`_quantize`: a 4 MiB float32 scratch buffer, reused, instead of five
#: image-sized temporaries (on a 17 MP output those were 1 GB of fresh pages, 2-3 s of page faults per image).
_QUANTIZE_CHUNK = 1 << 20


def _quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """Integer levels of float samples: NaN -> 0, clipped to [0, 1], rounded to the nearest level."""
    top = 65535 if bit_depth == 16 else 255
    source = np.asarray(values, dtype=np.float32)
    out = np.empty(source.shape, dtype=np.uint16 if bit_depth == 16 else np.uint8)
    if source.size == 0:
        return out
    row_size = max(1, source[0].size)
    step = max(1, _QUANTIZE_CHUNK // row_size)
    scratch = np.empty((min(step, source.shape[0]), *source.shape[1:]), dtype=np.float32)
    for first in range(0, source.shape[0], step):
        part = source[first:first + step]
        buffer = scratch[:part.shape[0]]
        # clip(x, 0, 1) * top + 0.5 == clip(x * top + 0.5, 0.5, top + 0.5), and floor(x + 0.5) rounds to nearest
        # (x >= 0); infinities clip to the ends, NaN (which clip keeps) becomes 0.
        np.multiply(part, np.float32(top), out=buffer)
        np.add(buffer, np.float32(0.5), out=buffer)
        np.clip(buffer, np.float32(0.5), np.float32(top + 0.5), out=buffer)
        np.nan_to_num(buffer, copy=False, nan=0.0)
        np.floor(buffer, out=buffer)
        out[first:first + step] = buffer
    return out


def _as_hwc(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    array = np.asarray(pixels)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape:
        raise UsageError(f"pixels must be HxW, HxWx1, HxWx3 or HxWx4, got shape {array.shape}")
    if array.shape[2] == 4:
        return array[:, :, :3], array[:, :, 3]
    return array, None


def write_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    like: LoadedImage | None = None,
    format: str | None = None,
    quality: int | None = None,
    alpha: np.ndarray | None = None,
    bit_depth: int | None = None,
) -> Path:
    """Write float pixels in [0, 1] atomically; returns the path written.

    Format: `format`, else `like.format`, else the file extension. Bit depth: `bit_depth`, else `like.bit_depth`,
    else 8; JPEG, WebP, BMP and PPM/PGM are always 8-bit. Alpha: `alpha`, else `like.alpha` (resized with Lanczos if
    the output size differs, e.g. after super-resolution); JPEG, BMP and PPM/PGM drop it. ICC profile and EXIF come
    from `like` (PPM/PGM hold neither).
    Values are clipped to [0, 1] and rounded to the nearest integer level.
    """
    target = Path(path)
    if format is not None:
        output_format = normalize_format(format)
    elif like is not None:
        output_format = like.format
    elif target.suffix:
        output_format = normalize_format(target.suffix)
    else:
        raise UsageError(f"{target}: cannot tell the output format (no format given and no file extension)")
    colour, packed_alpha = _as_hwc(pixels)
    height, width = colour.shape[:2]
    if alpha is None:
        alpha = packed_alpha
    if alpha is None and like is not None and like.alpha is not None:
        alpha = like.alpha
    if alpha is not None:
        alpha = np.asarray(alpha, dtype=np.float32)
        if alpha.ndim == 3 and alpha.shape[2] == 1:
            alpha = alpha[:, :, 0]
        if alpha.shape != (height, width):
            alpha = resize_alpha(alpha, 1.0, size=(width, height))
    depth = bit_depth if bit_depth is not None else (like.bit_depth if like is not None else 8)
    if depth not in (8, 16):
        raise UsageError(f"bit depth must be 8 or 16, got {depth}")
    if output_format in ("jpeg", "webp", "bmp", "ppm"):
        depth = 8
    if output_format in ("jpeg", "bmp", "ppm"):
        alpha = None  # BMP alpha is not read back by common decoders (Pillow included), so don't pretend
    if quality is not None and not 1 <= quality <= 100:
        raise UsageError(f"quality must be between 1 and 100, got {quality}")
    icc_profile = like.icc_profile if like is not None else None
    exif = like.exif if like is not None else None

    samples = _quantize(colour, depth)
    if alpha is not None:
        samples = np.concatenate([samples, _quantize(alpha, depth)[:, :, None]], axis=2)
    if output_format == "webp" and samples.shape[2] in (1, 2):
        # WebP has no gray mode; Pillow would do the same expansion silently.
        samples = np.concatenate([np.repeat(samples[:, :, :1], 3, axis=2), samples[:, :, 1:]], axis=2)
    try:
        with atomic_output(target) as handle:
            _encode(handle, samples, output_format, quality=quality, icc_profile=icc_profile, exif=exif)
    except IrtoolError:
        raise
    except (OSError, ValueError, struct.error) as error:
        raise IrtoolError(f"{target}: cannot write image ({error})") from error
    return target


def _encode(
    handle: BinaryIO,
    samples: np.ndarray,
    output_format: str,
    *,
    quality: int | None,
    icc_profile: bytes | None,
    exif: bytes | None,
) -> None:
    channels = samples.shape[2]
    if output_format == "tiff":
        _tiff.encode(handle, samples, icc_profile=icc_profile, exif=exif)
        return
    if output_format == "png":  # libpng through imagecodecs, 8- and 16-bit alike (see _png._LEVEL for why)
        _png.encode(handle, samples, icc_profile=icc_profile, exif=exif[len(_EXIF_PREFIX) :] if exif else None)
        return
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    image = Image.fromarray(samples[:, :, 0] if channels == 1 else samples, mode=mode)
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif and output_format != "bmp":
        options["exif"] = exif
    if output_format in ("jpeg", "webp"):
        options["quality"] = quality if quality is not None else DEFAULT_JPEG_QUALITY
    if output_format == "jpeg":
        # At high quality keep full-resolution chroma: 4:2:0 would blur the colour detail we just restored.
        options["subsampling"] = 0 if cast(int, options["quality"]) >= 90 else 2
    image.save(handle, format=_PILLOW_SAVE_NAMES[output_format], **options)

