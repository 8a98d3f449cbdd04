"""irtool.io: every test image is generated in tmp_path; nothing is shipped."""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from irtool.errors import InputError, UsageError
from irtool.io import (
    IMAGE_EXTENSIONS,
    SUPPORTED_FORMATS,
    InputItem,
    atomic_directory,
    atomic_output,
    atomic_write_bytes,
    atomic_write_text,
    expand_inputs,
    is_temp_name,
    list_images,
    normalize_format,
    output_path,
    parse_shard,
    plan_outputs,
    read_image,
    resize_alpha,
    select_shard,
    shard_from_env,
    write_image,
)

RNG = np.random.default_rng(1234)


def _random_pixels(height: int, width: int, channels: int, bit_depth: int) -> np.ndarray:
    """Float pixels that sit exactly on the integer grid of `bit_depth`, so lossless formats round-trip."""
    top = 65535 if bit_depth == 16 else 255
    levels = RNG.integers(0, top + 1, size=(height, width, channels))
    # A smooth ramp on the first rows exercises the PNG Sub/Paeth filters, noise the rest.
    levels[:4] = np.linspace(0, top, width, dtype=np.int64)[None, :, None]
    return (levels / top).astype(np.float32)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------------- round trips

LOSSLESS_CASES = [
    (fmt, channels, has_alpha, depth)
    for fmt, depths in (("png", (8, 16)), ("tiff", (8, 16)), ("bmp", (8,)))
    for depth in depths
    for channels, has_alpha in ((1, False), (1, True), (3, False), (3, True))
    if not (fmt == "bmp" and has_alpha)
]


@pytest.mark.parametrize(("fmt", "channels", "has_alpha", "depth"), LOSSLESS_CASES)
def test_lossless_round_trip_is_exact(tmp_path: Path, fmt: str, channels: int, has_alpha: bool, depth: int) -> None:
    pixels = _random_pixels(13, 17, channels, depth)
    alpha = _random_pixels(13, 17, 1, depth)[:, :, 0] if has_alpha else None
    target = write_image(tmp_path / f"out.{fmt}", pixels, format=fmt, alpha=alpha, bit_depth=depth)
    loaded = read_image(target)
    assert loaded.format == fmt
    assert loaded.bit_depth == depth
    assert loaded.pixels.dtype == np.float32 and loaded.pixels.shape == (13, 17, channels)
    np.testing.assert_array_equal(loaded.pixels, pixels)
    if has_alpha:
        assert loaded.alpha is not None
        np.testing.assert_array_equal(loaded.alpha, alpha)
    else:
        assert loaded.alpha is None


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossy_round_trip_is_close_and_8_bit(tmp_path: Path, fmt: str, channels: int) -> None:
    y, x = np.mgrid[0:32, 0:48]
    smooth = np.stack([x / 47.0, y / 31.0, (x + y) / 78.0], axis=2)[:, :, :channels].astype(np.float32)
    alpha = np.full((32, 48), 0.5, dtype=np.float32)
    loaded = read_image(write_image(tmp_path / "out.img", smooth, format=fmt, alpha=alpha, bit_depth=16))
    assert loaded.bit_depth == 8
    expected_channels = 3 if fmt == "webp" else channels  # WebP has no gray mode
    assert loaded.pixels.shape == (32, 48, expected_channels)
    expected = smooth if channels == 3 else smooth.repeat(expected_channels, axis=2)
    assert np.abs(loaded.pixels - expected).mean() < 0.02
    if fmt == "jpeg":
        assert loaded.alpha is None  # JPEG cannot carry alpha
    else:
        assert loaded.alpha is not None and np.abs(loaded.alpha - 0.5).max() < 0.01


def test_quantization_rounds_to_nearest(tmp_path: Path) -> None:
    # 0.4/255 must round down to 0, 0.6/255 up to 1, values outside [0, 1] clip.
    pixels = np.array([[[0.4 / 255], [0.6 / 255], [254.5 / 255 + 1e-4], [-0.3], [1.7]]], dtype=np.float32)
    loaded = read_image(write_image(tmp_path / "q.png", pixels, bit_depth=8))
    assert (loaded.pixels[0, :, 0] * 255).round().astype(int).tolist() == [0, 1, 255, 0, 255]


@pytest.mark.parametrize("depth", [8, 16])
def test_quantization_in_chunks_handles_non_finite_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          depth: int) -> None:
    """Samples are converted a few rows at a time (a small chunk here, so the 7 rows take four steps): NaN and -inf
    give 0, +inf the top level, every row as if converted at once."""
    import irtool.io.images as images

    monkeypatch.setattr(images, "_QUANTIZE_CHUNK", 2 * 5 * 3)  # two rows of 5 RGB pixels
    top = 2**depth - 1
    pixels = np.tile(np.array([np.nan, np.inf, -np.inf, 0.5, 2.0], dtype=np.float32)[None, :, None], (7, 1, 3))
    pixels[6, 3] = 0.25
    loaded = read_image(write_image(tmp_path / "q.png", pixels, bit_depth=depth))
    levels = np.round(loaded.pixels * top).astype(int)
    assert levels.shape == (7, 5, 3)
    assert (levels[:, :3] == np.array([0, top, 0])[None, :, None]).all() and (levels[:, 4] == top).all()
    assert (levels[:6, 3] == round(0.5 * top + 1e-9)).all() and (levels[6, 3] == round(0.25 * top)).all()


