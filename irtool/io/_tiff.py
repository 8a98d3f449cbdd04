"""TIFF writing (8/16-bit gray, gray+alpha, RGB, RGBA) through tifffile, with the ICC profile and the EXIF tags.

tifffile writes the image: Adobe Deflate with horizontal differencing (compressed by imagecodecs), contiguous
samples, unassociated alpha as ExtraSamples = 2, the ICC profile as tag 34675, and the source photo's descriptive
EXIF tags (Make, Model, DateTime, Orientation = 1, ...) in the image's IFD. tifffile does not write the Exif and GPS
sub-IFDs ("out of scope" for its writer), so `encode` appends them after the image, serialised by Pillow's
`ImageFileDirectory_v2`, and points IFD0's ExifIFD/GPSIFD tags (written by tifffile as placeholders) at them.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, TiffImagePlugin, TiffTags

# Tags that describe the pixel layout of the *source* file; copying them from EXIF would lie about ours.
_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 292, 293, 317, 320, 322, 323, 324, 325,
     338, 339, 340, 341, 347, 530, 531, 532, 34675}
)
_SUB_IFDS = {0x8769: "ExifTag", 0x8825: "GPSTag"}  # pointer tag -> tifffile's name for it
_RESOLUTION_TAGS = (282, 283, 296)  # tifffile always writes these itself: passed as its arguments instead
_STRIP_BYTES = 256 * 1024
_DEFLATE_LEVEL = 6
_RATIONAL_TYPES = (TiffTags.RATIONAL, TiffTags.SIGNED_RATIONAL)
_NUMBER_TYPES = (TiffTags.SHORT, TiffTags.LONG, TiffTags.SIGNED_SHORT, TiffTags.SIGNED_LONG, TiffTags.FLOAT,
                 TiffTags.DOUBLE)
_BYTE_TYPES = (TiffTags.BYTE, TiffTags.SIGNED_BYTE, TiffTags.UNDEFINED)
# tifffile's extratag: (code or name, TIFF type, count, value, write once).
_ExtraTag = tuple[int | str, int, int, Any, bool]


def exif_tags(exif: bytes | None) -> Image.Exif | None:
    """Parse EXIF bytes (with or without the "Exif\\0\\0" prefix) into Pillow's tag mapping."""
    if not exif:
        return None
    parsed = Image.Exif()
    parsed.load(exif)
    return parsed


def _rational(value: Any) -> tuple[int, int]:
    numerator, denominator = getattr(value, "numerator", value), getattr(value, "denominator", 1)
    if isinstance(numerator, int) and isinstance(denominator, int):
        return numerator, denominator
    fraction = Fraction(float(value)).limit_denominator(2**31 - 1)
    return fraction.numerator, fraction.denominator


def _extratag(tag: int, kind: int, value: Any) -> _ExtraTag | None:
    """A tifffile extratag (code, type, count, value, writeonce) from a Pillow tag value, None if not writable."""
    values: Sequence[Any] = value if isinstance(value, tuple) else (value,)
    if kind == TiffTags.ASCII:
        # Pillow decodes TIFF strings as Latin-1; encoding back gives the file's bytes (tifffile refuses non-ASCII str).
        text = value if isinstance(value, bytes) else str(value).encode("latin-1", "replace")
        return tag, kind, 0, text, True
    if kind in _BYTE_TYPES:
        if isinstance(value, str):
            payload = value.encode("latin-1", "replace")
        else:
            payload = value if isinstance(value, bytes) else bytes(int(item) & 0xFF for item in values)
        return (tag, kind, len(payload), payload, True) if payload else None
    if kind in _RATIONAL_TYPES:
        return tag, kind, len(values), tuple(part for item in values for part in _rational(item)), True
    if kind in _NUMBER_TYPES and values:
        return tag, kind, len(values), tuple(values), True
    return None


