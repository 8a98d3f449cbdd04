#!/usr/bin/env python3
"""Gather the photographs the bundled lite models are trained on.

Sources, and only these (their licences allow redistribution and they install from the registries
every irtool machine can reach):

* photographs that ship inside scikit-image (``skimage/data/*``; no network needed);
* photographic wallpapers from Debian's wallpaper packages, fetched with ``apt-get download`` and
  unpacked with ``dpkg-deb -x`` into a cache directory (nothing is installed; no root needed, but
  the apt lists must be current: run ``apt-get update`` once if a download fails).

Every image below was looked at by hand; synthetic art, vector/rendered wallpapers, logos, test
patterns and microscopy were left out. Excluded on purpose although photographic: mate's
``Storm.jpg`` (its lower half is deliberate motion blur, a bad *clean* target for deblurring) and
the blurred "Ubuntu-Mate-*-no-logo" auroras (out of focus everywhere).

Processing: EXIF orientation applied, an embedded ICC profile converted to sRGB, grey photographs
replicated to three channels, then the longer side is reduced to at most ``--max-side`` (default
1024) with Pillow's Lanczos filter (antialiased). The downscale keeps training CPU-friendly and,
since most wallpapers are 2-6K JPEGs, also averages away their compression artefacts and sensor
noise, so the "clean" targets really are clean. Images already small enough are not resampled.
Outputs are 8-bit RGB PNGs without metadata.

The train/val split is FIXED by the ``split`` field of each entry below (never derived from a
random draw), so a validation photo can never leak into training. Reruns are deterministic and
idempotent: downloads are cached, unchanged outputs are not rewritten, ``manifest.json`` is
rewritten with the same content, and files a previous manifest listed that are no longer produced
are removed. Nothing is written outside ``--out`` and ``--cache``.

Usage::

    python scripts/gather_photos.py --out runs/photos
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

#: Sizes of the selected wallpapers reach 6028 x 3391: above Pillow's default bomb threshold
#: only for some, but these are trusted files from signed Debian packages.
Image.MAX_IMAGE_PIXELS = 64_000_000

SPLITS = ("train", "val")


@dataclass(frozen=True)
class DebianPackage:
    name: str
    #: Pinned so that the hand-checked allow-list keeps matching the archive's content.
    version: str


@dataclass(frozen=True)
class PhotoSource:
    #: Output file stem (unique across all sources).
    name: str
    split: str
    #: "skimage" or the Debian package name.
    origin: str
    #: skimage: the file name inside ``skimage/data``; Debian: the path inside the package.
    path: str


DEBIAN_PACKAGES = {
    p.name: p
    for p in (
        DebianPackage(name="lomiri-wallpapers-16.04", version="20.04.0-2"),
        DebianPackage(name="lomiri-wallpapers-20.04", version="20.04.0-2"),
        DebianPackage(name="mate-backgrounds", version="1.26.0-1"),
        DebianPackage(name="plasma-workspace-wallpapers", version="4:5.27.5-2"),
    )
}

_LOMIRI16 = "usr/share/backgrounds/"
_MATE = "usr/share/backgrounds/mate/nature/"


def _plasma(theme: str, size: str) -> str:
    # Plasma themes ship one photo at many sizes; the largest landscape one is taken.
    return f"usr/share/wallpapers/{theme}/contents/images/{size}.jpg"


#: The allow-list. Checked by eye; the split is part of the list on purpose.
PHOTOS: tuple[PhotoSource, ...] = (
    # scikit-image: everyday photographs only (grey ones become grey RGB).
    PhotoSource(name="skimage-astronaut", split="train", origin="skimage", path="astronaut.png"),
    PhotoSource(name="skimage-chelsea", split="train", origin="skimage", path="chelsea.png"),
    PhotoSource(name="skimage-rocket", split="train", origin="skimage", path="rocket.jpg"),
    PhotoSource(name="skimage-motorcycle_left", split="train", origin="skimage", path="motorcycle_left.png"),
    PhotoSource(name="skimage-camera", split="train", origin="skimage", path="camera.png"),
    PhotoSource(name="skimage-coins", split="train", origin="skimage", path="coins.png"),
    PhotoSource(name="skimage-brick", split="train", origin="skimage", path="brick.png"),
    PhotoSource(name="skimage-grass", split="train", origin="skimage", path="grass.png"),
    PhotoSource(name="skimage-coffee", split="val", origin="skimage", path="coffee.png"),
    PhotoSource(name="skimage-gravel", split="val", origin="skimage", path="gravel.png"),
    # lomiri-wallpapers-16.04 (Ubuntu wallpaper contest photographs).
    *(
        PhotoSource(
            name=f"lomiri-{stem.split('_by_')[0]}",
            split=split,
            origin="lomiri-wallpapers-16.04",
            path=f"{_LOMIRI16}{stem}.jpg",
        )
        for stem, split in (
            ("Bridge_by_Sander_Klootwijk", "train"),
            ("Dragonfly_by_Bolly", "train"),
            ("Picture_0B_by_freespace", "train"),
            ("Picture_1A_by_freespace", "val"),
            ("Wine_by_Jakkub_Mede", "train"),
            ("aitzgorri_by_Aitzol_Berasategi", "train"),
            ("analogpattern_by_Peter_Nerlich", "train"),
            ("free_by_Peter_Nerlich", "train"),
            ("friends_by_Aitzol_Berasategi", "val"),
            ("greentock_by_Peter_Nerlich", "train"),
            ("life_by_Aitzol_Berasategi", "train"),
            ("picosdeeuropa_by_Aitzol_Berasategi", "val"),
            ("seeding_by_Clements_Engelhardt", "train"),
            ("sunset_by_Aitzol_Berasategi", "train"),
        )
    ),
    PhotoSource(
        name="lomiri-Kleiber",
        split="train",
        origin="lomiri-wallpapers-20.04",
        path=f"{_LOMIRI16}Kleiber_by_Lukas_Baubkus.jpg",
    ),
    # mate-backgrounds: the "nature" photographs (Storm excluded, see the module docstring).
    *(
        PhotoSource(name=f"mate-{stem}", split=split, origin="mate-backgrounds", path=f"{_MATE}{stem}.jpg")
        for stem, split in (
            ("Aqua", "train"),
            ("Blinds", "train"),
            ("Dune", "val"),
            ("FreshFlower", "train"),
            ("Garden", "train"),
            ("GreenMeadow", "train"),
            ("LadyBird", "val"),
            ("RainDrops", "train"),
            ("TwoWings", "train"),
            ("Wood", "train"),
            ("YellowFlower", "train"),
        )
    ),
    # plasma-workspace-wallpapers: the photographic themes (the rest are rendered art).
    *(
        PhotoSource(
            name=f"plasma-{theme}", split=split, origin="plasma-workspace-wallpapers", path=_plasma(theme, size)
        )
        for theme, size, split in (
            ("BytheWater", "2560x1600", "train"),
            ("ColdRipple", "2560x1600", "train"),
            ("ColorfulCups", "2560x1600", "train"),
            ("DarkestHour", "2560x1600", "train"),
            ("EveningGlow", "2560x1600", "val"),
            ("FallenLeaf", "2560x1600", "train"),
            ("Grey", "2560x1600", "val"),
            ("Kite", "2560x1600", "train"),
            ("OneStandsOut", "2560x1600", "train"),
            ("Path", "2560x1600", "val"),
            ("summer_1am", "2560x1600", "train"),
        )
    ),
)


class GatherError(RuntimeError):
    """A source could not be fetched or read; the message says what to do."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_debian_package(package: DebianPackage, *, cache_dir: Path) -> tuple[Path, str]:
    """Download (once) and unpack ``package``; returns (unpacked root, sha256 of the .deb)."""
    deb_dir = cache_dir / "debs"
    root = cache_dir / "unpacked" / f"{package.name}_{package.version.replace(':', '%3a')}"
    deb_dir.mkdir(parents=True, exist_ok=True)
    # apt names the file with the epoch colon escaped as %3a.
    deb_path = deb_dir / f"{package.name}_{package.version.replace(':', '%3a')}_all.deb"
    if not deb_path.exists():
        with tempfile.TemporaryDirectory(dir=deb_dir) as tmp:
            result = subprocess.run(
                ["apt-get", "download", f"{package.name}={package.version}"],
                cwd=tmp,
                capture_output=True,
                text=True,
            )
            downloaded = sorted(Path(tmp).glob("*.deb"))
            if result.returncode != 0 or len(downloaded) != 1:
                raise GatherError(
                    f"apt-get download {package.name}={package.version} failed "
                    f"(run `apt-get update` first; the pinned version may have left the archive):\n"
                    f"{result.stderr.strip()}"
                )
            os.replace(downloaded[0], deb_path)
    deb_sha = sha256_of(deb_path.read_bytes())
    marker = root / ".unpacked-from"
    if not marker.exists() or marker.read_text() != deb_sha:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb_path), str(root)], check=True)
        marker.write_text(deb_sha)
    return root, deb_sha


