"""Benchmark whole-photo restoration through the inference engine: megapixels/s and peak memory.

    .venv/bin/python scripts/bench_restore.py                                  # lite presets, 2 MP, tiled + auto
    .venv/bin/python scripts/bench_restore.py --presets res_hair_lite --megapixels 24 --modes tiled

Each (preset, mode) runs in a fresh subprocess on a synthetic photo-like image (random weights: speed and memory do
not depend on them), through ``InferenceEngine.run`` exactly as ``irtool restore`` calls it. "tiled" uses ``--tile``
(default 256) with 32 px overlap; "auto" lets the engine choose from free memory (one whole-image pass when it fits,
as it does by default in ``irtool restore``; the tiles column shows what ran). Peak memory is the process's VmHWM
(peak RSS) minus its value before the run, so it includes the input and the output canvas; on CUDA it is
``torch.cuda.max_memory_allocated``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def _vm_hwm_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(preset: str, megapixels: float, mode: str, tile: int, device: str, threads: int) -> dict:
    import numpy as np
    import torch

    from irtool.engine import InferenceEngine
    from irtool.models import build, get_preset

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = get_preset(preset)
    side_in = (megapixels * 1e6) ** 0.5 / spec.scale  # megapixels are counted on the output
    h, w = int(side_in * 0.75), int(side_in / 0.75)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = torch.from_numpy(np.stack([np.sin(x / 17), np.cos(y / 23), np.sin((x + y) / 31)]) * 0.4 + 0.5)
    engine = InferenceEngine(build(preset), spec, device=device, tile=tile if mode == "tiled" else None)
    base = _vm_hwm_bytes()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    out = engine.run(image)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() if device.startswith("cuda") else _vm_hwm_bytes() - base
    mp_out = out.shape[1] * out.shape[2] / 1e6
    return {"preset": preset, "mode": mode, "tiles": engine.last_run.tiles,
            "megapixels": mp_out, "seconds": seconds, "mp_s": mp_out / seconds, "peak_mib": peak / 2**20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+",
                        default=["res_hair_lite", "hi_ir_unet_lite", "hi_ir_sr2_lite", "hi_ir_sr4_lite"])
    parser.add_argument("--megapixels", type=float, default=2.0, help="output size of the test photo")
    parser.add_argument("--modes", nargs="+", default=["tiled", "auto"], choices=["tiled", "auto"])
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one measurement, print JSON
    args = parser.parse_args(argv)
    if args.one:
        preset, mode = args.one.split(":")
        print(json.dumps(measure(preset, args.megapixels, mode, args.tile, args.device, args.threads)))
        return 0
    print(f"device {args.device}, {args.threads} thread(s), {args.megapixels} MP output, tile {args.tile}\n")
    print("| preset | mode | tiles | output MP | seconds | MP/s | peak mem (MiB) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for preset in args.presets:
        for mode in args.modes:
            cmd = [sys.executable, __file__, "--one", f"{preset}:{mode}", "--megapixels", str(args.megapixels),
                   "--tile", str(args.tile), "--device", args.device, "--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"| {preset} | {mode} | failed: {proc.stderr.strip().splitlines()[-1][:80]} | | | | |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"| {preset} | {mode} | {r['tiles']} | {r['megapixels']:.2f} | {r['seconds']:.1f} | "
                  f"{r['mp_s']:.3f} | {r['peak_mib']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
