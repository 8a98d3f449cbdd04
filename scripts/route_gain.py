"""What one model does to every image of a labelled folder, whatever the detector would say.

    .venv/bin/python scripts/route_gain.py --model bilateral_grid_lite_global --data runs/heldout40
    .venv/bin/python scripts/route_gain.py --weights runs/NAME/final.safetensors --data runs/labelled --types clean blur

The folder is the labelled layout of ``irtool eval --task auto`` (``DIR/clean/``, ``DIR/<type>/PHOTO__<setting>``,
``manifest.json``). For its own type this is the gain ``--auto`` gets when the detector is right; for the other types
it is the harm done when the detector sends an image here by mistake (a routed model should leave what it does not
recognise alone). Prints a Markdown table per (true type, setting): images, mean PSNR in and out against the clean
original, mean and worst gain, images made worse (PSNR more than 0.1 dB below the input's); for clean images, the
mean PSNR of the output against the image itself (inf: untouched).
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    from irtool import io
    from irtool.evaluate.auto import WORSE_DB, labelled_pairs
    from irtool.metrics import psnr
    from irtool.restore import restore_same_size

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--data", required=True)
    parser.add_argument("--types", nargs="*", help="only these true types (default: all)")
    args = parser.parse_args(argv)
    loaded = load_model(args)
    rows: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for kind, path, original in labelled_pairs(args.data):
        if args.types and kind not in args.types:
            continue
        image, clean = io.read_image(path).pixels, io.read_image(original).pixels
        restored = restore_same_size(loaded, image)  # as --auto runs it (an SR model keeps the image size)
        setting = path.stem.split("__")[1] if "__" in path.stem else ""
        rows[(kind, setting)].append((psnr(image, clean), psnr(restored, clean)))
    print(f"{loaded.name} on {args.data} (worse: more than {WORSE_DB} dB below the input)\n")
    print("| true type | setting | images | PSNR in | PSNR out | mean gain | worst gain | made worse |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (kind, setting), pairs in sorted(rows.items()):
        before, after = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        if np.isinf(before).all():  # clean: how far the output moved from the image itself
            print(f"| {kind} | {setting or '-'} | {len(pairs)} | - | {_db(after)} | - | - | "
                  f"{int((after < math.inf).sum())} changed |")
            continue
        gain = after - before
        print(f"| {kind} | {setting or '-'} | {len(pairs)} | {before.mean():.2f} | {after.mean():.2f} | "
              f"{gain.mean():+.2f} | {gain.min():+.2f} | {int((gain < -WORSE_DB).sum())} |")
    return 0


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model to measure (``--model`` entry or ``--weights`` file with ``--arch``) and ``--threads``; also used
    by ``scripts/enlargement_kernels_gain.py``."""
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--model", help="weights.toml entry")
    chosen.add_argument("--weights", help="checkpoint file (its preset from the file, or --arch)")
    parser.add_argument("--arch")
    parser.add_argument("--threads", type=int, default=2)


def load_model(args: argparse.Namespace):
    """The model :func:`add_model_arguments` named, loaded as ``--auto`` loads its routes."""
    from irtool.zoo import EngineSettings, ModelZoo

    torch.set_num_threads(args.threads)
    zoo = ModelZoo(EngineSettings())
    return zoo.from_entry(args.model) if args.model else zoo.from_file(args.weights, args.arch)


def _db(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return f"{finite.mean():.2f}" if finite.size else "inf"


if __name__ == "__main__":
    raise SystemExit(main())
