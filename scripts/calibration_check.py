#!/usr/bin/env python3
"""Expected calibration error of the bundled detector on labelled folders, as shown and with its logits divided by
a further temperature: what a refitted temperature (``irtool train --task detect --fit-vote --keep-vote``) would
show, without running the detector twice (a temperature divides every logit alike, so the probabilities of the
refitted file are these, rescaled).

    .venv/bin/python scripts/calibration_check.py --data runs/heldout40c runs/labelled10 --temperature 1 1.2683

``--detector FILE`` reads another detector file, e.g. the bundled one before a temperature was folded into it.
At temperature 1 the error is that of the confidence the detector shows (with its map per called type, if it has
one: ``--calibrate-calls``).

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

def calibration_error(probabilities: list[dict[str, float]], truth: list[str], *, temperature: float,
                      shown: list[float] | None = None) -> float:
    """Expected calibration error (points; :meth:`irtool.evaluate.detection.DetectionReport.calibration`, the bins
    of ``irtool eval --task detect``) of the calls when each log-probability is divided by ``temperature``; with
    ``shown`` (temperature 1), of the confidences the detector showed (its map per called type, if it has one)."""
    from irtool.evaluate.detection import DetectionReport, DetectionSample

    samples = []
    for index, (probs, true) in enumerate(zip(probabilities, truth)):
        names = list(probs)
        logits = np.log(np.maximum([probs[n] for n in names], 1e-12)) / temperature
        scaled = np.exp(logits - logits.max())
        best = int(scaled.argmax())
        confidence = float(scaled[best] / scaled.sum()) if shown is None else shown[index]
        samples.append(DetectionSample(image=str(index), true_type=true, severity=None, true_severity=float("nan"),
                                       predicted_type=names[best], predicted_severity=float("nan"),
                                       confidence=confidence))
    report = DetectionReport(detector="", source="", types=tuple(probabilities[0]), severities=(), seed=0,
                             images=len(samples), seconds=0.0, samples=samples)
    return 100.0 * report.calibration()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True, help="labelled folders (with manifest.json)")
    parser.add_argument("--temperature", type=float, nargs="+", default=[1.0], help="further temperatures")
    parser.add_argument("--detector", metavar="FILE", help="a detector file instead of the bundled one (e.g. an "
                        "earlier bundled file: git show REV:irtool/assets/weights/giv_detector_lite.safetensors)")
    args = parser.parse_args(argv)

    import torch

    from irtool.detect import load_detector, load_detector_file
    from irtool.io import read_image
    from irtool.zoo import EngineSettings, ModelZoo

    zoo = ModelZoo(EngineSettings(device="cpu"))
    detector = load_detector(zoo) if args.detector is None else load_detector_file(zoo, args.detector)
    vote = detector.model.vote
    if vote is not None and vote.calls_calibrated and args.temperature != [1.0]:
        parser.error("this detector maps each called type's confidence (--calibrate-calls): a further temperature "
                     "would need maps fitted for it; measure it as it is (no --temperature)")
    print("| folder | images | " + " | ".join(f"T x {t:g}" for t in args.temperature) + " |")
    print("|---|---:|" + "---:|" * len(args.temperature))
    for folder in map(Path, args.data):
        probabilities, truth, shown = [], [], []
        for entry in json.loads((folder / "manifest.json").read_text())["files"]:
            pixels = read_image(folder / entry["file"]).pixels
            if min(pixels.shape[:2]) < 16:
                continue  # --auto copies it unjudged
            found = detector.detect(torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))))
            probabilities.append(dict(found.probabilities))
            truth.append(entry["type"])
            shown.append(found.confidence)
        errors = [calibration_error(probabilities, truth, temperature=t, shown=shown if t == 1.0 else None)
                  for t in args.temperature]
        print(f"| {folder} | {len(truth)} | " + " | ".join(f"{e:.1f}" for e in errors) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
