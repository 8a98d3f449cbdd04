#!/usr/bin/env python3
"""Which image-level evidence could lift the detector's vote? Cross-validated on the training photos only.

The shipped vote (``irtool train --task detect --fit-vote``) reads its crops' probability quantiles plus an
enlargement test. Its remaining confusion is clean <-> light haze. This script measures candidate additions to
the vote's summary with the same samples, fitting and 5-fold photo cross-validation as ``--fit-vote``
(:mod:`irtool.train.vote`), so a feature is added to the product only after it has shown a gain here:

* ``layout``: the haze log-odds of the upper and lower halves of the crop grid and their difference (haze grows
  with distance, which is usually up in a photo);
* ``bands``: per quarter of the image height (read on a copy with a 256 px long side): the 20th percentile of the
  dark channel, the luma standard deviation, the mean saturation and the 1st percentile of the minimum channel;
* ``logit-quantiles``: quantiles of every type's log-odds across crops (the shipped ones are of probabilities);
* ``severity``: quantiles of the crops' severities and their haze-weighted mean;
* ``context`` (with ``--context NET``): the clean/haze/low-light log-probabilities of a second detector network
  reading crops of the 256 px copy (a global view; e.g. one trained with ``downscale`` patches). ``--fold K``
  scores fold K alone, for a network trained without that fold's photos.

The samples' raw readings are cached in ``--records`` (extraction is most of the time: ~15 min for the 37
training photos on 2 CPU cores); the table goes to stdout as Markdown.

Usage::

    python scripts/vote_study.py --data runs/photos/train --records runs/vote_study/records.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from irtool.degrade.imresize import imresize  # noqa: E402
from irtool.detect import (  # noqa: E402
    DETECT_ALIGN,
    Detector,
    image_summary,  # noqa: E402
    read_detector,
)
from irtool.engine.tiling import grid_crops  # noqa: E402
from irtool.io import atomic_output  # noqa: E402
from irtool.train.vote import VoteSamples, cross_validate, vote_inputs  # noqa: E402

HAZE, CLEAN, LOW_LIGHT, BLUR = "haze", "clean", "low-light", "blur"
VIEW_SIDE = 256  # the long side of the global view (about 3 crops of 96 px across)
BANDS = 4
CLEAN_WEIGHTS = (1.0, 2.0, 4.0, 8.0)
L2 = 1e-3  # what --fit-vote picked for the shipped vote


def _crop_rows(height: int, width: int, detector: Detector) -> torch.Tensor:
    """The grid row of each crop ``grid_crops`` takes (crops come row by row)."""
    rows = torch.arange(height, dtype=torch.float32)[None, :, None].expand(1, height, width)
    tops = grid_crops(rows, detector.crop, detector.max_crops, align=DETECT_ALIGN)[:, 0, 0, 0]
    return torch.searchsorted(tops.unique(), tops.contiguous())


def _view(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    scale = VIEW_SIDE / max(height, width)
    if scale >= 1:
        return pixels.astype(np.float32)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    return (np.round(np.clip(imresize(pixels, output_shape=shape), 0, 1) * 255) / 255).astype(np.float32)


def extract(detector: Detector, data: str) -> list[dict]:
    records = []
    kinds = [t for t in detector.types if t != "clean"]
    def progress(done: int, total: int) -> None:
        print(f"  {done}/{total} photos", file=sys.stderr)

    for photo, kind, pixels in vote_inputs(data, kinds=kinds, progress=progress):
        image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        with torch.inference_mode():
            logits, severity = detector._read_crops(image)
        probs = torch.softmax(logits.float(), dim=-1)
        records.append({"photo": photo, "kind": kind, "summary": image_summary(probs, image).double(),
                        "probs": probs, "severity": severity.float().reshape(-1),
                        "rows": _crop_rows(*image.shape[1:], detector), "view": _view(pixels).astype(np.float16)})
    return records


def read_views(records: list[dict], network: Detector) -> list[torch.Tensor]:
    """``network``'s crop probabilities on each record's 256 px view."""
    out = []
    for r in records:
        view = torch.from_numpy(np.ascontiguousarray(r["view"].astype(np.float32).transpose(2, 0, 1)))
        with torch.inference_mode():
            logits, _ = network._read_crops(view)
        out.append(torch.softmax(logits.float(), dim=-1))
    return out


def _log_odds(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-5, 1 - 1e-5)
    return (p / (1 - p)).log()


def layout(r: dict, types: tuple[str, ...]) -> torch.Tensor:
    haze = _log_odds(r["probs"][:, types.index(HAZE)])
    rows = r["rows"]
    middle = rows.max() / 2
    upper = haze[rows <= middle].mean()
    lower = haze[rows >= middle].mean()
    return torch.stack([upper, lower, upper - lower]).double()


def bands(r: dict, types: tuple[str, ...]) -> torch.Tensor:
    from scipy.ndimage import minimum_filter

    view = r["view"].astype(np.float32)
    low = view.min(axis=2)
    dark = minimum_filter(low, size=5)
    luma = view @ np.array([0.299, 0.587, 0.114], np.float32)
    saturation = (view.max(axis=2) - low) / (view.max(axis=2) + 1e-3)
    values = []
    for band in np.array_split(np.arange(view.shape[0]), BANDS):
        values += [np.percentile(dark[band], 20), luma[band].std(), saturation[band].mean(),
                   np.percentile(low[band], 1)]
    return torch.tensor(values, dtype=torch.float64)


def logit_quantiles(r: dict, types: tuple[str, ...]) -> torch.Tensor:
    return torch.quantile(_log_odds(r["probs"]), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]), dim=0).reshape(-1).double()


def severity(r: dict, types: tuple[str, ...]) -> torch.Tensor:
    sev = r["severity"].clamp(0, 1)
    haze = r["probs"][:, types.index(HAZE)]
    weighted = (haze * sev).sum() / haze.sum().clamp_min(1e-6)
    return torch.cat([torch.quantile(sev, torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])), weighted[None]]).double()


def context(r: dict, types: tuple[str, ...]) -> torch.Tensor:
    picked = [types.index(t) for t in (CLEAN, HAZE, LOW_LIGHT)]
    return r["view_probs"][:, picked].mean(dim=0).clamp_min(1e-4).log().double()


ADDITIONS = {"layout": layout, "bands": bands, "logit-quantiles": logit_quantiles, "severity": severity,
             "context": context}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="runs/photos/train", help="clean training photos")
    parser.add_argument("--detector", default=str(ROOT / "irtool/assets/weights/giv_detector_lite.safetensors"),
                        help="detector whose crop network is read (its vote is ignored)")
    parser.add_argument("--context", help="a second detector network, read on the 256 px view (adds 'context')")
    parser.add_argument("--records", default="runs/vote_study/records.pt", help="cache of the samples' readings")
    parser.add_argument("--preset", default="res_hair_lite")
    parser.add_argument("--fold", type=int, help="score this fold only (0-4), e.g. with a --context network "
                        "trained without its photos")
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    def load(path: str) -> Detector:
        model, _ = read_detector(path, args.preset)
        model.vote = None
        return Detector(model, name=Path(path).stem)

    detector = load(args.detector)
    records_path = Path(args.records)
    if records_path.exists():
        records = torch.load(records_path, weights_only=False)
    else:
        records = extract(detector, args.data)
        with atomic_output(records_path) as handle:
            torch.save(records, handle)
    sets = {"shipped": []} | {f"shipped + {name}": [name] for name in ADDITIONS}
    sets["shipped + all"] = list(ADDITIONS)
    if args.context:
        for r, probs in zip(records, read_views(records, load(args.context))):
            r["view_probs"] = probs
    else:
        sets = {k: [a for a in v if a != "context"] for k, v in sets.items() if v != ["context"]}
    types = detector.types
    labels = torch.tensor([types.index(r["kind"]) for r in records])
    photos = [r["photo"] for r in records]
    scope = "5-fold cross-validation over photos" if args.fold is None else f"fold {args.fold} of 5 (photos)"
    print(f"{len(records)} samples from {len(set(photos))} photos; L2 {L2}; {scope}\n")
    print("| summary | clean weight | type | clean | worst class | haze | blur |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, additions in sets.items():
        summaries = torch.stack([torch.cat([r["summary"], *(ADDITIONS[a](r, types) for a in additions)])
                                 for r in records])
        samples = VoteSamples(summaries, labels, photos)
        for weight in CLEAN_WEIGHTS:
            acc = cross_validate(samples, num_types=len(types), l2=L2, clean_weight=weight, only_fold=args.fold)
            print(f"| {name} | {weight:g} | {acc['type_accuracy']:.1%} | {acc['clean_accuracy']:.1%} | "
                  f"{acc['worst_class_accuracy']:.1%} | {acc[f'recall_{types.index(HAZE)}']:.1%} | "
                  f"{acc[f'recall_{types.index(BLUR)}']:.1%} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
