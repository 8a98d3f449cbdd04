"""PNG through imagecodecs (libpng): 16-bit colour reading, which Pillow would narrow to 8 bits, and all writing.

Pillow (up to at least 13.0) has no 16-bit colour image mode, so it opens 16-bit RGB/RGBA/LA PNGs as 8-bit. Their
pixels go through imagecodecs' libpng codec instead: `png_decode` handles every filter type, Adam7 interlacing and
tRNS (turned into an alpha channel); `png_encode` writes 8- or 16-bit gray, gray+alpha, RGB and RGBA. Neither
carries metadata, so this module adds the little PNG chunk handling that needs:

- writing: iCCP and eXIf chunks are put right after IHDR (both must precede the image data);
- reading: the caller takes the ICC profile (and an eXIf chunk before the image data) from Pillow, which has parsed
  the header anyway; `find_chunk` finds an eXIf chunk after the image data, where libpng may also write it.
"""

from __future__ import annotations

import logging
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Signature (8 bytes) + the IHDR chunk (4 length + 4 type + 13 body + 4 CRC): libpng always writes IHDR first.
_HEADER_BYTES = 33
# The Paeth filter on every row and zlib's run-length strategy (no search for long matches, which 16-bit samples'
# noisy low bytes defeat): measured on 12 MP 16-bit images (photo-like, 12-bit-in-16 and an enlarged photo) 3-20x
# faster than libpng's defaults (level 6, adaptive filters) and from 1% larger to 7% smaller. On a 12 MP 8-bit
# photo 0.44 s and 10.40 MB against Pillow's 4.40 s and 10.37 MB (compress_level 6). write_image's time for such
# images: scripts/bench_io.py.
_LEVEL = 1
# libpng warns about this for interlaced files read with png_read_image; imagecodecs reads all passes correctly.
_BENIGN_WARNINGS = ("Interlace handling should be turned on",)


@dataclass(frozen=True, kw_only=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool


def parse_header(head: bytes) -> PngHeader | None:
    """The IHDR of a PNG from its first 33 bytes, or None if `head` is not a PNG."""
    if len(head) < _HEADER_BYTES or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", head[16:29])
    return PngHeader(width=width, height=height, bit_depth=bit_depth, color_type=color_type, interlaced=interlace == 1)


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def find_chunk(data: bytes, kind: bytes) -> bytes | None:
    """The body of the first `kind` chunk in a PNG byte stream, or None (also for a stream that ends early).

    Walks the chunk headers only (the image data is skipped, not read); CRCs are not checked here, the decoder
    checks the image data's.
    """
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, found = struct.unpack_from(">I4s", data, position)
        body_start = position + 8
        if found == kind:
            return bytes(data[body_start : body_start + length]) if body_start + length <= len(data) else None
        if found == b"IEND":
            return None
        position = body_start + length + 4
    return None


class _CodecWarnings(logging.Filter):
    """Collects imagecodecs' (libpng's) warnings raised while this thread decodes, instead of printing them.

    imagecodecs logs libpng warnings (e.g. "iCCP: known incorrect sRGB profile", a bad CRC in a text chunk) on the
    "imagecodecs" logger; with no logging configured Python would print each one to stderr in the middle of a
    batch. libpng calls back on the decoding thread, so a thread-local list tells whose warning it is.
    """

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    @contextmanager
    def collect(self) -> Iterator[list[str]]:
        messages: list[str] = []
        self._local.messages = messages
        try:
            yield messages
        finally:
            self._local.messages = None

    def filter(self, record: logging.LogRecord) -> bool:
        messages = getattr(self._local, "messages", None)
        if messages is None:
            return True
        messages.append(record.getMessage())
        return False


_CODEC_WARNINGS = _CodecWarnings()
logging.getLogger("imagecodecs").addFilter(_CODEC_WARNINGS)


def decode(data: bytes) -> tuple[np.ndarray, list[str]]:
    """Samples (HxW or HxWxC, uint8/uint16, native byte order; tRNS becomes alpha) and libpng's warnings.

    Damaged data raises ValueError with a short reason ("file is truncated (...)" when the stream ends early).
    """
    import imagecodecs  # imported lazily: only PNG reading and writing need it

    with _CODEC_WARNINGS.collect() as messages:
        try:
            samples = imagecodecs.png_decode(data)
        except imagecodecs.PngError as error:
            reason = str(error).strip() or type(error).__name__
            if "too small" in reason:  # libpng asked for bytes past the end of the file
                raise ValueError("file is truncated (image data ends early)") from None
            raise ValueError(reason) from None
    notes = [message for message in messages if not any(benign in message for benign in _BENIGN_WARNINGS)]
    return samples, notes


def encode(handle: BinaryIO, samples: np.ndarray, *, icc_profile: bytes | None, exif: bytes | None) -> None:
    """Write HxWxC (C in 1..4) uint8 or uint16 samples as a PNG with optional iCCP and eXIf (TIFF header onwards)."""
    import imagecodecs

    pixels = np.ascontiguousarray(samples[:, :, 0] if samples.shape[2] == 1 else samples)
    try:
        encoded = memoryview(
            imagecodecs.png_encode(
                pixels, level=_LEVEL, filter=imagecodecs.PNG.FILTER.PAETH, strategy=imagecodecs.PNG.STRATEGY.RLE
            )
        )
    except imagecodecs.PngError as error:
        raise ValueError(f"PNG encoder: {error}") from None
    if bytes(encoded[12:16]) != b"IHDR":
        raise ValueError("unexpected PNG encoder output (no IHDR first)")
    handle.write(encoded[:_HEADER_BYTES])
    if icc_profile:
        handle.write(chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        handle.write(chunk(b"eXIf", exif))
    handle.write(encoded[_HEADER_BYTES:])
