"""TIFF writing for 8- and 16-bit gray, gray+alpha, RGB and RGBA, with ICC profile and a nested Exif IFD.

Pillow cannot hold 16-bit colour in memory, and its libtiff-backed compressed writer fails on a nested Exif
IFD, so all TIFF output goes through this small writer.

Baseline TIFF 6.0: one IFD, contiguous samples, Adobe Deflate (compression 8) with horizontal differencing
(predictor 2, TIFF 6.0 §14), unassociated alpha as ExtraSamples = 2. The IFD itself (including a nested
Exif IFD copied from the source photo, and the ICC profile tag 34675) is serialised by Pillow's
`ImageFileDirectory_v2`, which resolves the sub-IFD and strip offsets for us.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO

import numpy as np
from PIL import Image, TiffImagePlugin, TiffTags

# Tags that describe the pixel layout of the *source* file; copying them from EXIF would lie about ours.
_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 292, 293, 317, 320, 322, 323, 324, 325,
     338, 339, 340, 341, 347, 530, 531, 532, 34675}
)
_STRIP_BYTES = 256 * 1024


def exif_tags(exif: bytes | None) -> Image.Exif | None:
    """Parse EXIF bytes (with or without the "Exif\\0\\0" prefix) into Pillow's tag mapping."""
    if not exif:
        return None
    parsed = Image.Exif()
    parsed.load(exif)
    return parsed


def encode(handle: BinaryIO, samples: np.ndarray, *, icc_profile: bytes | None, exif: bytes | None) -> None:
    """Write HxWxC (C in 1..4) uint8 or uint16 samples as a deflate-compressed little-endian TIFF."""
    height, width, channels = samples.shape
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    parsed_exif = exif_tags(exif)
    if parsed_exif is not None:
        for tag in parsed_exif:
            if tag in _LAYOUT_TAGS:
                continue
            # Pillow infers each tag's TIFF type from its tag table (or, for unknown tags, from the value).
            if tag in TiffTags.TAGS_V2_GROUPS:
                ifd[tag] = parsed_exif.get_ifd(tag)
            else:
                ifd[tag] = parsed_exif[tag]
    ifd[256] = width
    ifd[257] = height
    sample_type = np.dtype("<u2") if samples.dtype == np.uint16 else np.dtype(np.uint8)
    ifd[258] = (8 * sample_type.itemsize,) * channels
    ifd[259] = 8  # Adobe Deflate
    ifd[262] = 2 if channels >= 3 else 1  # RGB or BlackIsZero
    ifd[277] = channels
    ifd[284] = 1  # contiguous samples
    ifd[317] = 2  # horizontal differencing
    if channels in (2, 4):
        ifd[338] = 2  # unassociated (straight) alpha
    ifd[339] = (1,) * channels  # unsigned integers
    if icc_profile:
        ifd[34675] = icc_profile

    # Horizontal differencing per sample (modulo 2**bits), then deflate per strip.
    differenced: np.ndarray = samples.astype(sample_type)  # uint16 or uint8
    differenced[:, 1:] -= samples[:, :-1].astype(sample_type)
    row_bytes = width * channels * sample_type.itemsize
    rows_per_strip = max(1, min(height, _STRIP_BYTES // max(1, row_bytes)))
    strips = [
        zlib.compress(np.ascontiguousarray(differenced[start : start + rows_per_strip]).tobytes(), 6)
        for start in range(0, height, rows_per_strip)
    ]
    ifd[278] = rows_per_strip
    ifd.tagtype[273] = TiffTags.LONG
    ifd.tagtype[279] = TiffTags.LONG
    offsets, position = [], 0
    for strip in strips:
        offsets.append(position)
        position += len(strip)
    ifd[273] = tuple(offsets)  # relative to the end of the IFD; Pillow adds the IFD's size
    ifd[279] = tuple(len(strip) for strip in strips)
    ifd.save(handle)
    for strip in strips:
        handle.write(strip)
