"""``irtool train --task detect --fit-vote``: fit a trained detector's image-level vote (:class:`ImageVote`).

The crop network stays as it is. Every training photo is shown whole and as random sub-windows, clean and with
each degradation at random severities (made exactly as ``irtool eval --task detect`` makes its inputs); each is
summarised as the vote reads it (crop probabilities and enlargement test,
:func:`~irtool.detect.image_summary`) and a multinomial logistic regression is fitted on the summaries
with LBFGS. Its L2 strength and clean-class weight are the pair whose worst class scores best in cross-validation
over *photos* of the training folder (a photo's samples never sit on both sides of a fold); the validation folder
is never read. Its confidence is then calibrated by one temperature fitted on the cross-validation's out-of-fold
logits (:func:`fit_temperature`). ``--keep-vote`` keeps the detector's own vote instead and folds in only a
temperature fitted on that vote's own logits, so its decisions do not change. ``--calibrate-calls`` then gives each
called type its own confidence map (:func:`fit_call_maps`), again without changing a decision.
"""

from __future__ import annotations

import json
import math
import pickle
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from irtool.errors import InvalidArgumentError
from irtool.io.atomic import atomic_output

__all__ = ["VoteSamples", "call_map_error", "calibration_error", "clean_margin", "cross_validate", "fit_call_maps",
           "fit_temperature", "fit_vote", "fit_vote_run", "mapped_confidence",
           "out_of_fold_logits", "vote_inputs", "vote_samples"]

#: L2 strengths (on standardised summaries) and weights of the clean class in the loss, tried by
#: cross-validation. Every type, clean included, has as many samples; weighting clean up trades type accuracy
#: (light haze and blur called clean) for clean accuracy (clean landscapes called hazy), and both have a target.
L2_CHOICES = (1e-3, 1e-2)
CLEAN_WEIGHTS = (1.0, 2.0, 4.0, 8.0)
CV_FOLDS = 5
#: A random sub-window keeps at least this fraction of each side (and at least MIN_WINDOW px).
MIN_WINDOW_FRACTION = 0.5
MIN_WINDOW = 200


@dataclass
class VoteSamples:
    summaries: torch.Tensor  # [S, F] float64
    labels: torch.Tensor  # [S] type index
    photos: list[str]  # [S] the training photo each sample came from


