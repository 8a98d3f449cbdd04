"""Benchmark whole-photo restoration: the engine alone (megapixels/s, peak memory) or whole commands end to end.

    .venv/bin/python scripts/bench_restore.py                                  # lite presets, 2 MP, tiled + auto
    .venv/bin/python scripts/bench_restore.py --presets res_hair_lite --megapixels 24 --modes tiled
    .venv/bin/python scripts/bench_restore.py --end-to-end --models hi_ir_unet_lite_denoise   # files in, files out

``--end-to-end`` times whole commands as people run them, in one run, in rounds of one run per row (median of
``--repeats`` rounds, so a slow spell of the machine slows every row alike): ``irtool
restore PHOTO --model M`` for each model, ``irtool restore PHOTO --auto`` and ``--auto --detect-only``, the engine
alone on the same decoded photo with the same weights, and OpenCV's ``fastNlMeansDenoisingColored`` (h = 10, the
tool a user would otherwise reach for; ``pip install opencv-python-headless``, an optional benchmark dependency)
reading, denoising and writing the same photo. ``--compile`` adds each ``--model`` command with ``--compile``, first
with an empty Inductor cache and then with the cache that run left. PHOTO is ``--photo FILE``, or a 12 MP
photo-like test image: the bundled sample ``clean_picture1a.png`` enlarged (Lanczos) to 4000x3000 with Gaussian
noise (sigma 15/255) added. ``--photos N`` gives each command a folder of N copies instead (a batch: OpenCV's row
denoises them one after the other in one process); ``--against DIR`` times each ``irtool restore --model``,
``--auto`` and ``--auto --detect-only`` command with this checkout and with checkout DIR in turn (from a folder
outside both), for a change's effect in one run (``--detect-only-against``: only the last, without OpenCV's row).
It prints each time, its ratio to OpenCV's, the network's share, and (``--profile``) where one ``irtool restore``
spends its time: start-up, decode, detection, network, tile blending, encode.

Each (preset, mode) runs in a fresh subprocess on a synthetic photo-like image (random weights: speed and memory do
not depend on them), through ``InferenceEngine.run`` exactly as ``irtool restore`` calls it. "tiled" uses ``--tile``
(default 256) with 32 px overlap; "auto" lets the engine choose from free memory (one whole-image pass when it fits,
as it does by default in ``irtool restore``; the tiles column shows what ran). A Restormer-style network runs in row
strips in both whenever its feature maps fit (``--tile`` then sets the strip size); "forced-tiles" takes the tiles
path anyway, as a photo too large for strips does. Peak memory is the process's VmHWM
(peak RSS) minus its value before the run, so it includes the input and the output canvas; on CUDA it is
``torch.cuda.max_memory_allocated``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable


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
    engine = InferenceEngine(build(preset), spec, device=device,
                             tile=tile if mode in ("tiled", "forced-tiles") else None)
    if mode == "forced-tiles":  # the tiles path a photo too large for strips takes, even where strips fit
        engine._strips_fit = lambda image: False  # type: ignore[method-assign]
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


SAMPLE_PHOTO = "clean_picture1a.png"
OPENCV_NLM = (
    "import sys, cv2\n"
    "for source, target in zip(sys.argv[1::2], sys.argv[2::2]):\n"
    "    cv2.imwrite(target, cv2.fastNlMeansDenoisingColored(cv2.imread(source), None, 10, 10, 7, 21))"
)


def make_test_photo(path: Path, megapixels: float) -> None:
    """A photo-like noisy test image: the bundled clean sample enlarged to ``megapixels`` (4:3), noise sigma 15."""
    import numpy as np
    from PIL import Image

    import irtool

    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(width * 3 / 4)
    source = Path(irtool.__file__).parent / "assets" / "samples" / SAMPLE_PHOTO
    clean = np.asarray(Image.open(source).convert("RGB").resize((width, height), Image.LANCZOS), dtype=np.float32)
    noise = np.random.default_rng(0).normal(0.0, 15.0, clean.shape).astype(np.float32)
    Image.fromarray(np.clip(clean + noise + 0.5, 0, 255).astype(np.uint8)).save(path)


def engine_seconds(model: str, photo: str, precision: str = "auto") -> dict:
    """The engine alone on the decoded photo, with the weights entry ``irtool restore --model`` would load."""
    from irtool import io
    from irtool.zoo import EngineSettings, ModelZoo

    pixels = io.read_image(photo).pixels
    loaded = ModelZoo(EngineSettings(precision=precision)).from_entry(model)
    started = time.perf_counter()
    loaded.run_image(pixels)
    return {"seconds": time.perf_counter() - started}


def _run_once(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float | str:
    """Wall time of one run of a whole command, or the last line of its error output when it fails."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1][:100]
    return time.perf_counter() - started


