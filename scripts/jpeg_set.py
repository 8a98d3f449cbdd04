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
import shutil
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder of clean PNG photos")
    parser.add_argument("--out", required=True)
    parser.add_argument("--qualities", type=int, nargs="+", default=[70, 80, 90, 95])
    parser.add_argument("--encoder", choices=("pillow", "opencv"), default="pillow")
    args = parser.parse_args(argv)

    out = Path(args.out)
    (out / "clean").mkdir(parents=True, exist_ok=True)
    (out / "jpeg").mkdir(parents=True, exist_ok=True)
    if args.encoder == "opencv":
        import cv2
    files = []
    for path in sorted(Path(args.data).glob("*.png")):
        shutil.copyfile(path, out / "clean" / path.name)
        files.append({"file": f"clean/{path.name}", "type": "clean", "photo": path.name})
        rgb = np.asarray(Image.open(path).convert("RGB"))
        for quality in args.qualities:
            name = f"jpeg/{path.stem}__q{quality}.jpg"
            if args.encoder == "opencv":
                cv2.imwrite(str(out / name), np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
            else:
                Image.fromarray(rgb).save(out / name, quality=quality)
            files.append({"file": name, "type": "jpeg", "photo": path.name, "quality": quality})
    generator = "OpenCV imwrite" if args.encoder == "opencv" else "Pillow 4:2:0"
    (out / "manifest.json").write_text(json.dumps({"generator": generator, "seed": None, "files": files}, indent=1))
    print(f"{out}: {len(files)} images ({generator}, qualities {', '.join(map(str, args.qualities))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