# A PNG built by hand (chunk by chunk) checks our reading against the specification, not against our own writer.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ADAM7_PASSES = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_file(width: int, height: int, bit_depth: int, color_type: int, scanlines: bytes, *, interlaced: bool = False,
              before_data: tuple[bytes, ...] = (), after_data: tuple[bytes, ...] = ()) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, int(interlaced))
    return b"".join([_PNG_SIGNATURE, _chunk(b"IHDR", ihdr), *before_data, _chunk(b"IDAT", zlib.compress(scanlines)),
                     *after_data, _chunk(b"IEND", b"")])


def _filtered_scanlines(levels: np.ndarray) -> bytes:
    """16-bit HxWxC samples as PNG scanlines, row r with filter type r % 5 (None, Sub, Up, Average, Paeth)."""
    height, width, channels = levels.shape
    bpp = 2 * channels
    rows = levels.astype(">u2").view(np.uint8).reshape(height, width * bpp).astype(np.int32)
    out = b""
    for r in range(height):
        x, up = rows[r], rows[r - 1] if r else np.zeros_like(rows[r])
        left, up_left = np.zeros_like(x), np.zeros_like(x)
        left[bpp:], up_left[bpp:] = x[:-bpp], up[:-bpp]
        p = left + up - up_left
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - up_left)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        predicted = (np.zeros_like(x), left, up, (left + up) // 2, paeth)[r % 5]
        out += bytes([r % 5]) + ((x - predicted) % 256).astype(np.uint8).tobytes()
    return out


@pytest.mark.parametrize(("channels", "color_type"), [(3, 2), (4, 6), (2, 4)])
def test_16_bit_png_with_every_filter_type_is_decoded(tmp_path: Path, channels: int, color_type: int) -> None:
    levels = RNG.integers(0, 65536, size=(15, 9, channels)).astype(np.uint16)
    levels[:5] = np.linspace(0, 65535, 9, dtype=np.uint16)[None, :, None]  # smooth rows: the predictors matter
    path = tmp_path / "filters.png"
    path.write_bytes(_png_file(9, 15, 16, color_type, _filtered_scanlines(levels)))
    loaded = read_image(path)
    assert loaded.bit_depth == 16
    colour, alpha = levels[:, :, : channels - (channels in (2, 4))], levels[:, :, -1]
    np.testing.assert_array_equal(np.round(loaded.pixels * 65535).astype(np.uint16), colour)
    assert loaded.alpha is not None if channels in (2, 4) else loaded.alpha is None
    if loaded.alpha is not None:
        np.testing.assert_array_equal(np.round(loaded.alpha * 65535).astype(np.uint16), alpha)


def test_interlaced_16_bit_png_is_decoded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Build an Adam7 PNG by hand (pass sub-images, filter type 0) and compare with the plain image.
    height, width = 11, 13
    levels = RNG.integers(0, 65536, size=(height, width, 3)).astype(np.uint16)
    raw = b""
    for x0, y0, dx, dy in _ADAM7_PASSES:
        sub = levels[y0::dy, x0::dx]
        if sub.size:
            for row in sub.astype(">u2"):
                raw += b"\x00" + row.tobytes()
    (tmp_path / "adam7.png").write_bytes(_png_file(width, height, 16, 2, raw, interlaced=True))
    loaded = read_image(tmp_path / "adam7.png")
    np.testing.assert_array_equal(np.round(loaded.pixels * 65535).astype(np.uint16), levels)
    assert loaded.notes == () and capsys.readouterr().err == ""  # libpng's interlace remark is not news


def test_16_bit_rgb_png_transparent_colour_becomes_alpha(tmp_path: Path) -> None:
    levels = RNG.integers(0, 65536, size=(4, 6, 3)).astype(np.uint16)
    levels[1, 2] = (1000, 2000, 3000)
    trns = _chunk(b"tRNS", struct.pack(">3H", 1000, 2000, 3000))
    raw = b"".join(b"\x00" + row.tobytes() for row in levels.astype(">u2"))
    (tmp_path / "trns.png").write_bytes(_png_file(6, 4, 16, 2, raw, before_data=(trns,)))
    loaded = read_image(tmp_path / "trns.png")
    assert loaded.alpha is not None and loaded.alpha[1, 2] == 0.0
    assert np.count_nonzero(loaded.alpha == 1.0) == 23
    np.testing.assert_array_equal(np.round(loaded.pixels * 65535).astype(np.uint16), levels)


@pytest.mark.parametrize("where", ["before", "after"])
def test_16_bit_png_exif_is_read_before_or_after_the_image_data(tmp_path: Path, where: str) -> None:
    # The eXIf chunk may follow the image data (libpng writes it there too); orientation 6 must still apply.
    levels = RNG.integers(0, 65536, size=(4, 6, 3)).astype(np.uint16)
    exif = _chunk(b"eXIf", _exif_with(6).tobytes()[6:])
    raw = b"".join(b"\x00" + row.tobytes() for row in levels.astype(">u2"))
    placement = {"before_data": (exif,)} if where == "before" else {"after_data": (exif,)}
    (tmp_path / "exif.png").write_bytes(_png_file(6, 4, 16, 2, raw, **placement))
    loaded = read_image(tmp_path / "exif.png")
    assert loaded.orientation == 6 and loaded.pixels.shape == (6, 4, 3) and loaded.source_size == (6, 4)
    np.testing.assert_array_equal(np.round(loaded.pixels * 65535).astype(np.uint16), np.rot90(levels, k=-1))
    parsed = Image.Exif()
    parsed.load(loaded.exif)
    assert parsed[0x0112] == 1 and parsed[0x010F] == "TestCam"


@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_png_round_trip_is_bit_exact_and_standard(tmp_path: Path, channels: int) -> None:
    levels = RNG.integers(0, 65536, size=(37, 53, channels)).astype(np.uint16)
    levels[:8] = np.linspace(0, 65535, 53, dtype=np.uint16)[None, :, None]
    pixels = levels.astype(np.float32) / 65535
    target = write_image(tmp_path / "deep.png", pixels, bit_depth=16)
    loaded = read_image(target)
    assert (loaded.bit_depth, loaded.mode) == (16, "RGB" if channels == 3 else "RGBA")
    np.testing.assert_array_equal(np.round(loaded.pixels * 65535).astype(np.uint16), levels[:, :, :3])
    if channels == 4:
        assert loaded.alpha is not None
        np.testing.assert_array_equal(np.round(loaded.alpha * 65535).astype(np.uint16), levels[:, :, 3])
    # An independent decoder (Pillow reduces 16-bit colour PNG to its high bytes) agrees with what we wrote.
    with Image.open(target) as reference:
        np.testing.assert_array_equal(np.asarray(reference), (levels >> 8).astype(np.uint8))
    again = write_image(tmp_path / "again.png", loaded.pixels, like=loaded)
    assert read_image(again).bit_depth == 16
    np.testing.assert_array_equal(read_image(again).pixels, loaded.pixels)


def test_16_bit_tiff_is_a_standard_deflate_tiff(tmp_path: Path) -> None:
    import tifffile

    levels = RNG.integers(0, 65536, size=(19, 23, 4)).astype(np.uint16)
    target = write_image(tmp_path / "deep.tif", levels[:, :, :3] / 65535, alpha=levels[:, :, 3] / 65535,
                         bit_depth=16)
    with tifffile.TiffFile(target) as tiff:
        page = tiff.pages.first
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE and page.predictor == 2
        assert page.extrasamples == (tifffile.EXTRASAMPLE.UNASSALPHA,) and page.dtype == np.uint16
        assert "ImageDescription" not in page.tags and "Software" not in page.tags
        np.testing.assert_array_equal(page.asarray(), levels)


def test_tiff_carries_exif_gps_and_interop_sub_ifds(tmp_path: Path) -> None:
    import tifffile

    exif = _exif_with(1)
    exif[0x013B] = "Zoë".encode()  # Artist in UTF-8, not ASCII: must neither fail the write nor be mangled
    exif[0x011A], exif[0x011B], exif[0x0128] = 300.0, 300.0, 2  # XResolution, YResolution, ResolutionUnit (inch)
    exif.get_ifd(0x8769)[0x829A] = 1 / 250  # ExposureTime (rational)
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 30.0), 3: "E"})  # GPS latitude ref/value, longitude ref
    exif.get_ifd(0x8769)[0xA005] = {1: "R98"}  # Interoperability index, nested in the Exif IFD
    source = tmp_path / "src.jpg"
    Image.fromarray(np.full((6, 8, 3), 128, np.uint8)).save(source, exif=exif)
    loaded = read_image(source)
    output = write_image(tmp_path / "out.tif", loaded.pixels, like=loaded, format="tiff", bit_depth=16)
    with Image.open(output) as written:
        tags = written.getexif()
        assert tags[0x010F] == "TestCam" and tags[0x013B].encode("latin-1").decode("utf-8") == "Zoë"
        assert tags[0x011A] == 300 and tags[0x0128] == 2
        assert tags.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
        assert tags.get_ifd(0x8769)[0x829A] == pytest.approx(1 / 250)
        gps = tags.get_ifd(0x8825)
        assert gps[1] == "N" and gps[3] == "E" and tuple(float(v) for v in gps[2]) == (48.0, 51.0, 30.0)
        assert tags.get_ifd(0xA005)[1] == "R98"
    with tifffile.TiffFile(output) as tiff:  # a second, independent reader finds the same sub-IFDs
        page = tiff.pages.first
        assert page.tags["ExifTag"].value["DateTimeOriginal"] == "2024:05:06 07:08:09"
        assert page.tags["GPSTag"].value["GPSLatitudeRef"] == "N"
    again = read_image(output)
    assert again.bit_depth == 16 and again.exif is not None