def to_srgb_rgb(image: Image.Image) -> Image.Image:
    """Upright, sRGB, 8-bit RGB, no alpha."""
    image = ImageOps.exif_transpose(image)
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "L", "CMYK"):
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        image = ImageCms.profileToProfile(image, source_profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
    if image.mode in ("RGBA", "LA", "P"):
        # Composite on black rather than keep alpha: the selected photos are opaque anyway.
        image = image.convert("RGBA")
        canvas = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(canvas, image)
    return image.convert("RGB")


def downscale(image: Image.Image, *, max_side: int) -> Image.Image:
    longest = max(image.size)
    if longest <= max_side:
        return image
    factor = max_side / longest
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, resample=Image.Resampling.LANCZOS, reducing_gap=None)


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # Rebuilt from raw pixels so no metadata rides along (Pillow would re-embed an ICC profile
    # carried in ``info``, and a freshly created sRGB profile carries a timestamp), and a fixed
    # compression level: identical pixels give identical bytes.
    bare = Image.frombytes("RGB", image.size, image.tobytes())
    bare.save(buffer, format="PNG", compress_level=9, optimize=False)
    return buffer.getvalue()


def write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def validate_allow_list() -> None:
    names = [p.name for p in PHOTOS]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GatherError(f"duplicate output names in the allow-list: {duplicates}")
    for photo in PHOTOS:
        if photo.split not in SPLITS:
            raise GatherError(f"{photo.name}: split must be one of {SPLITS}")
        if photo.origin != "skimage" and photo.origin not in DEBIAN_PACKAGES:
            raise GatherError(f"{photo.name}: unknown origin {photo.origin!r}")


