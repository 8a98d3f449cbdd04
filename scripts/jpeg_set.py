"""A labelled folder of photos saved as JPEG files at chosen qualities: what cameras, phones and uploads make.

    .venv/bin/python scripts/jpeg_set.py --data runs/photos/val_crops --out runs/jpeghq40 --qualities 75 85 90 95
    .venv/bin/python scripts/jpeg_set.py --data runs/photos/val_crops4 --out runs/jpeghq160cv --encoder opencv

Each PNG of ``--data`` is copied to ``OUT/clean/`` and saved as ``OUT/jpeg/NAME__qQ.jpg`` at each quality by Pillow
(4:2:0, libjpeg's default) or OpenCV (``pip install opencv-python-headless``: another program's encoder), with a
``manifest.json``: the layout ``irtool eval --task auto --data OUT`` scores (each JPEG against its PNG).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    from irtool.io import atomic_output, atomic_write_bytes, atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder of clean PNG photos")
    parser.add_argument("--out", required=True)
    parser.add_argument("--qualities", type=int, nargs="+", default=[70, 80, 90, 95])
    parser.add_argument("--encoder", choices=("pillow", "opencv"), default="pillow")
    args = parser.parse_args(argv)

    out = Path(args.out)
    if args.encoder == "opencv":
        import cv2
    files = []
    for path in sorted(Path(args.data).glob("*.png")):
        atomic_write_bytes(out / "clean" / path.name, path.read_bytes())
        files.append({"file": f"clean/{path.name}", "type": "clean", "photo": path.name})
        rgb = np.asarray(Image.open(path).convert("RGB"))
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # OpenCV's channel order
        for quality in args.qualities:
            name = f"jpeg/{path.stem}__q{quality}.jpg"
            if args.encoder == "opencv":
                _, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
                atomic_write_bytes(out / name, encoded.tobytes())
            else:
                with atomic_output(out / name) as handle:
                    Image.fromarray(rgb).save(handle, format="JPEG", quality=quality)
            files.append({"file": name, "type": "jpeg", "photo": path.name, "quality": quality})
    generator = "OpenCV imencode" if args.encoder == "opencv" else "Pillow 4:2:0"
    manifest = {"generator": generator, "seed": None, "files": files}
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1))
    print(f"{out}: {len(files)} images ({generator}, qualities {', '.join(map(str, args.qualities))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
