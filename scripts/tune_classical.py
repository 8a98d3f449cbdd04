"""Tune the strength constants of the classical denoising baselines (irtool/evaluate/classical.py).

Each denoiser's strength is a constant times the noise sigma; this script scores a small grid of those constants
on centre crops of a few TRAINING photos (never the held-out split), with the noise and metric of the default
denoise protocol (``dn-rgb-swinir``: float noise seeded per image, output rounded to 8 bit, RGB PSNR), and prints
the mean PSNR of every setting and the best one per denoiser.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/tune_classical.py --data runs/photos/train --sigma 25 \
        --images 6 --crop 320
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from irtool.evaluate import folder_dataset, get_protocol, make_noisy, score
from irtool.evaluate.classical import denoise_nlm, denoise_tv, denoise_wavelet_bayes
from irtool.evaluate.runner import read_uint8

# (denoiser name, setting label, function of (noisy image, sigma) -> restored image)
GRID = [
    *[("nlm", f"h={h:.2f}*sigma patch={p}", lambda x, s, h=h, p=p: denoise_nlm(x, sigma=s, h_per_sigma=h,
                                                                               patch_size=p))
      for h, p in itertools.product((0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 1.0), (5, 7))],
    *[("wavelet", f"sigma*{f:.2f} {w}", lambda x, s, f=f, w=w: denoise_wavelet_bayes(x, sigma=s, sigma_factor=f,
                                                                                    wavelet=w))
      for f, w in itertools.product((0.8, 0.9, 1.0, 1.1, 1.2, 1.5), ("db1", "db2", "db4", "sym4"))],
    *[("tv", f"weight={b:.2f}*sigma", lambda x, s, b=b: denoise_tv(x, sigma=s, weight_per_sigma=b))
      for b in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0, 1.2)],
]


def centre_crop(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = max((h - side) // 2, 0), max((w - side) // 2, 0)
    return img[top : top + side, left : left + side]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("runs/photos/train"))
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--images", type=int, default=6, help="first N training photos (sorted by name)")
    parser.add_argument("--crop", type=int, default=320, help="centre crop side in pixels")
    args = parser.parse_args()
    if "val" in args.data.resolve().parts:
        parser.error("tune on training photos only, never on the held-out split")

    protocol = get_protocol("dn-rgb-swinir", task="denoise")
    samples = folder_dataset(args.data).samples[: args.images]
    crops = [centre_crop(read_uint8(s.gt, mode="rgb"), args.crop) for s in samples]
    noisy = [make_noisy(gt, protocol, sigma=args.sigma) for gt in crops]
    inputs = np.mean([score(x, gt, protocol, task="denoise")[0] for x, gt in zip(noisy, crops)])
    print(f"sigma {args.sigma:g}, {len(crops)} crops of {args.crop} px from {args.data}: "
          f"{', '.join(s.name for s in samples)}")
    print(f"{'denoiser':8s}  {'setting':28s}  {'PSNR':>7s}  {'s/img':>6s}")
    print(f"{'input':8s}  {'':28s}  {inputs:7.3f}")
    best: dict[str, tuple[float, str]] = {}
    for name, label, run in GRID:
        start = time.perf_counter()
        value = float(np.mean([score(run(x, args.sigma), gt, protocol, task="denoise")[0]
                               for x, gt in zip(noisy, crops)]))
        seconds = (time.perf_counter() - start) / len(crops)
        print(f"{name:8s}  {label:28s}  {value:7.3f}  {seconds:6.2f}", flush=True)
        if name not in best or value > best[name][0]:
            best[name] = (value, label)
    print("best per denoiser:")
    for name, (value, label) in best.items():
        print(f"  {name:8s}  {label:28s}  {value:7.3f} dB")


if __name__ == "__main__":
    main()