def test_sub_ifds_are_linked_in_bigtiff_too() -> None:
    # tifffile switches to BigTIFF for images over 4 GB; the sub-IFD linking reads either header.
    import tifffile

    from irtool.io import _tiff

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((4, 5), np.uint16), bigtiff=True, metadata=None,
                     extratags=[("ExifTag", 4, 1, 0, True)])
    _tiff._append_sub_ifds(buffer, {0x8769: {0x9003: "2024:05:06 07:08:09"}})
    buffer.seek(0)
    with tifffile.TiffFile(buffer) as tiff:
        assert tiff.is_bigtiff
        assert tiff.pages.first.tags["ExifTag"].value["DateTimeOriginal"] == "2024:05:06 07:08:09"


@pytest.mark.parametrize(
    ("mode", "expected_channels", "expects_alpha"),
    [("1", 1, False), ("L", 1, False), ("LA", 1, True), ("P", 3, False), ("RGB", 3, False),
     ("RGBA", 3, True), ("CMYK", 3, False), ("I;16", 1, False)],
)
def test_pillow_modes_are_normalised(tmp_path: Path, mode: str, expected_channels: int, expects_alpha: bool) -> None:
    base = Image.fromarray((_random_pixels(8, 10, 3, 8) * 255).round().astype(np.uint8), mode="RGB")
    image = base.convert(mode) if mode != "I;16" else Image.fromarray(
        (_random_pixels(8, 10, 1, 16)[:, :, 0] * 65535).round().astype(np.uint16)
    )
    fmt = {"CMYK": "TIFF", "LA": "PNG"}.get(mode, "PNG")
    path = tmp_path / f"m.{fmt.lower()}"
    image.save(path, format=fmt)
    loaded = read_image(path)
    assert loaded.mode == mode
    assert loaded.pixels.shape == (8, 10, expected_channels)
    assert (loaded.alpha is not None) == expects_alpha
    assert loaded.bit_depth == (16 if mode == "I;16" else 8)
    if mode in ("L", "RGB", "P"):
        reference = image.convert("L" if mode == "L" else "RGB")
        np.testing.assert_array_equal(
            (loaded.pixels * 255).round().astype(np.uint8).reshape(np.asarray(reference).shape), np.asarray(reference)
        )