def _window(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    fh, fw = rng.uniform(MIN_WINDOW_FRACTION, 1.0, 2)
    h, w = min(height, max(MIN_WINDOW, int(height * fh))), min(width, max(MIN_WINDOW, int(width * fw)))
    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    return np.ascontiguousarray(image[top : top + h, left : left + w])


def vote_inputs(folder: str | Path, *, kinds: Sequence[str], clean_per_photo: int = 5, per_kind: int = 5,
                seed: int = 0, synthesis: str = "default",
                progress: Callable[[int, int], None] | None = None) -> Iterator[tuple[str, str, np.ndarray]]:
    """(photo name, true type, detector input HxWx3 float32) for the photos under ``folder``: per photo
    ``clean_per_photo`` clean inputs (the whole photo, then random windows) and ``per_kind`` per degradation kind
    of ``kinds`` (random windows, severity uniform in [0, 1]), made as ``irtool eval --task detect`` makes its inputs.
    ``progress(done, total)`` is called after each photo."""
    from irtool.evaluate.benchmarks import folder_dataset
    from irtool.evaluate.detection import detection_input
    from irtool.evaluate.runner import read_uint8

    dataset = folder_dataset(folder)
    for done, sample in enumerate(dataset.samples):
        clean = read_uint8(sample.gt, mode="rgb").astype(np.float32) / np.float32(255.0)
        rng = np.random.default_rng([seed, zlib.crc32(sample.name.encode("utf-8"))])
        jobs = [("clean", 0.0)] * clean_per_photo
        jobs += [(kind, float(rng.uniform(0.0, 1.0))) for kind in kinds for _ in range(per_kind)]
        for j, (kind, severity) in enumerate(jobs):
            image = clean if j == 0 else _window(clean, rng)
            pixels, _ = detection_input(image, kind, severity, rng=rng, synthesis=synthesis)
            yield sample.name, kind, pixels
        if progress is not None:
            progress(done + 1, len(dataset.samples))


def vote_samples(detector, folder: str | Path, *, clean_per_photo: int = 5, per_kind: int = 5, seed: int = 0,
                 synthesis: str = "default", progress: Callable[[int, int], None] | None = None) -> VoteSamples:
    """Vote summaries (:meth:`~irtool.detect.Detector.summary`) of the inputs :func:`vote_inputs` makes."""
    summaries, labels, photos = [], [], []
    kinds = [t for t in detector.types if t != "clean"]
    for photo, kind, pixels in vote_inputs(folder, kinds=kinds, clean_per_photo=clean_per_photo, per_kind=per_kind,
                                           seed=seed, synthesis=synthesis, progress=progress):
        image_chw = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        summaries.append(detector.summary(image_chw).double())
        labels.append(detector.types.index(kind))
        photos.append(photo)
    return VoteSamples(torch.stack(summaries), torch.tensor(labels), photos)


def fit_vote(summaries: torch.Tensor, labels: torch.Tensor, *, num_types: int, l2: float, clean_weight: float = 1.0):
    """An :class:`ImageVote` fitted by L2-regularised multinomial logistic regression (full batch, LBFGS), the
    clean class (index 0) weighted ``clean_weight`` in the loss."""
    from irtool.models.image_vote import ImageVote

    x = summaries.double()
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    z = (x - mean) / std
    linear = torch.nn.Linear(x.shape[1], num_types).double()
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)  # a convex problem: start at the origin, deterministic
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    class_weights = torch.ones(num_types, dtype=torch.float64)
    class_weights[0] = clean_weight

    def closure():
        optimizer.zero_grad()
        loss = (torch.nn.functional.cross_entropy(linear(z), labels, weight=class_weights)
                + l2 * linear.weight.square().sum())
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    vote = ImageVote(num_types, size=x.shape[1])
    with torch.no_grad():
        vote.summary_mean.copy_(mean.float())
        vote.summary_std.copy_(std.float())
        vote.linear.weight.copy_(linear.weight.float())
        vote.linear.bias.copy_(linear.bias.float())
    return vote


def _accuracies(labels: torch.Tensor, predicted: torch.Tensor) -> dict[str, float]:
    clean = labels == 0
    recalls = {k: float((predicted[labels == k] == k).double().mean()) for k in labels.unique().tolist()}
    return {"type_accuracy": float((predicted[~clean] == labels[~clean]).double().mean()),
            "clean_accuracy": float((predicted[clean] == 0).double().mean()),
            "worst_class_accuracy": min(recalls.values()),
            **{f"recall_{k}": recall for k, recall in recalls.items()}}  # per type index


