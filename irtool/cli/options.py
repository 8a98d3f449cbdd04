"""Options shared by several commands, declared once (``Annotated`` types: the default stays in the signature).

Task lists in help texts come from the degradation registry, which imports neither torch nor numpy, so
``irtool --help`` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from irtool.degradations import DETECT, RESTORE_TASKS, SINGLE_TASKS

__all__ = ["Arch", "CompileOption", "Device", "JsonReport", "PrecisionOption", "Quiet", "Tile", "WeightsFile",
           "WeightsFiles", "task_help"]


def task_help(tasks: tuple[str, ...], *, extra: str = "") -> str:
    return ", ".join(tasks) + (f"{extra}" if extra else ".")


DEVICE_HELP = "auto, cpu, cuda, cuda:N, mps."
Device = Annotated[str, typer.Option("--device", help=DEVICE_HELP)]
Arch = Annotated[Optional[str], typer.Option("--arch", help="Preset of --weights (or spandrel:ARCH); recognised from "
                                             "the file when not given.")]
_WEIGHTS_HELP = ("A local checkpoint: .safetensors, official .pth/.ckpt of irtool's architectures, or of SwinIR, "
                 "HAT, NAFNet, RRDBNet and others with spandrel installed.")
WeightsFile = Annotated[Optional[Path], typer.Option("--weights", help=_WEIGHTS_HELP)]
WeightsFiles = Annotated[Optional[List[Path]], typer.Option("--weights", help=_WEIGHTS_HELP + " Several allowed.")]
PrecisionOption = Annotated[str, typer.Option(
    "--precision", help="auto (fp16 on CUDA, fp32 elsewhere), fp32, fp16, bf16. bf16 on a CPU with native bf16 "
    "(AVX512-BF16 or AMX) is 1.1-2.2x faster at a small measured quality cost (README \"Speed and memory\").")]
CompileOption = Annotated[bool, typer.Option(
    "--compile", help="Run the networks through torch.compile: faster tiles after a slow first one per image size "
    "(minutes on a CPU, which needs a C++ compiler; falls back to eager with a note). For long batches of "
    "same-size photos (README \"Speed and memory\").")]
Tile = Annotated[Optional[int], typer.Option(
    "--tile", help="Largest tile side in input pixels; tiles are fitted below it to the image (default: from free "
    "memory).")]
JsonReport = Annotated[Optional[Path], typer.Option("--json", help="Also write the results as a JSON report.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or tables; errors still go to stderr.")]
RouteOption = Annotated[Optional[List[str]], typer.Option(
    "--route", help="With --auto: TYPE=MODEL sends images of that degradation to MODEL (a weights.toml entry or a "
    "weights file) instead of weights.toml's route, or leaves them as they are with TYPE=keep (e.g. low-light=keep "
    "for photos dark on purpose). Repeatable.")]

RESTORE_TASK_HELP = task_help(RESTORE_TASKS)
EVAL_TASK_HELP = task_help(SINGLE_TASKS, extra=f", {DETECT} (the degradation detector), or auto (restore --auto on a "
                           "labelled folder with clean originals); required unless --list.")
TRAIN_TASK_HELP = task_help((*RESTORE_TASKS, DETECT))