def _metadata(exif: bytes | None) -> tuple[list[_ExtraTag], dict[str, Any], dict[int, dict]]:
    """(tifffile extratags, tifffile resolution arguments, sub-IFDs to append) from EXIF bytes."""
    import tifffile

    parsed = exif_tags(exif)
    if parsed is None:
        return [], {}, {}
    # Pillow infers each tag's TIFF type from its tag table (or, for unknown tags, from the value).
    directory = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    groups: dict[int, dict] = {}
    for tag in parsed:
        if tag in _SUB_IFDS:
            values = dict(parsed.get_ifd(tag))
            if tag == 0x8769 and 0xA005 in values:  # the Interoperability IFD nested in the Exif IFD
                values[0xA005] = dict(parsed.get_ifd(0xA005))
            if values:
                groups[tag] = values
        elif tag not in _LAYOUT_TAGS and tag not in tifffile.TIFF.TAG_FILTERED:
            directory[tag] = parsed[tag]
    extratags: list[_ExtraTag] = []
    for tag in sorted(directory):
        if tag in _RESOLUTION_TAGS:
            continue
        try:
            extratag = _extratag(tag, directory.tagtype[tag], directory[tag])
        except (TypeError, ValueError, OverflowError):  # a malformed value: drop that tag, not the whole image
            continue
        if extratag is not None:
            extratags.append(extratag)
    # Pointers written by name: tifffile filters these codes from extratags given as numbers. 0 until linked.
    extratags += [(_SUB_IFDS[tag], TiffTags.LONG, 1, 0, True) for tag in groups]
    resolution: dict[str, Any] = {}
    x_resolution, y_resolution = (_rational(directory[tag]) if tag in directory else (0, 0) for tag in (282, 283))
    if x_resolution[1] and y_resolution[1]:
        resolution["resolution"] = (x_resolution, y_resolution)
        unit = directory.get(296, 2)
        resolution["resolutionunit"] = unit if unit in (1, 2, 3) else 2
    return extratags, resolution, groups


def _append_sub_ifds(buffer: io.BytesIO, groups: dict[int, dict]) -> None:
    """Append each sub-IFD after the image and point its IFD0 pointer tag (a placeholder) at it."""
    data = buffer.getbuffer()
    bigtiff = bytes(data[2:4]) == b"+\x00"  # tifffile switches to BigTIFF for images over 4 GB
    offset_format, count_format, entry_size, value_field = ("<Q", "<Q", 20, 12) if bigtiff else ("<I", "<H", 12, 8)
    (ifd_offset,) = struct.unpack_from(offset_format, data, 8 if bigtiff else 4)
    (count,) = struct.unpack_from(count_format, data, ifd_offset)
    first_entry = ifd_offset + struct.calcsize(count_format)
    value_positions = {}
    for index in range(count):
        entry = first_entry + index * entry_size
        value_positions[struct.unpack_from("<H", data, entry)[0]] = entry + value_field
    header = bytes(data[: 16 if bigtiff else 8])
    data.release()
    for tag, values in groups.items():
        position = buffer.seek(0, io.SEEK_END)
        if position % 2:  # IFDs start on a word boundary
            position += buffer.write(b"\x00")
        sub_ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=header, group=tag)
        for sub_tag, value in values.items():
            sub_ifd[sub_tag] = value
        buffer.write(sub_ifd.tobytes(position))
        buffer.seek(value_positions[tag])
        buffer.write(struct.pack(offset_format, position))


def encode(handle: BinaryIO, samples: np.ndarray, *, icc_profile: bytes | None, exif: bytes | None) -> None:
    """Write HxWxC (C in 1..4) uint8 or uint16 samples as a deflate-compressed little-endian TIFF."""
    import tifffile  # imported lazily: tifffile takes a moment to import and only TIFF output needs it

    height, width, channels = samples.shape
    extratags, resolution, groups = _metadata(exif)
    row_bytes = width * channels * samples.dtype.itemsize
    # Built in memory (like the PNG encoder's output): linking the sub-IFDs reads IFD0 back, and tifffile wants a
    # named file, which the atomic writer's handle (from a descriptor) is not.
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        np.ascontiguousarray(samples[:, :, 0] if channels == 1 else samples),
        byteorder="<",
        photometric="rgb" if channels >= 3 else "minisblack",
        planarconfig="contig",
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="adobe_deflate",
        compressionargs={"level": _DEFLATE_LEVEL},
        predictor=True,  # horizontal differencing
        rowsperstrip=max(1, min(height, _STRIP_BYTES // max(1, row_bytes))),
        iccprofile=icc_profile or None,
        metadata=None,  # no tifffile JSON description
        software=False,
        extratags=extratags,
        **resolution,
    )
    if groups:
        _append_sub_ifds(buffer, groups)
    handle.write(buffer.getbuffer())
