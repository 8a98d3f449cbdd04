"""A detector's confusion on training-style patches, to compare with ``irtool eval --task detect`` on whole photos.

A detector that is right on the patches it was trained on but wrong on the same photos degraded whole has
learned something the patches have and real photos lack (a blur kernel's reflected border, values between the
8-bit levels). This draws patches exactly as ``irtool train --task detect`` does (the lite recipe's patch size,
margin and 8-bit rounding unless told otherwise) from a folder the detector never trained on:

    python scripts/detect_patch_accuracy.py --data runs/photos/val --model giv_detector_lite
    python scripts/detect_patch_accuracy.py --data runs/photos/val --model giv_detector_lite --no-quantize
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch

from irtool.data.datasets import DegradedFolderDataset
from irtool.data.transforms import DegradeMargin, QuantizeInput
from irtool.degradations import detector_types
from irtool.detect import load_detector, load_detector_file
from irtool.train.config import DEFAULT_DETECT_MIX, recipe
from irtool.zoo import EngineSettings, ModelZoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of clean photos (not the training folder)")
    parser.add_argument("--model", default=None, help="detector entry in weights.toml (default: its detector)")
    parser.add_argument("--weights", default=None, help="or a detector checkpoint (res_hair_lite GIV path + head)")
    parser.add_argument("--patches", type=int, default=400)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--no-quantize", action="store_true", help="leave inputs off the 8-bit levels")
    args = parser.parse_args()

    lite = recipe("lite", task="detect", preset="res_hair_lite")
    if args.weights:
        detector = load_detector_file(ModelZoo(EngineSettings(device="cpu")), args.weights, "res_hair_lite")
    else:
        detector = load_detector(ModelZoo(EngineSettings(device="cpu")), args.model)
    # Patch labels index the registry's types; the detector answers in its own.
    labels = detector_types()
    transforms = [DegradeMargin(lite.degrade_margin)] + ([] if args.no_quantize else [QuantizeInput()])
    dataset = DegradedFolderDataset(args.data, task_mix=DEFAULT_DETECT_MIX, patch_size=lite.patch_size,
                                    transforms=transforms, sr_as_same_size=True, length=args.patches, seed=args.seed)
    confusion: Counter[tuple[str, str]] = Counter()
    with torch.inference_mode():
        for index in range(len(dataset)):
            item = dataset[index]
            logits, _ = detector.model(item["lq"][None].to(detector.device))
            confusion[labels[item["kind"]], detector.types[int(logits.argmax(1))]] += 1
    print(f"{detector.name} on {len(dataset)} training-style patches of {args.data} "
          f"(patch {lite.patch_size}, margin {lite.degrade_margin}, 8-bit {not args.no_quantize}, seed {args.seed})")
    for true in labels:
        row = {p: n for (t, p), n in confusion.items() if t == true}
        total = sum(row.values())
        if total:
            print(f"  {true:15s} {row.get(true, 0):4d}/{total:<4d} right; predicted {dict(sorted(row.items()))}")


if __name__ == "__main__":
    main()
