"""Does tiling change the result? Every bundled restorer, tiled as ``irtool restore`` tiles on a CPU vs one pass.

    .venv/bin/python scripts/tiling_consistency.py                      # every bundled restorer, every task it serves
    .venv/bin/python scripts/tiling_consistency.py --models hi_ir_unet_lite_denoise --megapixels 0.5
    .venv/bin/python scripts/tiling_consistency.py --models res_hair_lite_aio --tasks derain lowlight

For each bundled restorer and each task it serves, a held-out photo is resized to ``--megapixels`` (of the model's
input), degraded for that task (severity 0.5, fixed seed, the default generator, 8-bit), and restored through the
inference engine in one whole-image pass and in ``--tile`` px tiles with each ``--overlap`` (default 32 px, as
``irtool restore``); Restormer-style models run in row strips instead of tiles (``preset.strips``), which the
"tiles" column says. Prints the mean and the largest absolute difference between tiled and one-pass outputs in 8-bit
levels (1.0 = 1/255), and each output's PSNR against the clean photo (a difference that costs nothing is the
network's own shift variance, not a seam), as a Markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch


def one_pass(loaded, pixels: np.ndarray) -> np.ndarray:
    """The network on the whole image in one call (the engine would run a ``preset.strips`` network in strips)."""
    if not loaded.preset.strips:
        return loaded.run_image(pixels)
    image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
    with torch.inference_mode():
        if loaded.preset.has_giv:
            out = loaded.module(image[None], giv=loaded.engine.giv(image))
        else:
            out = loaded.module(image[None])
    return out[0].clamp(0, 1).numpy().transpose(1, 2, 0)


def psnr(restored: np.ndarray, clean: np.ndarray) -> float:
    """PSNR (dB) of an output, rounded to 8-bit levels as written, against the clean photo it was degraded from."""
    error = np.mean((np.round(restored * 255) / 255 - clean) ** 2)
    return float(10 * np.log10(1 / max(error, 1e-12)))


def main(argv: list[str] | None = None) -> int:
    from irtool import io
    from irtool.degrade import degrade_for_task, imresize
    from irtool.weights import entry_path, is_present, load_catalog
    from irtool.zoo import EngineSettings, ModelZoo

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default="runs/photos/val/lomiri-picosdeeuropa.png")
    parser.add_argument("--models", nargs="*", help="weights.toml entries (default: every bundled restorer)")
    parser.add_argument("--tasks", nargs="*", help="only these tasks (default: every task a model serves)")
    parser.add_argument("--megapixels", type=float, default=2.0)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, nargs="+", default=[32],
                        help="tile overlaps in input px (one row per value; default 32, irtool restore's)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    catalog = load_catalog()
    names = args.models or [e.name for e in catalog.entries.values()
                            if e.kind == "restorer" and e.file and is_present(e)]
    photo = io.read_image(Path(args.photo)).pixels[..., :3]
    tiled_zoos = {overlap: ModelZoo(EngineSettings(tile=args.tile, overlap=overlap)) for overlap in args.overlap}
    whole_zoo = ModelZoo(EngineSettings(tile=1 << 16))
    print(f"photo {args.photo}, {args.megapixels} MP model input, {args.tile} px tiles vs one pass\n")
    print("| model | task | overlap | tiles | mean abs diff (1/255) | max abs diff (1/255) | PSNR one pass | "
          "PSNR tiled | tiled s | one pass s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        entry_path(catalog.get(name))  # fails loudly for a missing file
        for task in catalog.get(name).tasks:
            if task == "all" or (args.tasks and task not in args.tasks):
                continue
            whole = whole_zoo.from_entry(name)
            scale = whole.scale
            side = (args.megapixels * 1e6) ** 0.5
            h, w = photo.shape[:2]
            factor = side / (h * w) ** 0.5
            target = (int(h * factor) // scale * scale * scale, int(w * factor) // scale * scale * scale)
            big = np.clip(imresize(photo, output_shape=target), 0, 1).astype(np.float32)
            lq, _ = degrade_for_task(big, task, rng=np.random.default_rng(0), severity=0.5)
            lq = np.round(np.clip(lq, 0, 1) * 255).astype(np.float32) / 255
            started = time.perf_counter()
            b = one_pass(whole, lq)
            whole_s = time.perf_counter() - started
            for overlap, zoo in tiled_zoos.items():
                tiled = zoo.from_entry(name)
                started = time.perf_counter()
                a = tiled.run_image(lq)
                tiled_s = time.perf_counter() - started
                info = tiled.engine.last_run
                tiles = "-" if info is None else f"{info.tiles} strips" if info.strips else str(info.tiles)
                diff = np.abs(np.round(a * 255) - np.round(b * 255))
                print(f"| {name} | {task} | {overlap} | {tiles} | {diff.mean():.3f} | {diff.max():.0f} | "
                      f"{psnr(b, big):.2f} | {psnr(a, big):.2f} | {tiled_s:.1f} | {whole_s:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
