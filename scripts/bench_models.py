"""Benchmark registered presets: forward time, peak memory and FLOPs per output pixel; prints a Markdown table.

    .venv/bin/python scripts/bench_models.py                       # every preset, 256 and 512 px, CPU
    .venv/bin/python scripts/bench_models.py --presets res_hair_lite restormer_lite --sizes 128 256 --threads 2

The physical limit: the machine's dense fp32 matmul rate (``torch.mm`` of 2048 x 2048 matrices, the best case for
any network) is measured first, and each row shows the rate the network reached (FLOPs counted by
``torch.utils.flop_counter`` / median time) and its share of that limit.

``--official DIR`` compares full-size Res-HAIR (``res_hair``) with the official implementation in one run instead:
DIR holds a checkout of toummHus/HAIR (``net/HAIR.py``, ``utils/ResNet.py``; it needs ``einops`` on the path). Both
networks get the same random weights (the official names, which ``res_hair`` shares) and the same input; each
size checks that the outputs agree (max abs difference) and prints both median times and their ratio, and the same
for irtool's inference engine, which runs Res-HAIR in row strips as ``irtool restore`` does. ``--compile``
adds irtool's network through ``torch.compile`` (compile time reported apart), in either mode.
``--retain-host-memory`` times every network with the ``irtool`` command's host-memory setting
(:mod:`irtool.engine.host`) instead of glibc's defaults.

``--against DIR`` compares each preset with the same preset of another irtool checkout (``git worktree add DIR
REV``), in one process per (preset, size): the same weights and input, calls alternating between the two (this
machine's speed drifts by 20-50% between runs, so separate runs cannot show a 10-20% change).

Driven by the registry, so presets registered later (Hi-IR, ...) are included automatically. Each
(preset, size) runs in its own subprocess so the CPU peak memory (``VmHWM`` from /proc/self/status, minus the
value after building the model) is not polluted by earlier runs; on CUDA it is
``torch.cuda.max_memory_allocated``. Weights are random: speed and memory do not depend on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def _vm_hwm_bytes() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def interleaved_medians(networks: dict, x, repeats: int, device: str = "cpu") -> dict[str, float]:
    """Median seconds per network over ``repeats`` rounds in which each is called once on ``x``, in turn (the order
    reversed every other round), so a change in the machine's speed hits all alike: it drifts by 20-50% between
    runs here."""
    import torch

    times: dict[str, list[float]] = {name: [] for name in networks}
    for i in range(repeats):
        order = list(networks.items())
        for name, network in order if i % 2 == 0 else reversed(order):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            network(x)
            if device == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _child_result(cmd: list[str]) -> dict | str:
    """The JSON a child run of this script prints last, or the last line of its error output when it fails."""
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        return (run.stderr.strip().splitlines() or ["failed"])[-1][:80]
    return json.loads(run.stdout.strip().splitlines()[-1])


def measure(preset: str, size: int, device: str, threads: int, repeats: int,
            compiled: bool = False) -> dict[str, float]:
    """One preset at one size, in this process; ``compiled`` also times it through ``torch.compile``, each timed
    call alternating with an eager one (this machine's speed drifts by 20-50% between runs)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from irtool.models import build, get_preset

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = get_preset(preset)
    model = build(preset).eval().to(device)
    x = torch.rand(1, spec.in_channels, size, size, device=device)
    with torch.inference_mode():
        # The fused CPU attention kernel is invisible to the FLOP counter: count on the math backend.
        from torch.nn.attention import SDPBackend, sdpa_kernel

        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            out = model(x)
        out_pixels = out.shape[-2] * out.shape[-1]
        base = _vm_hwm_bytes()
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        model(x)  # warm-up: the eager network's peak memory (before any compiling, which needs memory of its own)
        peak = (torch.cuda.max_memory_allocated() if device == "cuda" else _vm_hwm_bytes()) - base
        networks = {"eager": model}
        compile_seconds = float("nan")
        if compiled:
            networks["compiled"] = torch.compile(model, dynamic=False)
            start = time.perf_counter()
            networks["compiled"](x)
            compile_seconds = time.perf_counter() - start
        medians = interleaved_medians(networks, x, repeats, device)
    seconds = medians["eager"]
    extra = {}
    if compiled:
        extra = {"compiled_seconds": medians["compiled"], "compile_seconds": compile_seconds}
    return {
        "seconds": seconds,
        "gflops_s": counter.get_total_flops() / seconds / 1e9,
        "peak_mib": max(peak, 0) / 2**20,
        "kflops_per_pixel": counter.get_total_flops() / out_pixels / 1e3,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        **extra,
    }


def matmul_rate(device: str, threads: int, side: int = 2048, repeats: int = 5) -> float:
    """The machine's dense fp32 matrix-multiply rate in GFLOP/s (median of ``repeats`` after a warm-up)."""
    import torch

    torch.set_num_threads(threads)
    a, b = (torch.rand(side, side, device=device) for _ in range(2))
    times = []
    for _ in range(repeats + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.mm(a, b)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 2 * side**3 / statistics.median(times[1:]) / 1e9


def _irtool_from(checkout: str):
    """The ``irtool.models`` package of another checkout, imported beside this one: its modules are swapped into
    ``sys.modules`` only while it imports, so each version keeps its own registry."""
    import importlib

    def ours() -> dict:
        return {k: v for k, v in sys.modules.items() if k == "irtool" or k.startswith("irtool.")}

    saved = ours()
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(Path(checkout).resolve()))
    try:
        models = importlib.import_module("irtool.models")
    finally:
        sys.path.pop(0)
        for name in ours():
            del sys.modules[name]
        sys.modules.update(saved)
    return models


def compare_checkout(checkout: str, preset: str, size: int, threads: int, repeats: int) -> dict[str, float]:
    """One preset built from this checkout and from ``checkout`` with the same weights, timed on the same input in
    alternating calls (this process, on the CPU)."""
    import torch

    from irtool.models import build, get_preset

    other_models = _irtool_from(checkout)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ours = build(preset).eval()
    theirs = other_models.build(preset).eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(1, get_preset(preset).in_channels, size, size)
    with torch.inference_mode():
        difference = float((ours(x) - theirs(x)).abs().max())  # also the warm-up of both
        medians = interleaved_medians({"ours": ours, "theirs": theirs}, x, repeats)
    return {**medians, "max_abs_diff": difference}


def compare_official(official_dir: str, size: int, threads: int, repeats: int,
                     compiled: bool = False) -> dict[str, float]:
    """Full-size Res-HAIR, irtool's and the official code's, on the same weights and input (this process);
    ``compiled`` adds irtool's network through ``torch.compile`` (its compile time reported apart)."""
    import torch

    from irtool.engine import InferenceEngine
    from irtool.models import build, get_preset

    sys.path.insert(0, str(Path(official_dir).resolve()))
    from net.HAIR import HAIR  # the official code, from the checkout given

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ours = build("res_hair").eval()
    official = HAIR().eval()
    weights = {k: (torch.randn_like(v) * 0.02 if v.is_floating_point() else v) for k, v in ours.state_dict().items()}
    ours.load_state_dict(weights, strict=True)
    official.load_state_dict(weights, strict=True)
    x = torch.rand(1, 3, size, size)
    # What `irtool restore` runs: the inference engine, which runs Res-HAIR in row strips (irtool.models.strips).
    engine = InferenceEngine(ours, get_preset("res_hair"), device="cpu")
    models = {"ours": ours, "official": official, "engine": lambda image: engine.run(image[0])[None]}
    compile_seconds = float("nan")
    with torch.inference_mode():
        outputs = {name: model(x) for name, model in models.items()}  # warm-up, and the outputs compared
        if compiled:
            models["compiled"] = torch.compile(ours, dynamic=False)
            start = time.perf_counter()
            outputs["compiled"] = models["compiled"](x)
            compile_seconds = time.perf_counter() - start
        result: dict[str, float] = interleaved_medians(models, x, repeats)
    result["max_abs_diff"] = float((outputs["ours"] - outputs["official"]).abs().max())
    result["engine_max_abs_diff"] = float((outputs["engine"] - outputs["official"].clamp(0, 1)).abs().max())
    if compiled:
        result["compile_seconds"] = compile_seconds
        result["compiled_max_abs_diff"] = float((outputs["compiled"] - outputs["official"]).abs().max())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", help="preset names (default: all registered)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512], help="square input sides")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after one warm-up (median)")
    parser.add_argument("--child", nargs=2, metavar=("PRESET", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--child-matmul", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--official", metavar="DIR", help="compare res_hair with the official HAIR code in DIR")
    parser.add_argument("--child-official", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    parser.add_argument("--against", metavar="DIR", help="compare each preset with another irtool checkout in DIR "
                        "(alternating calls in one process per preset and size)")
    parser.add_argument("--child-against", nargs=2, metavar=("PRESET", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--compile", action="store_true",
                        help="also time irtool's network through torch.compile, alternating with eager calls "
                             "(needs a C++ compiler on the CPU; the first call's compile time is reported apart)")
    parser.add_argument("--retain-host-memory", action="store_true",
                        help="keep freed host memory in the process, as the irtool command does "
                             "(irtool.engine.host; applies to every network timed)")
    args = parser.parse_args(argv)

    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.retain_host_memory:
        from irtool.engine.host import retain_freed_host_memory

        retain_freed_host_memory()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), device, args.threads, args.repeats,
                                 compiled=args.compile)))
        return 0
    if args.child_official:
        print(json.dumps(compare_official(args.official, args.child_official, args.threads, args.repeats,
                                          compiled=args.compile)))
        return 0
    if args.child_against:
        print(json.dumps(compare_checkout(args.against, args.child_against[0], int(args.child_against[1]),
                                          args.threads, args.repeats)))
        return 0
    if args.against:
        from irtool.models import preset_names

        print(f"this checkout vs {args.against}, cpu, {args.threads} thread(s), median of {args.repeats} alternating "
              "calls after warm-up\n")
        print("| preset | size | this checkout (s) | other (s) | this / other | max abs difference |")
        print("|---|---:|---:|---:|---:|---:|")
        failed = 0
        for name in args.presets or preset_names():
            for size in args.sizes:
                r = _child_result([sys.executable, __file__, "--against", args.against, "--child-against", name,
                                   str(size), "--threads", str(args.threads), "--repeats", str(args.repeats),
                                   *["--retain-host-memory"] * args.retain_host_memory])
                if isinstance(r, str):
                    failed += 1
                    print(f"| {name} | {size} | error: {r} | | | |")
                    continue
                print(f"| {name} | {size} | {r['ours']:.3f} | {r['theirs']:.3f} | {r['ours'] / r['theirs']:.2f} | "
                      f"{r['max_abs_diff']:.1e} |", flush=True)
        return 1 if failed else 0
    if args.official:
        print(f"res_hair vs the official HAIR code ({args.official}), {device}, {args.threads} thread(s), median of "
              f"{args.repeats} interleaved runs after warm-up\n")
        extra = " | compiled (s) | compiled / official | compiled max abs difference | compile time (s)"
        print("| size | irtool (s) | official (s) | irtool / official | max abs difference | irtool engine, row "
              "strips (s) | engine / official | engine max abs difference" + (extra if args.compile else "") + " |")
        print("|---:" * (12 if args.compile else 8) + "|")
        child_flags = ["--compile"] * args.compile + ["--retain-host-memory"] * args.retain_host_memory
        for size in args.sizes:
            r = _child_result([sys.executable, __file__, "--official", args.official, "--child-official", str(size),
                               "--threads", str(args.threads), "--repeats", str(args.repeats), *child_flags])
            if isinstance(r, str):
                print(f"| {size} | error: {r} | | | |")
                continue
            row = (f"| {size} | {r['ours']:.2f} | {r['official']:.2f} | {r['ours'] / r['official']:.2f} | "
                   f"{r['max_abs_diff']:.1e} | {r['engine']:.2f} | {r['engine'] / r['official']:.2f} | "
                   f"{r['engine_max_abs_diff']:.1e}")
            if args.compile:
                row += (f" | {r['compiled']:.2f} | {r['compiled'] / r['official']:.2f} | "
                        f"{r['compiled_max_abs_diff']:.1e} | {r['compile_seconds']:.0f}")
            print(row + " |", flush=True)
        return 0
    if args.child_matmul:
        print(json.dumps({"gflops_s": matmul_rate(device, args.threads)}))
        return 0

    from irtool.models import preset_names

    names = args.presets or preset_names()
    limit_run = subprocess.run([sys.executable, __file__, "--child-matmul", "--device", device,
                                "--threads", str(args.threads)], capture_output=True, text=True, check=True)
    limit = json.loads(limit_run.stdout.strip().splitlines()[-1])["gflops_s"]
    print(f"device {device}, {args.threads} thread(s), median of {args.repeats} runs after warm-up, batch 1; "
          f"dense fp32 matmul (2048 x 2048): {limit:.0f} GFLOP/s\n")
    compiled_columns = " compiled (s) | compiled / eager | compile time (s) |" if args.compile else ""
    print("| preset | params (M) | size | time (s) | peak mem (MiB) | kFLOPs / output px | GFLOP/s | of matmul |"
          + compiled_columns)
    print("|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * (3 * args.compile))
    failed = 0
    for name in names:
        for size in args.sizes:
            cmd = [sys.executable, __file__, "--child", name, str(size), "--device", device,
                   "--threads", str(args.threads), "--repeats", str(args.repeats),
                   *["--retain-host-memory"] * args.retain_host_memory, *["--compile"] * args.compile]
            r = _child_result(cmd)
            if isinstance(r, str):
                failed += 1
                print(f"| {name} | | {size} | error: {r} | | | | |")
                continue
            compiled_cells = (f" {r['compiled_seconds']:.3f} | {r['compiled_seconds'] / r['seconds']:.2f} | "
                              f"{r['compile_seconds']:.0f} |") if args.compile else ""
            print(f"| {name} | {r['params_m']:.2f} | {size} | {r['seconds']:.3f} | {r['peak_mib']:.0f} "
                  f"| {r['kflops_per_pixel']:.1f} | {r['gflops_s']:.1f} | {r['gflops_s'] / limit:.0%} |"
                  + compiled_cells, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