def test_multi_page_tiff_reads_first_page_with_a_note(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (5, 4), (255, 0, 0)), Image.new("RGB", (5, 4), (0, 0, 255))]
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    loaded = read_image(tmp_path / "pages.tif")
    assert loaded.frame_count == 2 and any("only the first" in note for note in loaded.notes)
    np.testing.assert_array_equal(loaded.pixels[0, 0], [1.0, 0.0, 0.0])


def test_palette_with_transparency_gives_alpha(tmp_path: Path) -> None:
    image = Image.new("P", (4, 3), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.save(tmp_path / "p.png", transparency=0)
    loaded = read_image(tmp_path / "p.png")
    assert loaded.alpha is not None
    assert loaded.alpha[0, 0] == 0.0 and loaded.alpha[1, 1] == 1.0
    np.testing.assert_array_equal(loaded.pixels[1, 1], [1.0, 0.0, 0.0])


# ----------------------------------------------------------------------------------------------- metadata


def _exif_with(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    return exif


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_like_pillow(tmp_path: Path, orientation: int) -> None:
    array = (RNG.random((6, 10, 3)) * 255).round().astype(np.uint8)
    image = Image.fromarray(array)
    image.save(tmp_path / "o.png", exif=_exif_with(orientation))
    loaded = read_image(tmp_path / "o.png")
    with Image.open(tmp_path / "o.png") as reference:
        expected = np.asarray(ImageOps.exif_transpose(reference))
    np.testing.assert_array_equal((loaded.pixels * 255).round().astype(np.uint8), expected)
    assert loaded.orientation == orientation
    assert loaded.source_size == (10, 6)
    parsed = Image.Exif()
    parsed.load(loaded.exif)
    assert parsed[0x0112] == 1 and parsed[0x010F] == "TestCam"


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_orientation_6_rotates_clockwise(tmp_path: Path, fmt: str) -> None:
    # Stored landscape 8x4 with a bright left half; orientation 6 = "rotate 90 CW to display" -> the
    # displayed portrait image is 4 wide, 8 tall, with the bright half on top.
    array = np.zeros((4, 8, 3), dtype=np.uint8)
    array[:, :4] = 255
    path = tmp_path / f"six.{fmt.lower()}"
    Image.fromarray(array).save(path, format=fmt, exif=_exif_with(6), **({"quality": 100} if fmt == "JPEG" else {}))
    loaded = read_image(path)
    assert loaded.pixels.shape == (8, 4, 3)
    assert loaded.pixels[:4].mean() > 0.9 and loaded.pixels[4:].mean() < 0.1
    assert loaded.source_size == (8, 4)


@pytest.mark.parametrize(("out_format", "depth"),
                         [("png", 8), ("png", 16), ("jpeg", 8), ("webp", 8), ("tiff", 8), ("tiff", 16)])
def test_icc_and_exif_are_copied(tmp_path: Path, out_format: str, depth: int) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / "src.jpg"
    Image.fromarray(np.full((6, 8, 3), 128, np.uint8)).save(source, icc_profile=icc, exif=_exif_with(3))
    loaded = read_image(source)
    output = write_image(tmp_path / "out" / "copy", loaded.pixels, like=loaded, format=out_format, bit_depth=depth)
    with Image.open(output) as written:
        assert written.info.get("icc_profile") == icc
        exif = written.getexif()
        assert exif.get(0x010F) == "TestCam"
        assert exif.get(0x0112) == 1  # already applied to the pixels; must not be applied twice
        assert exif.get_ifd(0x8769).get(0x9003) == "2024:05:06 07:08:09"
    again = read_image(output)
    assert again.bit_depth == depth and again.orientation == 1 and again.icc_profile == icc


def test_alpha_follows_super_resolution(tmp_path: Path) -> None:
    source = tmp_path / "a.png"
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:, :4, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(source)
    loaded = read_image(source)
    upscaled = np.zeros((32, 32, 3), dtype=np.float32)
    output = write_image(tmp_path / "sr.png", upscaled, like=loaded)
    written = read_image(output)
    assert written.alpha is not None and written.alpha.shape == (32, 32)
    assert written.alpha[:, :12].max() < 0.05 and written.alpha[:, 20:].min() > 0.95
    resized = resize_alpha(loaded.alpha, 2)
    assert resized.shape == (16, 16) and resized.min() >= 0.0 and resized.max() <= 1.0


# ----------------------------------------------------------------------------------------------- bad inputs


def _valid_png(path: Path) -> Path:
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(path)
    return path


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    png_bytes = _valid_png(tmp_path / "good.png").read_bytes()
    jpeg = io.BytesIO()
    Image.fromarray((RNG.random((64, 64, 3)) * 255).astype(np.uint8)).save(jpeg, format="JPEG")
    files = {
        "zero byte.png": b"",
        "notes.txt": b"this is a text file, not an image\n",
        "text-named.jpg": b"hello",
        "truncated.png": png_bytes[: len(png_bytes) // 2],
        "truncated.jpg": jpeg.getvalue()[: len(jpeg.getvalue()) // 3],
        "corrupt.png": png_bytes[:60] + bytes(len(png_bytes) - 60),
    }
    for name, payload in files.items():
        (tmp_path / name).write_bytes(payload)
    return {name: tmp_path / name for name in files}


def test_bad_files_raise_input_error_naming_the_file(tmp_path: Path) -> None:
    for name, path in _bad_inputs(tmp_path).items():
        with pytest.raises(InputError) as caught:
            read_image(path)
        message = str(caught.value)
        assert name in message and "\n" not in message, message
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(InputError, match="folder"):
        read_image(tmp_path)


def test_float_tiff_is_refused_clearly(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4), np.float32), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(InputError, match="floating-point"):
        read_image(tmp_path / "f.tif")


def _png_claiming_size(path: Path, width: int, height: int, bit_depth: int = 8) -> Path:
    """A tiny PNG whose header claims width x height (no pixel data needed for the guard to fire)."""
    path.write_bytes(_png_file(width, height, bit_depth, 2, b"\x00" * 64))
    return path


def test_bomb_guard_refuses_huge_headers_without_decoding(tmp_path: Path) -> None:
    huge = _png_claiming_size(tmp_path / "bomb.png", 50_000, 50_000)  # 2.5 GP claimed in ~100 bytes
    with pytest.raises(InputError, match="bomb") as caught:
        read_image(huge)
    assert "bomb.png" in str(caught.value)
    # Between our limit and Pillow's own 2x error threshold (Pillow would only warn): still refused.
    medium = _png_claiming_size(tmp_path / "medium.png", 300, 200)
    with pytest.raises(InputError, match="bomb"):
        read_image(medium, max_pixels=50_000)
    # A configurable limit: the same real image passes or fails depending on it.
    good = _valid_png(tmp_path / "ok.png")
    assert read_image(good, max_pixels=1600).width == 40
    with pytest.raises(InputError, match="bomb"):
        read_image(good, max_pixels=1599)
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS != 1599  # global restored


def test_bomb_guard_refuses_16_bit_png_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import imagecodecs

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(imagecodecs, "png_decode", no_decoding)
    huge = _png_claiming_size(tmp_path / "deep-bomb.png", 50_000, 50_000, bit_depth=16)
    with pytest.raises(InputError, match="bomb") as caught:
        read_image(huge)
    assert "deep-bomb.png" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(InputError, match="bomb"):
        read_image(_png_claiming_size(tmp_path / "medium.png", 300, 200, bit_depth=16), max_pixels=50_000)


def _deep_png(tmp_path: Path) -> bytes:
    levels = RNG.integers(0, 65536, size=(64, 48, 4)).astype(np.uint16)
    return write_image(tmp_path / "deep.png", levels / 65535, bit_depth=16).read_bytes()


def test_damaged_16_bit_png_gives_one_line_input_error(tmp_path: Path) -> None:
    data = _deep_png(tmp_path)
    idat = data.index(b"IDAT")
    corrupt = bytearray(data)
    corrupt[idat + 100 : idat + 140] = bytes(40)  # inside the image data: the chunk's CRC no longer matches
    cases = {
        "half.png": (data[: len(data) // 2], "truncated"),
        "header-only.png": (data[: idat + 20], "truncated"),
        "corrupt.png": (bytes(corrupt), "damaged image data"),
    }
    for name, (payload, reason) in cases.items():
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(InputError) as caught:
            read_image(tmp_path / name)
        message = str(caught.value)
        assert name in message and reason in message and "\n" not in message, message


def test_libpng_warnings_become_notes_not_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    data = _deep_png(tmp_path)
    bad_intent = _chunk(b"sRGB", b"\x09")  # rendering intents are 0-3: libpng warns and ignores the chunk
    (tmp_path / "warned.png").write_bytes(data[:33] + bad_intent + data[33:])
    loaded = read_image(tmp_path / "warned.png")
    assert loaded.bit_depth == 16 and any("sRGB" in note for note in loaded.notes), loaded.notes
    assert capsys.readouterr().err == "" and not caplog.records


def test_reading_never_modifies_inputs(tmp_path: Path) -> None:
    paths = list(_bad_inputs(tmp_path).values())
    exif_jpeg = tmp_path / "exif.jpg"
    Image.fromarray(np.full((5, 7, 3), 10, np.uint8)).save(exif_jpeg, exif=_exif_with(6))
    paths += [exif_jpeg, _valid_png(tmp_path / "good2.png")]
    before = {path: (_sha256(path), path.stat().st_mtime_ns) for path in paths}
    for path in paths:
        try:
            read_image(path)
        except InputError:
            pass
    assert {path: (_sha256(path), path.stat().st_mtime_ns) for path in paths} == before


# ----------------------------------------------------------------------------------------------- atomic writes


def test_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.png"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as handle:
            handle.write(b"half an image")
            raise RuntimeError("encoder crashed")
    assert not target.exists()
    assert list((tmp_path / "deep").iterdir()) == []


def test_failed_write_keeps_previous_output(tmp_path: Path) -> None:
    target = write_image(tmp_path / "keep.png", np.zeros((4, 4, 3), np.float32))
    before = _sha256(target)
    # pixels with an invalid shape make the writer fail after the output folder exists
    with pytest.raises(UsageError):
        write_image(target, np.zeros((4, 4, 2), np.float32))
    with pytest.raises(RuntimeError):
        with atomic_output(target) as handle:
            handle.write(b"garbage")
            raise RuntimeError
    assert _sha256(target) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["keep.png"]


def test_temp_names_are_recognised_and_hidden(tmp_path: Path) -> None:
    captured: list[str] = []
    with atomic_output(tmp_path / "photo.jpg") as handle:
        captured.extend(name for name in os.listdir(tmp_path))
        handle.write(b"x")
    assert len(captured) == 1 and captured[0].startswith(".photo.jpg.tmp-")
    assert is_temp_name(captured[0]) and not is_temp_name("photo.jpg")
    (tmp_path / captured[0]).write_bytes(b"left over by a killed run")
    assert [item.relative.name for item in expand_inputs([str(tmp_path)])] == ["photo.jpg"]


def test_whole_payloads_are_written_in_one_step(tmp_path: Path) -> None:
    text_file = atomic_write_text(tmp_path / "new" / "report.csv", "a,b\r\né,1\r\n")
    assert text_file.read_bytes() == "a,b\r\né,1\r\n".encode("utf-8")  # line endings kept as given
    assert atomic_write_bytes(text_file, b"second") == text_file and text_file.read_bytes() == b"second"
    assert sorted(p.name for p in text_file.parent.iterdir()) == ["report.csv"]
    with pytest.raises(UnicodeEncodeError):  # fails before anything is written: the old file stays
        atomic_write_text(text_file, "\u20ac", encoding="ascii")
    assert text_file.read_bytes() == b"second" and sorted(p.name for p in text_file.parent.iterdir()) == ["report.csv"]


def test_a_folder_appears_complete_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "bench" / "rev"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as staging:
            (staging / "half.png").write_bytes(b"x")
            assert is_temp_name(staging.name) and staging.parent == target.parent
            raise RuntimeError("extraction failed")
    assert not target.exists() and list(target.parent.iterdir()) == []
    with atomic_directory(target) as staging:
        (staging / "sub").mkdir()
        (staging / "sub" / "a.png").write_bytes(b"a")
        assert not target.exists()
    assert (target / "sub" / "a.png").read_bytes() == b"a"
    with pytest.raises(FileExistsError):  # someone else finished first: theirs is kept, ours is dropped
        with atomic_directory(target) as staging:
            (staging / "other.png").write_bytes(b"b")
    assert sorted(p.name for p in target.rglob("*")) == ["a.png", "sub"]
    assert list(target.parent.iterdir()) == [target]


_WRITE_CALL = re.compile(r"open\([^)]*['\"][wax]b?\+?['\"]|\.write_text\(|\.write_bytes\(|os\.replace\(|\.rename\("
                         r"|torch\.save\(|np\.save|save_file\(|\.save\((path|target|tmp|str\()")
#: Files allowed to write directly, and why.
_DIRECT_WRITERS = {
    "io/atomic.py": "the atomic writers themselves",
    "evaluate/benchmarks.py": "extracts into the staging folder of atomic_directory",
}


def test_the_library_writes_files_only_through_io_atomic() -> None:
    """Outside irtool/train, whose run folder (checkpoints, appended metrics.jsonl lines) the training code owns."""
    package = Path(__file__).resolve().parents[1] / "irtool"
    found = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        if name in _DIRECT_WRITERS or name.startswith("train/"):
            continue
        found += [f"{name}:{n}" for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                  if _WRITE_CALL.search(line)]
    assert found == []


# ----------------------------------------------------------------------------------------------- inputs


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folder_expansion_mirrors_tree_with_any_names(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for relative in ["b.JPG", "a.png", "trip 2024/day one.jpeg", "trip 2024/naïve café/été.webp", "deep/x/y/z.TIFF",
                     "notes.txt", ".hidden.png", ".cache/inside.png", "trip 2024/raw.cr2"]:
        _touch(root / relative)
    items = expand_inputs([str(root)])
    assert [item.relative.as_posix() for item in items] == sorted(
        ["a.png", "b.JPG", "deep/x/y/z.TIFF", "trip 2024/day one.jpeg", "trip 2024/naïve café/été.webp"],
        key=lambda relative: str(root / relative),
    )
    assert all(item.source.is_absolute() and item.source.is_file() for item in items)
    flat = expand_inputs([str(root)], recursive=False)
    assert [item.relative.as_posix() for item in flat] == ["a.png", "b.JPG"]


def test_files_globs_and_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for relative in ["photos/one.jpg", "photos/two.jpg", "photos/keep.png", "photos/sub/three.jpg", "odd.dat"]:
        _touch(tmp_path / relative)
    named = expand_inputs(["odd.dat"])  # a file named explicitly is taken whatever its extension
    assert [(item.relative.as_posix(), item.source) for item in named] == [("odd.dat", tmp_path / "odd.dat")]
    star = expand_inputs(["photos/*.jpg"])
    assert [item.relative.as_posix() for item in star] == ["one.jpg", "two.jpg"]
    deep = expand_inputs(["photos/**/*.jpg"])
    assert sorted(item.relative.as_posix() for item in deep) == ["one.jpg", "sub/three.jpg", "two.jpg"]
    # the same file reached three ways is listed once
    merged = expand_inputs(["photos/one.jpg", "photos", "photos/*.jpg"])
    assert len(merged) == len({item.source for item in merged}) == 4
    with pytest.raises(UsageError, match="no such file"):
        expand_inputs(["photos/missing.jpg"])
    with pytest.raises(UsageError, match="no image files match"):
        expand_inputs(["photos/*.gif"])


def test_every_listed_extension_is_a_format_irtool_reads_and_writes(tmp_path: Path) -> None:
    assert {normalize_format(extension) for extension in IMAGE_EXTENSIONS} == set(SUPPORTED_FORMATS)
    pixels = _random_pixels(6, 7, 3, 8)
    for extension in sorted(IMAGE_EXTENSIONS):
        back = read_image(write_image(tmp_path / f"x{extension.upper()}", pixels))
        assert back.format == normalize_format(extension) and back.pixels.shape == (6, 7, 3)
    assert sorted(p.name for p in list_images(tmp_path)) == sorted(f"x{e.upper()}" for e in IMAGE_EXTENSIONS)


def test_ppm_and_pgm_keep_their_pixels(tmp_path: Path) -> None:
    rgb, gray = _random_pixels(5, 9, 3, 8), _random_pixels(5, 9, 1, 8)
    assert np.array_equal(read_image(write_image(tmp_path / "c.ppm", rgb)).pixels, rgb)
    back = read_image(write_image(tmp_path / "g.pgm", gray))
    assert back.is_gray and np.array_equal(back.pixels, gray)
    assert (tmp_path / "c.ppm").read_bytes()[:2] == b"P6" and (tmp_path / "g.pgm").read_bytes()[:2] == b"P5"
    deep = tmp_path / "deep.pgm"
    deep.write_bytes(b"P5 3 1 65535\n" + np.array([0, 1000, 65535], dtype=">u2").tobytes())
    loaded = read_image(deep)
    assert loaded.bit_depth == 16 and np.allclose(loaded.pixels[0, :, 0] * 65535, [0, 1000, 65535], atol=0.01)


def test_one_lister_for_restore_training_and_evaluation(tmp_path: Path) -> None:
    from irtool.data import list_images as training_lister
    from irtool.evaluate import folder_dataset

    root = tmp_path / "photos"
    for relative in ["b.JPG", "a.png", "a b/x.png", "a/c.pgm", "a/d.PPM", "a-2.png", "notes.txt", ".hidden.png",
                     ".cache/inside.png", "sub/.x.png.tmp-12-0123abcd", "sub/z.bmp"]:
        _touch(root / relative)
    (root / "link").symlink_to(root / "sub", target_is_directory=True)
    listed = [p.relative_to(root).as_posix() for p in list_images(root, recursive=True)]
    # Sorted by path, a folder's files together; hidden files and folders and linked folders left out.
    assert listed == ["a/c.pgm", "a/d.PPM", "a b/x.png", "a-2.png", "a.png", "b.JPG", "sub/z.bmp"]
    assert [p.name for p in list_images(root)] == ["a-2.png", "a.png", "b.JPG"]
    assert training_lister is list_images
    assert sorted(item.source for item in expand_inputs([str(root)])) == sorted(
        (root / relative).absolute() for relative in listed)
    assert [sample.gt for sample in folder_dataset(root).samples] == list_images(root, recursive=True)
    with pytest.raises(UsageError, match="not a folder"):
        list_images(root / "b.JPG")


def test_output_paths_follow_format_and_detect_collisions(tmp_path: Path) -> None:
    item = InputItem(source=tmp_path / "in" / "trip" / "IMG 1.JPEG", relative=Path("trip") / "IMG 1.JPEG")
    assert output_path(item, tmp_path / "out") == tmp_path / "out" / "trip" / "IMG 1.JPEG"
    assert output_path(item, tmp_path / "out", format="jpg") == tmp_path / "out" / "trip" / "IMG 1.JPEG"
    assert output_path(item, tmp_path / "out", format="png", suffix="_x4") == tmp_path / "out" / "trip" / "IMG 1_x4.png"
    assert output_path(item, "o", format="tiff").name == "IMG 1.tif"
    twins = [InputItem(source=tmp_path / "a.png", relative=Path("a.png")),
             InputItem(source=tmp_path / "a.jpg", relative=Path("a.jpg"))]
    assert len(plan_outputs(twins, tmp_path / "out")) == 2
    with pytest.raises(UsageError, match="both be written"):
        plan_outputs(twins, tmp_path / "out", format="png")


# ----------------------------------------------------------------------------------------------- sharding


@pytest.mark.parametrize("count", range(1, 6))
@pytest.mark.parametrize("total", [0, 1, 4, 7, 23])
def test_shards_cover_every_item_exactly_once(count: int, total: int) -> None:
    items = [f"img{number:03d}.png" for number in range(total)]
    shards = [select_shard(items, index, count) for index in range(count)]
    assert sorted(sum(shards, [])) == items
    assert max(len(shard) for shard in shards) - min(len(shard) for shard in shards) <= 1
    assert shards == [select_shard(items, index, count) for index in range(count)]  # stable


def test_parse_shard_is_one_based_and_validated() -> None:
    assert parse_shard("1/4") == (0, 4) and parse_shard(" 4 / 4 ") == (3, 4)
    assert str(parse_shard("2/3")) == "2/3"
    for bad in ["0/4", "5/4", "1/0", "a/b", "3", "-1/2", ""]:
        with pytest.raises(UsageError):
            parse_shard(bad)
    with pytest.raises(UsageError):
        select_shard([1, 2], 2, 2)


def test_shard_from_torchrun_environment() -> None:
    assert shard_from_env({}) is None
    assert shard_from_env({"WORLD_SIZE": "1", "RANK": "0"}) is None
    assert shard_from_env({"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "0"}) == (2, 4)
    assert shard_from_env({"LOCAL_WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == (1, 2)
    for bad in [{"WORLD_SIZE": "2"}, {"WORLD_SIZE": "2", "RANK": "2"}, {"WORLD_SIZE": "x", "RANK": "0"}]:
        with pytest.raises(UsageError):
            shard_from_env(bad)