def out_of_fold_logits(samples: VoteSamples, *, num_types: int, l2: float, clean_weight: float = 1.0,
                       folds: int = CV_FOLDS, only_fold: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(the vote's logits for every sample from a vote fitted without that sample's fold of photos, the mask of
    samples scored): folds are the photos in sorted order dealt round-robin; ``only_fold`` scores that fold alone
    (a study whose other inputs were fitted without it)."""
    fold = _photo_folds(samples, folds)
    logits = torch.zeros(len(samples.labels), num_types)
    for k in range(folds) if only_fold is None else [only_fold]:
        held = fold == k
        vote = fit_vote(samples.summaries[~held], samples.labels[~held], num_types=num_types, l2=l2,
                        clean_weight=clean_weight)
        with torch.no_grad():
            logits[held] = vote(samples.summaries[held].float())
    scored = torch.ones_like(fold, dtype=torch.bool) if only_fold is None else fold == only_fold
    return logits, scored


def cross_validate(samples: VoteSamples, *, num_types: int, l2: float, clean_weight: float = 1.0,
                   folds: int = CV_FOLDS, only_fold: int | None = None) -> dict[str, float]:
    """Accuracies of a vote fitted without each fold of photos, on that fold (see :func:`out_of_fold_logits`)."""
    logits, scored = out_of_fold_logits(samples, num_types=num_types, l2=l2, clean_weight=clean_weight, folds=folds,
                                        only_fold=only_fold)
    return _accuracies(samples.labels[scored], logits[scored].argmax(dim=1))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T minimising the negative log-likelihood of ``softmax(logits / T)`` (Guo et al., "On
    Calibration of Modern Neural Networks", 2017): one number, so the decisions (argmax) do not change; searched on
    a log grid from 1/8 to 8, then refined between the best point's neighbours."""
    def nll(t: float) -> float:
        return float(torch.nn.functional.cross_entropy(logits.double() / t, labels))

    grid = torch.logspace(-3, 3, 61, base=2.0).tolist()
    best = min(range(len(grid)), key=lambda i: nll(grid[i]))
    low, high = grid[max(0, best - 1)], grid[min(len(grid) - 1, best + 1)]
    fine = torch.linspace(low, high, 41).tolist()
    return float(min(fine, key=nll))


def _photo_folds(samples: VoteSamples, folds: int) -> torch.Tensor:
    """Each sample's fold: the photos in sorted order dealt round-robin (a photo's samples share one fold)."""
    names = sorted(set(samples.photos))
    if len(names) < folds:
        raise InvalidArgumentError(f"fitting a vote cross-validates over photos: needs at least {folds} training "
                                   f"photos, found {len(names)}", argument="data")
    fold_of = {name: i % folds for i, name in enumerate(names)}
    return torch.tensor([fold_of[p] for p in samples.photos])


def _temperature_cv_error(logits: torch.Tensor, samples: VoteSamples, folds: int) -> float:
    """Calibration error of ``logits`` when each fold of photos is divided by the temperature fitted on the
    others: what one fitted temperature is worth on photos it was not fitted on."""
    fold = _photo_folds(samples, folds)
    scaled = logits.clone()
    for k in range(folds):
        held = fold == k
        scaled[held] = logits[held] / fit_temperature(logits[~held], samples.labels[~held])
    return calibration_error(scaled, samples.labels)


def calibration_error(logits: torch.Tensor, labels: torch.Tensor, *, bins: int = 10) -> float:
    """Expected calibration error of ``softmax(logits)``: the sample-weighted mean over equal-width confidence bins
    of |accuracy - mean confidence|."""
    probs = torch.softmax(logits.double(), dim=1)
    confidence, predicted = probs.max(dim=1)
    return _confidence_error(confidence, (predicted == labels).double(), bins=bins)


#: A called type needs at least this many samples for a confidence map of its own; with fewer it keeps the
#: vote's probability (the identity map).
MIN_CALLS_MAPPED = 20
#: L2 pull of each type's map towards the identity (log-scale 0, shift 0), per sample-mean loss.
CALL_MAP_L2 = 1e-2


def _confidence_error(confidence: torch.Tensor, right: torch.Tensor, *, bins: int = 10) -> float:
    index = (confidence * bins).long().clamp(max=bins - 1)
    error = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            error += float(inside.sum()) * abs(float(right[inside].mean()) - float(confidence[inside].mean()))
    return error / len(right)


def fit_call_maps(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) ``[num_types]``: for each called type, the map ``sigmoid(scale * logit(p) + shift)`` from a
    call's probability to its confidence (:func:`irtool.models.image_vote.call_confidence`), fitted by logistic
    regression of "the call was right" on the samples called that type, the scale kept positive (no call changes)
    and both pulled towards the identity. A single temperature moves every call alike; here a type the vote calls
    right more often than its probability says rises and one it calls wrong more often falls."""
    probs = torch.softmax(logits.double(), dim=1)
    confidence, called = probs.max(dim=1)
    right = (called == labels).double()
    z = torch.logit(confidence.clamp(1e-6, 1 - 1e-6))
    num_types = logits.shape[1]
    scale, shift = torch.ones(num_types, dtype=torch.float64), torch.zeros(num_types, dtype=torch.float64)
    for k in range(num_types):
        mine = called == k
        if int(mine.sum()) < MIN_CALLS_MAPPED:
            continue
        params = torch.zeros(2, dtype=torch.float64, requires_grad=True)  # log scale, shift: the identity
        optimiser = torch.optim.LBFGS([params], max_iter=200, line_search_fn="strong_wolfe")

        def closure(mine=mine, params=params, optimiser=optimiser):
            optimiser.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                params[0].exp() * z[mine] + params[1], right[mine]) + CALL_MAP_L2 * params.pow(2).sum()
            loss.backward()
            return loss

        optimiser.step(closure)
        scale[k], shift[k] = float(params[0].detach().exp()), float(params[1].detach())
    return scale.float(), shift.float()


def mapped_confidence(logits: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor,
                                                                                                 torch.Tensor]:
    """(confidence shown, called type) of each sample under the per-type maps (what :class:`Detector` shows)."""
    from irtool.models.image_vote import call_confidence

    confidence, called = torch.softmax(logits.double(), dim=1).max(dim=1)
    return call_confidence(confidence, scale[called], shift[called]), called


def call_map_error(logits: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> float:
    """Expected calibration error of the confidence the per-type maps show (the bins of :func:`calibration_error`)."""
    shown, called = mapped_confidence(logits, scale, shift)
    return _confidence_error(shown, (called == labels).double())


def _call_map_cv_error(logits: torch.Tensor, samples: VoteSamples, folds: int) -> float:
    """Calibration error when each fold of photos is shown the maps fitted on the others."""
    fold = _photo_folds(samples, folds)
    shown = torch.zeros(len(samples.labels), dtype=torch.float64)
    right = torch.zeros(len(samples.labels), dtype=torch.float64)
    for k in range(folds):
        held = fold == k
        scale, shift = fit_call_maps(logits[~held], samples.labels[~held])
        shown[held], called = mapped_confidence(logits[held], scale, shift)
        right[held] = (called == samples.labels[held]).double()
    return _confidence_error(shown, right)


def clean_margin(logits: torch.Tensor, labels: torch.Tensor, *, target: float) -> float:
    """The smallest amount to add to the clean logit (index 0) so that at least ``target`` of the clean samples are
    called clean (0 when they already are, or for target 0).

    A folder of photos is mostly good photos, and changing a good one is the harm people see first; the margin
    trades degradations called clean for clean photos left alone, at a rate the out-of-fold logits measure.
    """
    clean = logits[labels == 0].double()
    if target <= 0 or clean.numel() == 0:
        return 0.0
    # What each clean sample needs: how far its best other type is above clean (0 when clean already wins).
    needed = (clean[:, 1:].max(dim=1).values - clean[:, 0]).clamp(min=0).sort().values
    index = min(len(needed) - 1, max(0, math.ceil(target * len(needed)) - 1))
    value = float(needed[index])
    return value + 1e-6 if value > 0 else 0.0


def _with_margin(logits: torch.Tensor, margin: float) -> torch.Tensor:
    shifted = logits.clone()
    shifted[:, 0] += margin
    return shifted


def _score(accuracies: dict[str, float]) -> float:
    # The worst class, clean included: weighting clean up raises clean accuracy and pooled type accuracy can stay
    # high while one type (light haze, called clean) collapses; a user's hazy photo would then be left hazy.
    return accuracies["worst_class_accuracy"] + 1e-3 * accuracies["type_accuracy"]


def _saved_samples(path: str | Path, *, num_types: int) -> VoteSamples:
    """The summaries and labels an earlier ``--fit-vote`` saved (``vote_samples.pt``)."""
    from irtool.detect import summary_size

    try:
        saved = torch.load(Path(path), map_location="cpu", weights_only=True)
        samples = VoteSamples(saved["summaries"], saved["labels"], list(saved["photos"]))
    except (OSError, KeyError, RuntimeError, TypeError, pickle.UnpicklingError) as exc:
        raise InvalidArgumentError(f"{path}: not a vote_samples.pt of --fit-vote ({exc})", argument="vote_samples") \
            from None
    if samples.summaries.shape[1] != summary_size(num_types) or int(samples.labels.max()) >= num_types:
        raise InvalidArgumentError(f"{path}: its summaries are not this detector's ({num_types} types)",
                                   argument="vote_samples")
    return samples


def fit_vote_run(cfg, *, l2_choices: Sequence[float] = L2_CHOICES, clean_weights: Sequence[float] = CLEAN_WEIGHTS,
                 clean_per_photo: int = 5, per_kind: int = 5, folds: int = CV_FOLDS,
                 progress: Callable[[int, int], None] | None = None):
    """Load ``cfg.init_weights`` (a detector), fit its vote on ``cfg.data``; write OUT/NAME/final.safetensors
    (the detector with its vote), metrics.jsonl and vote_samples.pt (the summaries and labels). Returns a
    :class:`~irtool.train.TrainResult`.

    The L2 strength and clean weight are chosen among ``l2_choices`` x ``clean_weights`` by ``folds``-fold
    cross-validation over the photos; :func:`vote_inputs` says what ``clean_per_photo`` and ``per_kind`` are."""
    from irtool.detect import Detector, read_detector, types_from_metadata
    from irtool.weights.checkpoints import save_safetensors

    from .loop import TrainResult, append_metrics

    if cfg.task != "detect":
        raise InvalidArgumentError("a vote is fitted for a detector: the task must be detect", argument="task")
    if not cfg.init_weights:
        raise InvalidArgumentError("fitting a vote needs init_weights: the trained detector whose crops it reads",
                                   argument="init_weights")
    if not cfg.data:
        raise InvalidArgumentError("data is required: a folder of clean training photos", argument="data")
    if cfg.keep_vote and cfg.vote_clean_target:
        raise InvalidArgumentError("--keep-vote keeps the vote's decisions: it takes no --vote-clean-target",
                                   argument="keep_vote")
    started = time.monotonic()
    model, meta = read_detector(cfg.init_weights, cfg.preset)
    kept = model.vote if cfg.keep_vote else None  # --keep-vote: this vote, recalibrated, is the result
    if cfg.keep_vote and kept is None:
        raise InvalidArgumentError(f"{cfg.init_weights} has no vote to keep: fit one with --fit-vote",
                                   argument="keep_vote")
    model.vote = None  # the crops' plain probabilities, never a previous vote's
    detector = Detector(model, types=types_from_metadata(meta), device=cfg.device, name=Path(cfg.init_weights).stem)
    if cfg.vote_samples:
        samples = _saved_samples(cfg.vote_samples, num_types=len(detector.types))
    else:
        samples = vote_samples(detector, cfg.data, clean_per_photo=clean_per_photo, per_kind=per_kind,
                               seed=cfg.seed, synthesis=cfg.synthesis, progress=progress)
    run_dir = Path(cfg.out) / cfg.name
    run_dir.mkdir(parents=True, exist_ok=True)
    # The summaries themselves, saved before any fitting: to study or refit without reading every photo again.
    with atomic_output(run_dir / "vote_samples.pt") as handle:
        torch.save({"summaries": samples.summaries, "labels": samples.labels, "photos": samples.photos}, handle)
    num_types = len(detector.types)
    if kept is not None:
        # A vote fitted before the summary grew reads its first entries (as Detector.detect serves it); its
        # temperature comes from refits that read the same.
        samples = VoteSamples(samples.summaries[:, :kept.summary_mean.numel()], samples.labels, samples.photos)
    oof = {(l2, weight): out_of_fold_logits(samples, num_types=num_types, l2=l2, clean_weight=weight, folds=folds)[0]
           for l2 in l2_choices for weight in clean_weights}
    # Each candidate with the clean margin its own out-of-fold logits need to reach the clean target.
    margins = {key: clean_margin(logits, samples.labels, target=cfg.vote_clean_target) for key, logits in oof.items()}
    oof = {key: _with_margin(logits, margins[key]) for key, logits in oof.items()}
    scores = {key: _accuracies(samples.labels, logits.argmax(dim=1)) for key, logits in oof.items()}
    plain = _accuracies(samples.labels, samples.summaries[:, :num_types].argmax(dim=1))
    l2, weight = max(scores, key=lambda key: _score(scores[key]))  # the first of equals
    # Calibrate the reported confidence and fold the margin and the temperature into the linear map, so the file
    # format stays as it was. A new vote's temperature comes from the out-of-fold logits (photos the fold's vote
    # never saw). A kept vote gets a temperature only, so none of its decisions changes, fitted on its own logits
    # here: a refit's out-of-fold logits say how a vote fitted on these samples errs, not how the kept one errs on a
    # draw it was not fitted on (--synthesis wide for the bundled vote, fitted on the default draw).
    if kept is not None:
        model.vote = kept
        with torch.no_grad():
            kept_logits = model.vote(samples.summaries.to(model.vote.linear.weight.dtype)).double()
        temperature = fit_temperature(kept_logits, samples.labels)
    else:
        model.vote = fit_vote(samples.summaries, samples.labels, num_types=num_types, l2=l2, clean_weight=weight)
        kept_logits = None
        temperature = fit_temperature(oof[l2, weight], samples.labels)
    with torch.no_grad():
        if kept_logits is None:
            model.vote.linear.bias[0] += margins[l2, weight]
        model.vote.linear.weight.div_(temperature)
        model.vote.linear.bias.div_(temperature)
    maps = {}
    if not cfg.calibrate_calls:
        model.vote.clear_call_maps()  # a kept vote's maps were fitted to the probabilities before this temperature
    else:
        # The logits the file now computes: the kept vote's own, or the out-of-fold ones standing in for a new vote.
        shown = (kept_logits if kept_logits is not None else oof[l2, weight]) / temperature
        scale, shift = fit_call_maps(shown, samples.labels)
        model.vote.calibrate_calls(scale, shift)
        maps = {"call_scale": [round(float(v), 4) for v in scale], "call_shift": [round(float(v), 4) for v in shift],
                "call_map_calibration_error_before": calibration_error(shown, samples.labels),
                "call_map_calibration_error": call_map_error(shown, samples.labels, scale, shift),
                "call_map_cv_calibration_error": _call_map_cv_error(shown, samples, folds)}
    record = {"iter": 0, "samples": len(samples.labels), "photos": len(set(samples.photos)), "l2": l2,
              "clean_weight": weight, "clean_target": cfg.vote_clean_target, "clean_margin": margins[l2, weight],
              "cv_type_accuracy": scores[l2, weight]["type_accuracy"],
              "cv_clean_accuracy": scores[l2, weight]["clean_accuracy"],
              "cv_worst_class_accuracy": scores[l2, weight]["worst_class_accuracy"],
              "mean_vote_type_accuracy": plain["type_accuracy"], "mean_vote_clean_accuracy": plain["clean_accuracy"],
              "temperature": temperature, "cv_calibration_error": calibration_error(oof[l2, weight], samples.labels),
              **({} if kept_logits is not None else {  # the temperature is the kept vote's, not the refit's
                  "cv_calibration_error_calibrated": calibration_error(oof[l2, weight] / temperature, samples.labels)}),
              "kept_vote": kept_logits is not None,
              # The kept vote on these samples before and after its temperature (fitted on them, so optimistic), and
              # with each fold of photos divided by the temperature fitted on the other folds.
              **({} if kept_logits is None else {
                  "kept_vote_calibration_error": calibration_error(kept_logits, samples.labels),
                  "kept_vote_calibration_error_calibrated": calibration_error(kept_logits / temperature,
                                                                              samples.labels),
                  "kept_vote_cv_calibration_error_calibrated": _temperature_cv_error(kept_logits, samples, folds)}),
              **maps, "time": time.monotonic() - started}
    append_metrics(run_dir / "metrics.jsonl", record)
    final = run_dir / "final.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_safetensors(state, final, metadata={**meta, "kind": "detector", "task": "detect",
                                             "types": json.dumps(list(detector.types))})
    return TrainResult(run_dir, 0, final, scores[l2, weight]["type_accuracy"], "finished", [record])
