"""Do the bundled restorers restore an image's bottom and right borders as well as the rest, with and without the
engine's mirrored edge margin (``Preset.edge_margin``)?

    .venv/bin/python scripts/edge_margin.py                                # the Hi-IR lite restorers
    .venv/bin/python scripts/edge_margin.py --models hi_ir_sr2_lite hi_ir_sr4_lite --margin 16

A held-out photo is cropped to ``--size`` (a multiple of every model's padding, so a network's forward adds no
padding of its own: the worst case), degraded for each task the model serves (severity 0.5, fixed seed, the
default generator, 8-bit; SR models get the crop as their high-resolution target) and restored through the
inference engine in one pass, with the preset's margin (or ``--margin``) and with none. Prints PSNR against the
clean crop over the last 4 columns, the last 4 rows, the first 4 columns and the whole image, as a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    from tiling_consistency import psnr  # the script beside this one: PSNR of 8-bit output against the clean photo

    from irtool import io
    from irtool.degrade import degrade_for_task
    from irtool.engine import InferenceEngine
    from irtool.weights import load_catalog
    from irtool.zoo import EngineSettings, ModelZoo

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default="runs/photos/val/lomiri-picosdeeuropa.png")
    parser.add_argument("--models", nargs="*", default=["hi_ir_unet_lite_denoise", "hi_ir_unet_lite_jpeg",
                                                         "hi_ir_unet_lite_deblur", "hi_ir_sr2_lite", "hi_ir_sr4_lite"])
    parser.add_argument("--size", type=int, nargs=2, default=[768, 1024], metavar=("HEIGHT", "WIDTH"))
    parser.add_argument("--margin", type=int, help="compare this margin with none (default: each preset's own)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    catalog = load_catalog()
    photo = io.read_image(Path(args.photo)).pixels[..., :3]
    height, width = args.size
    clean = np.ascontiguousarray(photo[:height, :width]).astype(np.float32)
    print(f"photo {args.photo}, {height} x {width} crop, one pass through the engine\n")
    print("| model | task | margin | last 4 columns | last 4 rows | first 4 columns | whole |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    zoo = ModelZoo(EngineSettings())
    for name in args.models:
        loaded = zoo.from_entry(name)
        for task in catalog.get(name).tasks:
            if task == "all":
                continue
            lq, _ = degrade_for_task(clean, task, rng=np.random.default_rng(0), severity=0.5)
            lq = np.round(np.clip(lq, 0, 1) * 255).astype(np.float32) / 255
            image = torch.from_numpy(np.ascontiguousarray(lq.transpose(2, 0, 1)))
            own = loaded.preset.edge_margin if args.margin is None else args.margin
            for margin in sorted({own, 0}, reverse=True):
                preset = dataclasses.replace(loaded.preset, edge_margin=margin)
                engine = InferenceEngine(loaded.module, preset, device="cpu", tile=1 << 16)
                out = engine.run(image).numpy().transpose(1, 2, 0)
                cells = [psnr(out[:, -4:], clean[:, -4:]), psnr(out[-4:], clean[-4:]),
                         psnr(out[:, :4], clean[:, :4]), psnr(out, clean)]
                print(f"| {name} | {task} | {margin} | " + " | ".join(f"{c:.2f}" for c in cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
