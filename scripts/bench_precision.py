"""What a reduced precision costs and saves: each bundled restorer at fp32 and at ``--precision bf16`` (or fp16)
on the same images in one run, through ``irtool eval``'s Python API (same protocols, same tiling path as
``irtool restore``). Prints a Markdown table: PSNR at each precision, the difference, the largest output
difference in 8-bit levels, and seconds per megapixel with their ratio.

    .venv/bin/python scripts/bench_precision.py --data runs/photos/val
    .venv/bin/python scripts/bench_precision.py --data runs/photos/val --models hi_ir_unet_lite_denoise:denoise

The two precisions run image after image, alternating, so a busy machine slows both alike. bf16 pays on CPUs
with native bf16 arithmetic (AVX512-BF16, AMX); elsewhere PyTorch emulates it and it is slower than fp32.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

#: Each bundled restorer with the task it is routed to (eval's default protocol for that task).
BUNDLED = ("hi_ir_unet_lite_denoise:denoise", "hi_ir_unet_lite_jpeg:jpeg", "hi_ir_unet_lite_deblur:deblur",
           "hi_ir_sr2_lite:sr2", "hi_ir_sr4_lite:sr4", "res_hair_lite_aio:dehaze",
           "bilateral_grid_lite_global:lowlight")
#: Tasks whose protocol reads degraded files (--paired DIR/<subfolder>, as make_degraded_set.py writes them).
PAIRED = {"deblur": "blur", "dehaze": "haze", "lowlight": "low-light", "derain": "rain"}


def measure(entry: str, task: str, data: Path, precision: str, device: str, max_images: int | None,
            data_lq: Path | None = None) -> dict:
    import dataclasses

    import numpy as np

    from irtool.evaluate import evaluate, folder_dataset, get_protocol
    from irtool.zoo import EngineSettings, ModelZoo

    dataset = folder_dataset(data, data_lq) if data_lq is not None else folder_dataset(data)
    if max_images is not None:
        dataset = dataclasses.replace(dataset, samples=dataset.samples[:max_images])
    reference = ModelZoo(EngineSettings(device=device, precision="fp32")).from_entry(entry)
    reduced = ModelZoo(EngineSettings(device=device, precision=precision)).from_entry(entry)
    reduced.name = f"{entry} ({precision})"
    outputs: dict[str, list[np.ndarray]] = {reference.name: [], reduced.name: []}

    class Keep:  # records each output (the untimed warm-up pass too, on both) to compare them pixel by pixel
        def __init__(self, loaded):
            self.loaded = loaded

        def __getattr__(self, name):
            return getattr(self.loaded, name)

        def run_image(self, pixels, **kwargs):
            out = self.loaded.run_image(pixels, **kwargs)
            outputs[self.loaded.name].append(out)
            return out

    report = evaluate([Keep(reference), Keep(reduced)], dataset, get_protocol(None, task=task), task=task)
    fp32, low = report.summary(reference.name), report.summary(reduced.name)
    levels = max(float(np.abs(np.round(a * 255) - np.round(b * 255)).max())
                 for a, b in zip(outputs[reference.name], outputs[reduced.name]))
    return {"model": entry, "task": task, "images": fp32.images, "psnr_fp32": fp32.psnr, "psnr_low": low.psnr,
            "max_levels": levels, "spm_fp32": fp32.seconds_per_megapixel, "spm_low": low.seconds_per_megapixel,
            "precision_ran": low.precision}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of clean photos (degraded per task)")
    parser.add_argument("--models", nargs="+", default=list(BUNDLED), help="ENTRY:TASK pairs")
    parser.add_argument("--paired", type=Path, help="degraded inputs for deblur/dehaze/lowlight/derain in "
                        "DIR/blur, DIR/haze, ... (scripts/make_degraded_set.py); those tasks are skipped without it")
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp16"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-images", type=int, help="only the first N photos (SR x4 outputs are large)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    print(f"{args.data}, {args.device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}\n")
    low = args.precision
    print(f"| model | task | images | PSNR fp32 | PSNR {low} | difference | largest output difference (8-bit "
          f"levels) | s/MP fp32 | s/MP {low} | time {low} / fp32 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for pair in args.models:
        entry, _, task = pair.partition(":")
        data_lq = None
        if task in PAIRED:
            if args.paired is None:
                print(f"| {entry} | {task} | skipped: needs --paired DIR |")
                continue
            data_lq = args.paired / PAIRED[task]
        row = measure(entry, task, args.data, low, args.device, args.max_images, data_lq)
        ran = "" if row["precision_ran"] == low else f" (ran {row['precision_ran']})"
        print(f"| {entry}{ran} | {task} | {row['images']} | {row['psnr_fp32']:.2f} | {row['psnr_low']:.2f} | "
              f"{row['psnr_low'] - row['psnr_fp32']:+.3f} | {row['max_levels']:.0f} | {row['spm_fp32']:.2f} | "
              f"{row['spm_low']:.2f} | {row['spm_low'] / row['spm_fp32']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
