"""What a same-size route does to enlargements by each interpolation kernel the enlargement search knows.

    .venv/bin/python scripts/enlargement_kernels_gain.py --data runs/photos/train --model hi_ir_unet_lite_deblur
    .venv/bin/python scripts/enlargement_kernels_gain.py --data runs/photos/train --weights runs/NAME/final.safetensors

From every third photo of ``--data``, one random 312x504 crop (seeded; ``--crop H W``) is shrunk by ``--factor``
with one of Pillow's antialiasing kernels (``--shrink``, default area), stored in 8 bits, and enlarged back to the
crop's size by each kernel of ``irtool.degrade.enlargement.ENLARGEMENT_KERNELS`` (as the ``interpolated`` generator
does), stored in 8 bits again; the model then runs on each as ``--auto`` runs it (``restore_same_size``). Prints,
per kernel, the mean PSNR of the enlargement against the crop, the mean and worst gain of the model's output, and
how many it made worse (more than 0.1 dB). An enlargement the search misses goes wherever the detector sends it,
usually here (the deblurring model); this says which enlargements that route helps and which it harms. Measure on
training photos.

``--small`` (an SR model): the crop is shrunk by the model's factor with MATLAB's bicubic and each of Pillow's
antialiasing kernels (area, bilinear, bicubic, Lanczos: the ``shrunk`` generator's), and the model super-resolves
each small image; "PSNR in" is then the small image enlarged back by MATLAB's bicubic, so the gain is the model's
over bicubic enlargement, per shrinking kernel.
"""

from __future__ import annotations

import argparse

import numpy as np
from route_gain import add_model_arguments, load_model  # a sibling script (scripts/ is on sys.path)


def main(argv: list[str] | None = None) -> int:
    from irtool import io
    from irtool.degrade import synth
    from irtool.degrade.enlargement import ENLARGEMENT_KERNELS, enlarge_with_kernel
    from irtool.degrade.imresize import imresize, quantize_uint8
    from irtool.evaluate.auto import WORSE_DB
    from irtool.metrics import psnr
    from irtool.restore import restore_same_size

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--data", required=True, help="folder of clean photos (training photos)")
    parser.add_argument("--factor", type=float, default=3.0, help="shrinking factor (default 3)")
    parser.add_argument("--shrink", default="area", choices=sorted(synth.RESAMPLING_KERNELS))
    parser.add_argument("--every", type=int, default=3, help="use every N-th photo (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crop", type=int, nargs=2, default=(312, 504), metavar=("H", "W"),
                        help="crop size (default 312 504)")
    parser.add_argument("--small", action="store_true",
                        help="an SR model on the small images of each shrinking kernel (see above)")
    args = parser.parse_args(argv)
    loaded = load_model(args)
    rng = np.random.default_rng(args.seed)
    height, width = args.crop
    small_size = (round(height / args.factor), round(width / args.factor))
    shrinks = ("matlab", *synth.RESAMPLING_KERNELS)
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in (shrinks if args.small else ENLARGEMENT_KERNELS)}
    for path in io.list_images(args.data)[:: args.every]:
        photo = io.read_image(path).pixels
        if photo.ndim != 3 or photo.shape[0] < height or photo.shape[1] < width:
            continue
        top, left = int(rng.integers(0, photo.shape[0] - height + 1)), int(rng.integers(0, photo.shape[1] - width + 1))
        crop = photo[top:top + height, left:left + width, :3]
        if args.small:
            for shrink in shrinks:
                small = synth.downscale(crop, scale=loaded.scale, kernel=shrink)
                enlarged = quantize_uint8(imresize(small, output_shape=(height, width)))
                rows[shrink].append((psnr(enlarged, crop), psnr(loaded.run_image(small), crop)))
            continue
        small = quantize_uint8(synth.resample(crop, small_size, kernel=args.shrink))
        for kernel in ENLARGEMENT_KERNELS:
            enlarged = quantize_uint8(enlarge_with_kernel(small, height, width, kernel))
            rows[kernel].append((psnr(enlarged, crop), psnr(restore_same_size(loaded, enlarged), crop)))
    if args.small:
        print(f"{loaded.name} on {args.data}: crops {height}x{width} shrunk x{loaded.scale} by each kernel and "
              f"super-resolved; PSNR in: MATLAB-bicubic enlargement (worse: more than {WORSE_DB} dB below it)\n")
    else:
        print(f"{loaded.name} on {args.data}: crops {height}x{width} shrunk to {small_size[0]}x{small_size[1]} "
              f"({args.shrink}), enlarged back (worse: more than {WORSE_DB} dB below the input)\n")
    print(f"| {'shrunk' if args.small else 'enlarged'} by | crops | PSNR in | PSNR out | mean gain | worst gain | "
          "made worse |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kernel, pairs in rows.items():
        before, after = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        gain = after - before
        print(f"| {kernel} | {len(pairs)} | {before.mean():.2f} | {after.mean():.2f} | {gain.mean():+.2f} | "
              f"{gain.min():+.2f} | {int((gain < -WORSE_DB).sum())} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
