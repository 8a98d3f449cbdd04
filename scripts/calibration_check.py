#!/usr/bin/env python3
"""Expected calibration error of the bundled detector on labelled folders, as shown and with its logits divided by
a further temperature: what a refitted temperature (``irtool train --task detect --fit-vote --keep-vote``) would
show, without running the detector twice (a temperature divides every logit alike, so the probabilities of the
refitted file are these, rescaled).

    .venv/bin/python scripts/calibration_check.py --data runs/heldout40c runs/labelled10 --temperature 1.2683

The bins are ``irtool eval --task detect``'s (0-50-70-80-90-95-100%); nothing is saved (about 0.1 s an image on
2 cores).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

BIN_EDGES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0 + 1e-9)


def calibration_error(probabilities: list[dict[str, float]], truth: list[str], *, temperature: float) -> float:
    """Expected calibration error (points) of the calls when each log-probability is divided by ``temperature``."""
    confidence, right = [], []
    for probs, true in zip(probabilities, truth):
        names = list(probs)
        logits = np.log(np.maximum([probs[n] for n in names], 1e-12)) / temperature
        scaled = np.exp(logits - logits.max())
        scaled /= scaled.sum()
        best = int(scaled.argmax())
        confidence.append(scaled[best])
        right.append(names[best] == true)
    conf, hits = np.array(confidence), np.array(right, dtype=float)
    error = 0.0
    for low, high in zip(BIN_EDGES[:-1], BIN_EDGES[1:]):
        inside = (conf >= low) & (conf < high)
        if inside.any():
            error += inside.mean() * abs(conf[inside].mean() - hits[inside].mean())
    return 100.0 * error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True, help="labelled folders (with manifest.json)")
    parser.add_argument("--temperature", type=float, nargs="+", default=[1.0], help="further temperatures")
    args = parser.parse_args(argv)

    import torch

    from irtool.detect import load_detector
    from irtool.io import read_image
    from irtool.zoo import EngineSettings, ModelZoo

    detector = load_detector(ModelZoo(EngineSettings(device="cpu")))
    print("| folder | images | " + " | ".join(f"T x {t:g}" for t in args.temperature) + " |")
    print("|---|---:|" + "---:|" * len(args.temperature))
    for folder in map(Path, args.data):
        probabilities, truth = [], []
        for entry in json.loads((folder / "manifest.json").read_text())["files"]:
            pixels = read_image(folder / entry["file"]).pixels
            if min(pixels.shape[:2]) < 16:
                continue  # --auto copies it unjudged
            found = detector.detect(torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))))
            probabilities.append(dict(found.probabilities))
            truth.append(entry["type"])
        errors = [calibration_error(probabilities, truth, temperature=t) for t in args.temperature]
        print(f"| {folder} | {len(truth)} | " + " | ".join(f"{e:.1f}" for e in errors) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