def gather(*, out_dir: Path, cache_dir: Path, max_side: int) -> dict:
    validate_allow_list()
    import skimage  # only the script needs it; imported late so --help stays fast

    skimage_dir = Path(skimage.__file__).parent / "data"
    unpacked: dict[str, tuple[Path, str]] = {}
    for origin in sorted({p.origin for p in PHOTOS} - {"skimage"}):
        unpacked[origin] = fetch_debian_package(DEBIAN_PACKAGES[origin], cache_dir=cache_dir)

    entries = []
    for photo in PHOTOS:
        if photo.origin == "skimage":
            source_path = skimage_dir / photo.path
            source = {
                "kind": "skimage",
                "name": Path(photo.path).stem,
                "version": skimage.__version__,
                "path": f"skimage/data/{photo.path}",
            }
        else:
            root, deb_sha = unpacked[photo.origin]
            source_path = root / photo.path
            package = DEBIAN_PACKAGES[photo.origin]
            source = {
                "kind": "debian",
                "package": package.name,
                "version": package.version,
                "deb_sha256": deb_sha,
                "path": f"/{photo.path}",
            }
        if not source_path.is_file():
            raise GatherError(f"{photo.name}: {source_path} is missing from {photo.origin}")
        with Image.open(source_path) as original:
            original_size = original.size
            image = downscale(to_srgb_rgb(original), max_side=max_side)
        png = encode_png(image)
        relative = f"{photo.split}/{photo.name}.png"
        write_if_changed(out_dir / relative, png)
        entries.append(
            {
                "file": relative,
                "split": photo.split,
                "source": source,
                "original_size": list(original_size),
                "size": [image.width, image.height],
                "sha256": sha256_of(png),
            }
        )

    manifest_path = out_dir / "manifest.json"
    produced = {e["file"] for e in entries}
    if manifest_path.exists():
        # Remove only what an earlier run of this script wrote and this run no longer produces.
        previous = json.loads(manifest_path.read_text())
        for old in previous.get("images", []):
            stale = out_dir / old["file"]
            if old["file"] not in produced and stale.is_file():
                stale.unlink()
    manifest = {
        "generator": "scripts/gather_photos.py",
        "max_side": max_side,
        "resample": "PIL Lanczos (antialiased), sRGB, 8-bit RGB PNG",
        "counts": {split: sum(e["split"] == split for e in entries) for split in SPLITS},
        "images": entries,
    }
    write_if_changed(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/photos"),
        help="output folder (train/, val/, manifest.json); default runs/photos",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "irtool-gather-photos",
        help="where .deb files are downloaded and unpacked (reused on reruns)",
    )
    parser.add_argument(
        "--max-side",
        type=int,
        default=1024,
        help="downscale so the longer side is at most this many pixels (default 1024)",
    )
    args = parser.parse_args(argv)
    if args.max_side < 64:
        parser.error("--max-side must be at least 64")
    try:
        manifest = gather(out_dir=args.out, cache_dir=args.cache, max_side=args.max_side)
    except GatherError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = manifest["counts"]
    print(f"wrote {counts['train']} train and {counts['val']} val photos to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
