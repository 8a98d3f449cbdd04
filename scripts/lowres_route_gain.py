#!/usr/bin/env python3
"""What ``--auto``'s low-resolution route gains on enlarged photos, by how it brings them back to their native
size: a bicubic downscale (blurs once more) or the least-squares inverse of the enlargement (``recover_small``),
against super-resolving the true small original (``--task sr2`` on it). RGB PSNR in dB, border = scale.

    python scripts/lowres_route_gain.py --data runs/photos/val --model hi_ir_sr2_lite --scale 2
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from irtool.degrade import downscale, imresize, modcrop, quantize_uint8, to_uint8
from irtool.io import list_images, read_image
from irtool.metrics import psnr as metrics_psnr
from irtool.restore import native_size
from irtool.zoo import EngineSettings, ModelZoo


def psnr(a: np.ndarray, b: np.ndarray, border: int) -> float:
    return metrics_psnr(to_uint8(a), to_uint8(b), crop_border=border)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default="hi_ir_sr2_lite")
    parser.add_argument("--scale", type=int, default=2)
    args = parser.parse_args()
    model = ModelZoo(EngineSettings(device="cpu")).from_entry(args.model)
    s = args.scale
    rows = []
    for path in list_images(args.data):
        gt = modcrop(read_image(path).pixels[:, :, :3].astype(np.float32), s)
        small = downscale(gt, scale=s)  # MATLAB bicubic, 8-bit: the original a user never sees
        enlarged = quantize_uint8(imresize(small, float(s)))  # what the user has: the photo enlarged x s
        bicubic_back = np.clip(imresize(enlarged, 1.0 / s), 0, 1).astype(np.float32)
        exact_back = native_size(enlarged, s)  # what --auto does now
        row = [psnr(enlarged, gt, s)] + [psnr(model.run_image(x), gt, s) for x in (bicubic_back, exact_back, small)]
        rows.append(row)
        print(f"{path.name}: " + " / ".join(f"{v:.2f}" for v in row), file=sys.stderr)
    mean = np.mean(rows, axis=0)
    print(f"{len(rows)} photos, x{s}, {args.model}: input {mean[0]:.2f} dB; bicubic downscale then SR {mean[1]:.2f}; "
          f"--auto's native_size then SR {mean[2]:.2f}; SR of the true small original {mean[3]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