def _engine_once(model: str, precision: str, photo: Path) -> float:
    """Seconds of the engine alone on the decoded photo, in a fresh process (as a command's engine starts)."""
    proc = subprocess.run([sys.executable, __file__, "--one-engine", f"{model}:{precision}:{photo}"],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def _in_rounds(rows: list[tuple[str, Callable[[], float | str]]], repeats: int
               ) -> tuple[list[tuple[str, float | str]], list[list[float]]]:
    """Each row's median over ``repeats`` rounds, every row run once per round in turn, and each row's time in every
    round; a row that fails keeps the last line of its error output and is not run again."""
    times: list[list[float]] = [[] for _ in rows]
    failed: dict[int, str] = {}
    for _ in range(repeats):
        for k, (_, run) in enumerate(rows):
            if k in failed:
                continue
            seconds = run()
            if isinstance(seconds, str):
                failed[k] = seconds
            else:
                times[k].append(seconds)
    return [(label, failed.get(k) or statistics.median(times[k])) for k, (label, _) in enumerate(rows)], times


def paired_ratio(command: list[float], engine: list[float]) -> float | None:
    """The median over rounds of a command's time over the engine's in the same round (None unless both ran in
    every round). Within a round the two run one after the other, so a slow spell of the machine, which moves
    both, cancels out of each ratio; the ratio of the two medians mixes rounds of different speed."""
    if not command or len(command) != len(engine):
        return None
    return statistics.median(c / e for c, e in zip(command, engine))


#: ``irtool restore``'s stages in a cProfile of the command: (label, module path suffix, function name).
PROFILE_STAGES = (
    ("decode", "irtool/io/images.py", "read_image"),
    ("detection", "irtool/detect.py", "detect"),
    ("network (tiles)", "irtool/engine/engine.py", "_forward"),
    ("tiling and blending", "irtool/engine/engine.py", "_run_tiles"),
    ("encode", "irtool/io/images.py", "write_image"),
    ("one image in all", "irtool/restore.py", "process"),
)


def profile_split(cmd: list[str], workdir: Path) -> list[tuple[str, float]]:
    """Seconds per stage of one command run under cProfile (blending = tiles minus the network's calls)."""
    import pstats

    out = workdir / "restore.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), *cmd[1:]], check=True, capture_output=True)
    stats = pstats.Stats(str(out))
    cumulative: dict[str, float] = {}
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        for label, suffix, name in PROFILE_STAGES:
            if function == name and filename.endswith(suffix):
                cumulative[label] = cumulative.get(label, 0.0) + row[3]
    total = stats.total_tt  # type: ignore[attr-defined]
    if "tiling and blending" in cumulative:
        cumulative["tiling and blending"] -= cumulative.get("network (tiles)", 0.0)
    split = [("whole command", total),
             ("start-up (imports, models, planning)", total - cumulative.get("one image in all", 0.0))]
    return split + [(label, cumulative[label]) for label, _, _ in PROFILE_STAGES[:-1] if label in cumulative]


def _checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that makes ``python -m irtool`` (run from a folder outside every checkout) import
    ``checkout``'s irtool."""
    return {**os.environ, "PYTHONPATH": str(checkout)}


def end_to_end(args: argparse.Namespace) -> int:
    import importlib.util

    workdir = Path(tempfile.mkdtemp(prefix="irtool-bench-"))
    photo = Path(args.photo) if args.photo else workdir / "photo.png"
    if not args.photo:
        make_test_photo(photo, args.megapixels)
    out = workdir / "out"
    batch = [photo]
    if args.photos > 1:  # a folder of copies: one command restores them all, as a batch of photos runs
        (workdir / "batch").mkdir()
        batch = [workdir / "batch" / f"photo{k}{photo.suffix}" for k in range(args.photos)]
        for copy in batch:
            shutil.copyfile(photo, copy)
    source = str(workdir / "batch") if args.photos > 1 else str(photo)
    irtool = [sys.executable, "-m", "irtool", "restore", source, "-o", str(out), "--overwrite", "--quiet"]
    # Each row is a way to time one run; the rows take turns, one run each per round, so a busy spell of the
    # machine (this VM's speed drifts by 15% within minutes) slows every row alike and the ratios stand.
    rows: list[tuple[str, Callable[[], float | str]]] = []
    if args.detect_only_against:  # decoding's share only: no reference row
        pass
    elif importlib.util.find_spec("cv2") is not None:
        pairs = [str(p) for k, path in enumerate(batch) for p in (path, workdir / f"nlm{k}.png")]
        rows.append(("OpenCV fastNlMeansDenoisingColored (h=10), read + denoise + write",
                     functools.partial(_run_once, [sys.executable, "-c", OPENCV_NLM, *pairs])))
    else:
        print("(OpenCV not installed: pip install opencv-python-headless for the reference row)\n")
    once: list[tuple[str, float | str]] = []  # rows timed once, outside the rounds (an empty compile cache)
    if args.against:
        # This checkout against another (e.g. `git worktree add DIR REV`), each command alternating between them.
        here, other = Path(__file__).resolve().parents[1], Path(args.against).resolve()
        commands = [["--model", model] for model in args.models] + [["--auto"], ["--auto", "--detect-only"]]
        for extra in commands[-1:] if args.detect_only_against else commands:
            rows.append((f"irtool restore {' '.join(extra)}",
                         functools.partial(_run_once, [*irtool, *extra], _checkout_env(here), workdir)))
            rows.append((f"  the same with {other}",
                         functools.partial(_run_once, [*irtool, *extra], _checkout_env(other), workdir)))
    for model in args.models if not args.against else ():
        for precision in args.precisions:
            flag = [] if precision == "auto" else ["--precision", precision]
            command = [*irtool, "--model", model, *flag]
            label = " ".join(["irtool restore --model", model, *flag])
            rows.append((label, functools.partial(_run_once, command)))
            rows.append((f"  engine alone ({model}{'' if precision == 'auto' else ', ' + precision}, decoded photo "
                         "in memory)", functools.partial(_engine_once, model, precision, photo)))
            if args.compile:
                # Inductor caches compiled kernels on disk: the first command in an empty cache pays the whole
                # compile, later ones (the same tile shape) mostly load it. Both are what a user meets.
                cache = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(workdir / f"inductor-{model}-{precision}")}
                once.append((f"{label} --compile, empty compile cache", _run_once([*command, "--compile"], cache)))
                rows.append((f"{label} --compile, cache from the run above",
                             functools.partial(_run_once, [*command, "--compile"], cache)))
    if not args.against:
        rows.append(("irtool restore --auto", functools.partial(_run_once, [*irtool, "--auto"])))
        rows.append(("irtool restore --auto --detect-only",
                     functools.partial(_run_once, [*irtool, "--auto", "--detect-only"])))
    medians, rounds = _in_rounds(rows, args.repeats)
    timed = medians + once
    with_size = f"{photo.name}, {_megapixels(photo):.1f} MP" + (f", {args.photos} copies" if args.photos > 1 else "")
    print(f"{with_size}; {torch_threads()} thread(s); median of {args.repeats}\n")
    reference = timed[0][1] if timed and timed[0][0].startswith("OpenCV") else None
    print("| command | seconds | x OpenCV NLM |")
    print("|---|---:|---:|")
    for label, value in timed:
        if isinstance(value, str):
            print(f"| {label} | failed: {value} | |")
            continue
        ratio = f"{value / reference:.2f}" if isinstance(reference, float) else "-"
        print(f"| {label} | {value:.1f} | {ratio} |")
    # Issue #20's bound on what a command adds to its network: each `--model` row against the engine row after it.
    pairs = [k for k in range(len(rows) - 1) if rows[k + 1][0].lstrip().startswith("engine alone")]
    if pairs:
        print("\n| command | above the engine alone: median of per-round ratios | ratio of the medians |")
        print("|---|---:|---:|")
        for k in pairs:
            paired = paired_ratio(rounds[k], rounds[k + 1])
            command, engine = timed[k][1], timed[k + 1][1]
            of_medians = (f"{command / engine - 1:+.0%}" if isinstance(command, float) and isinstance(engine, float)
                          else "-")
            print(f"| {rows[k][0]} | {'-' if paired is None else f'{paired - 1:+.0%}'} | {of_medians} |")
    labels = [label for label, _ in rows]
    if pairs and "irtool restore --auto" in labels:  # issue #20's bound on what detection adds, paired the same way
        auto, routed = labels.index("irtool restore --auto"), pairs[0]
        paired = paired_ratio(rounds[auto], rounds[routed])
        if paired is not None:
            print(f"\n`--auto` against `{labels[routed]}`, median of per-round ratios: {paired - 1:+.0%}")
    if args.profile and args.models:
        print(f"\nWhere `irtool restore --model {args.models[0]}` spends its time (one run under cProfile):\n")
        print("| stage | seconds |")
        print("|---|---:|")
        for label, seconds in profile_split([*irtool, "--model", args.models[0]], workdir):
            print(f"| {label} | {seconds:.2f} |")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _megapixels(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as image:
        return image.width * image.height / 1e6


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+",
                        default=["res_hair_lite", "hi_ir_unet_lite", "hi_ir_sr2_lite", "hi_ir_sr4_lite"])
    parser.add_argument("--megapixels", type=float, default=2.0, help="output size of the test photo")
    parser.add_argument("--modes", nargs="+", default=["tiled", "auto"], choices=["tiled", "auto", "forced-tiles"])
    parser.add_argument("--tile", type=int, nargs="+", default=[256], help="tile sides to compare (mode tiled)")
    parser.add_argument("--allocator", nargs="+", default=["retained"], choices=["default", "retained"],
                        help="host allocator: glibc's defaults, or freed memory kept in the process as the irtool "
                        "command does (irtool.engine.host)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--end-to-end", action="store_true", help="time whole commands (files in, files out)")
    parser.add_argument("--models", nargs="*", default=["hi_ir_unet_lite_denoise"],
                        help="weights entries for --end-to-end's `irtool restore --model` rows")
    parser.add_argument("--photo", help="--end-to-end on this photo instead of the generated test image")
    parser.add_argument("--precisions", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16", "fp16"],
                        help="--end-to-end: time each --model at these --precision values (auto: no flag)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per command or configuration (median)")
    parser.add_argument("--compile", action="store_true",
                        help="--end-to-end: also time each --model command with --compile (empty and warm cache)")
    parser.add_argument("--profile", action="store_true", help="--end-to-end: split one restore into its stages")
    parser.add_argument("--photos", type=int, default=1,
                        help="--end-to-end: restore a folder of this many copies of the photo in one command")
    parser.add_argument("--detect-only-against", action="store_true",
                        help="with --against: time only `--auto --detect-only` (no OpenCV row): decoding's share")
    parser.add_argument("--against", metavar="DIR",
                        help="--end-to-end: time each irtool command also with the irtool of checkout DIR (e.g. "
                        "`git worktree add DIR REV`), alternating, from a folder outside both")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one measurement, print JSON
    parser.add_argument("--one-engine", help=argparse.SUPPRESS)  # internal: MODEL:PRECISION:PHOTO, time as JSON
    args = parser.parse_args(argv)
    if args.one_engine:
        model, precision, photo = args.one_engine.split(":", 2)
        from irtool.engine.host import retain_freed_host_memory

        retain_freed_host_memory()  # as the irtool command does
        print(json.dumps(engine_seconds(model, photo, precision)))
        return 0
    if args.end_to_end:
        if args.megapixels == parser.get_default("megapixels"):
            args.megapixels = 12.0
        return end_to_end(args)
    if args.one:
        preset, mode = args.one.split(":")
        if args.allocator == ["retained"]:
            from irtool.engine.host import retain_freed_host_memory

            retain_freed_host_memory()
        print(json.dumps(measure(preset, args.megapixels, mode, args.tile[0], args.device, args.threads)))
        return 0
    print(f"device {args.device}, {args.threads} thread(s), {args.megapixels} MP output; median of "
          f"{args.repeats} interleaved run(s)\n")
    print("| preset | mode | tile | host allocator | tiles | output MP | seconds | MP/s | peak mem (MiB) |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|")
    configs = [(preset, mode, tile, allocator) for preset in args.presets for mode in args.modes
               for tile in (args.tile if mode in ("tiled", "forced-tiles") else args.tile[:1])
               for allocator in args.allocator]
    results: dict[tuple, list[dict]] = {config: [] for config in configs}
    failures: dict[tuple, str] = {}
    for _ in range(args.repeats):  # rounds over every configuration, so a busy spell slows them alike
        for config in configs:
            preset, mode, tile, allocator = config
            cmd = [sys.executable, __file__, "--one", f"{preset}:{mode}", "--megapixels", str(args.megapixels),
                   "--tile", str(tile), "--device", args.device, "--threads", str(args.threads),
                   "--allocator", allocator]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                failures[config] = (proc.stderr.strip().splitlines() or ["failed"])[-1][:80]
                continue
            results[config].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for config in configs:
        preset, mode, tile, allocator = config
        shown = tile if mode in ("tiled", "forced-tiles") else "auto"
        if not results[config]:
            print(f"| {preset} | {mode} | {shown} | {allocator} | failed: {failures.get(config, '')} | | | | |")
            continue
        r = sorted(results[config], key=lambda row: row["seconds"])[len(results[config]) // 2]
        print(f"| {preset} | {mode} | {shown} | {allocator} | {r['tiles']} | {r['megapixels']:.2f} | "
              f"{r['seconds']:.1f} | {r['mp_s']:.3f} | {r['peak_mib']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
