"""Where ``--auto``'s pixel tests sit on training photos, clean and with each degradation: the veil test (haze) and
the noise floor (clean calls).

    .venv/bin/python scripts/pixel_tests.py --data runs/photos/train               # the veil test
    .venv/bin/python scripts/pixel_tests.py --data runs/photos/train --test noise  # the noise floor

He, Sun and Tang's dark channel prior: in a photo without haze most regions hold some pixel that is dark in one
colour channel, so the image's median dark channel is low; haze adds airlight ``A (1 - t)`` to every channel and
lifts it. ``--auto`` leaves an image it calls hazy as it is when its median dark channel
(:func:`irtool.detect.scene_statistics`, ``dark_channel_p50``) is below :data:`irtool.detect.VEIL_DARK_CHANNEL_MIN`
(``--gray``: the same on gray photos of the degraded scenes).
This script shows where that threshold sits among the training photos (never the held-out ones): per true type,
the spread of the median dark channel over random windows degraded by every registered generator (``--synthesis
wide``) at visible severities (0.25-1), and the share of each type below the threshold (for haze: visible haze the
test would wrongly leave; for the others: images the test keeps from the haze route if they are called hazy).

``--test noise``: :func:`irtool.detect.noise_floor` (Immerkaer's noise estimate in the flattest tenth of 16 px
blocks, 8-bit levels) per true type, and the share below :data:`irtool.detect.NOISE_FLOOR_MIN`, from which
``--auto`` denoises an image the detector calls clean; the rest are, for clean windows, the false alarms and, for
noise, the noisy images a clean call would no longer leave noisy.

``--test chroma-noise``: :func:`irtool.detect.chroma_noise_floor` (the same estimate on the colour-difference planes)
per true type: where clean windows' colour noise floor sits against noisy ones', for a colour noise test.

``--test removed-noise``: :func:`irtool.detect.removed_noise` with the noise route's model (what it removes where it
removes least: the luma RMS of its change in the least-changed tenth of 16 px blocks) per true type; ``--auto`` reads
it on images called clean, JPEG, blurred or hazy whose noise floor is between
:data:`irtool.detect.NOISE_REMOVED_FLOOR_MIN` and :data:`irtool.detect.NOISE_FLOOR_MIN`, and denoises them from
:data:`irtool.detect.NOISE_REMOVED_MIN` (noise a JPEG smoothed). It runs the model on every window: use
``--windows 3`` (about 9 minutes on 2 cores).

``--test removed-share``: the share of :func:`irtool.detect.removed_noise` (the median over 16 px blocks of what the
noise route's model removes against the block's own fine detail: near 1 for noise on a plain region, low for texture
it softens), per true type; then, for the windows on which the reading of ``--test removed-noise`` sends an image to
the noise route (noise floor from :data:`irtool.detect.NOISE_REMOVED_FLOOR_MIN` up to
:data:`irtool.detect.NOISE_FLOOR_MIN`, removed level from :data:`irtool.detect.NOISE_REMOVED_MIN`), the spread of
their share. Use with ``--textured`` for the frames filled with texture that the level alone takes for noise.

``--test streaks``: :func:`irtool.detect.streak_coherence` (how much of the fine detail runs in one direction: the
structure tensor's coherence over the whole image) per true type, and the share below
:data:`irtool.detect.STREAK_COHERENCE_MIN`; an image called rainy below it has no rain streaks, and ``--auto`` tests
it for noise (for rain: visible rain the test would take for something else).

``--test low-light-probability``: the bundled detector's probability of low light (its call, with the crops and the
vote, as ``--auto`` makes it), and the share below one half.

``--test haze-severity``, ``--test blur-severity``, ``--test noise-severity``, ``--test rain-severity``: the severity
the bundled detector gives the windows it calls hazy (blurred, noisy, rainy; the others are not counted), and the
share below :data:`irtool.detect.SLIGHT_SEVERITY` (0.25), the lowest severity the issue calls visible; ``--auto``
leaves a colour photo's haze call and any blur call rated below it.

``--test change``: how far ``--auto`` moves each window from itself, as the PSNR of its output against its input
(windows it copies are not counted), and the share below :data:`VISUALLY_LOSSLESS_PSNR` (an RMS change of 2.55 of
255 levels); for the degraded types, the share at or above it is the corrections a "too small to see, so copy"
test would give up (docs/auto-history.md "No visible change, no change": measured, not shipped). It runs the
routed restorers on every window: use ``--windows 2`` (about 45 minutes on 2 cores).

``--test tone-shift``: how far ``--auto`` moves the tone of each window it restores as a type whose removal should
keep it (noise, JPEG, blur, rain, low resolution; not low light or haze, and not after a whole-image correction):
:func:`tone_shift`, the mean absolute change of the 16 px block means in 8-bit levels, of the channel that moved
most; then, for the windows restored as their own type (what a test refusing large shifts would have to let through)
and for those restored as another, the spread and what a refusal above ``--tone-shift-max`` would catch (README
"Restorations that move the tone": measured, not shipped). Runs the routed restorers on every window: use
``--windows 1``.

``--test black-point``, ``--test midtones``, ``--test low-light-severity`` (cues against the dim highlights test's
harm; use with ``--where-dim --darkest``): the 1st percentile of the luma (:func:`irtool.detect.black_point`:
darkening pushes the darkest pixels to black; the share below :data:`irtool.detect.DIM_BLACK_POINT_MAX` is what the
test still brightens), the median luma (gamma darkening sinks the mid-tones far below the highlights) and the
bundled detector's severity read as low light (its crops' severities weighted by their probability of low light).
Each asks whether the darkened windows and the darkest windows of clean photos (a scene dark by nature) part
anywhere; the last two set no threshold, so their last column is empty.

``--test slight-black-point`` (with ``--where-called low-light``): the black point of the windows the bundled
detector rates slight as low light (severity below :data:`irtool.detect.SLIGHT_SEVERITY`; the others are not
counted). Among the darkened windows, those at or above :data:`irtool.detect.DIM_BLACK_POINT_MAX` are the ones
``--auto`` leaves dark as "dark by nature"; their count against all darkened windows called low light is its cost.

``--test slight-noise-floor`` (with ``--where-called low-light``): the noise floor of the windows the bundled
detector rates slight as low light (the others are not counted); those at or above
:data:`irtool.detect.NOISE_FLOOR_MIN` are the ones a noise floor test on such calls would denoise instead of
brighten (measured, not shipped: docs/auto-history.md "Noise under a slight low-light call").

``--test slight-tone-gaps`` (with ``--where-called low-light``): the tone gaps (:func:`irtool.detect.tone_gaps`) of
the windows the bundled detector rates slight as low light (the others are not counted). Among the darkened windows,
those below :data:`irtool.detect.TONE_GAPS_MIN` (or unreadable, counted as below) are the ones a rule leaving slight
low-light calls dark unless their histogram shows a darkening curve would leave dark; their count against all
darkened windows called low light is its cost (docs/auto-history.md "A slight low-light call without a darkening's
fingerprint").

``--test enlargement-dip``: how far the best exact fit of an enlargement stands below the fits of its neighbouring
sizes (:func:`irtool.degrade.enlargement.enlargement_dip`), the evidence :func:`~irtool.degrade.enlargement.
find_enlargement` needs at :data:`~irtool.degrade.enlargement.MIN_DIP` (-inf: no size fits exactly). For low
resolution, the share below it is the enlargements the search misses; for the others, the share at or above it is
the images it would take for enlargements (``--auto`` searches the images called blur).

``--test dip-routes``: for the windows ``--auto`` deblurs, the enlargement dip and the fit that gives it (its factor
and kernel), with what deblurring gained and what the low-resolution route gains instead when that fit is taken for
an enlargement (:func:`~irtool.degrade.enlargement.find_enlargement` at the window's own dip): whether an exact fit
that stands out less than :data:`~irtool.degrade.enlargement.MIN_DIP` can choose the route, and from what factor;
then, per true type, the windows the search finds at each lowered dip of :data:`DIP_ROUTES_DIPS` when it takes only
enlargements by at least each factor of :data:`DIP_ROUTES_FACTORS` (``find_enlargement(min_dip=, min_factor=)``, as a
rule would run it). ``--save-rows FILE`` writes every deblurred window's figures as JSON.

``--window-px LO HI``: random windows whose sides are drawn from LO to HI pixels (capped at the photo's) instead of
half to all of the photo's sides: small images, such as thumbnails and the held-out sets' 4 x 4 crops, where an
enlargement's fit stands out least.

``--where-called TYPE``: measure only the windows the bundled detector calls TYPE (``low-light``: where a test on
the detector's own low-light calls would act).

``--generator KIND=NAME``: every window of degradation KIND made by its registered generator NAME alone (e.g.
``haze=scattering``: where fog that blurs sits among blurred windows).

``--darkest``: one more clean row, the darkest window of each photo (lowest mean luma) at a half, a third and a
quarter of its sides: the low-key crops (shadows, dark foliage) a random window rarely is, where a darkening
generator and a scene that is dark by nature meet (``--test exposure``).

``--textured``: one more clean row, the most textured window of each photo at a third, a quarter and a fifth of its
sides (the one whose least detailed tenth of 16 px blocks holds the most fine detail,
:func:`irtool.detect.block_fine_detail`): a frame filled with grass, hair or bristles, which a random window
(at least half of each side) rarely is.

``--route TYPE=MODEL``: for the tests that run ``--auto``'s routes (``change``, ``tone-shift``, ``removed-noise``,
...), TYPE's images go to MODEL (a weights.toml entry or a weights file, e.g. a model just trained) instead of
weights.toml's route, as ``irtool eval --task auto --route`` sends them.

``--severity LO HI``: the degraded windows' severities (default 0.25-1, the issue's visible range; lower for the
faint degradations a pixel test meets that the detector misses).

``--where-dim``: measure only the windows whose highlight level is below :data:`irtool.detect.HIGHLIGHT_LEVEL_MAX`,
the images the dim highlights test would brighten, and count them per type (with ``--test
low-light-probability``: only those the detector calls clean or blurred, which the test overrules; how well the
detector's probability of low light separates, among those, darkened windows from dark scenes).
"""

from __future__ import annotations

import argparse
import math
import sys
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


#: ``--test change``: the PSNR of a change within the usual bound of a visually lossless one (2.55 levels RMS).
VISUALLY_LOSSLESS_PSNR = 40.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of clean training photos")
    parser.add_argument("--windows", type=int, default=6, help="random windows per photo and type")
    parser.add_argument("--synthesis", default="wide", choices=["default", "wide"])
    parser.add_argument("--test", default="veil",
                        choices=["veil", "noise", "exposure", "sharpness", "streaks", "low-light-probability",
                                 "haze-severity", "blur-severity", "noise-severity", "rain-severity", "change",
                                 "black-point", "midtones",
                                 "low-light-severity",
                                 "slight-black-point", "slight-noise-floor", "slight-tone-gaps", "enlargement-dip",
                                 "tone-shift", "haze-highlights", "relit-call", "deblurred-call",
                                 "chroma-noise", "removed-noise", "removed-share", "tone-gaps", "dip-routes"])
    parser.add_argument("--gray", action="store_true",
                        help="gray photos of the degraded scenes (each window's luma after degrading), as a gray "
                             "camera or a black-and-white conversion makes them")
    parser.add_argument("--darkest", action="store_true",
                        help="also measure the darkest window of each clean photo at 1/2, 1/3 and 1/4 of its sides")
    parser.add_argument("--textured", action="store_true",
                        help="also measure the most textured window of each clean photo at 1/3, 1/4 and 1/5 of its "
                             "sides")
    parser.add_argument("--route", action="append", default=[], metavar="TYPE=MODEL",
                        help="the tests that run --auto's routes: send TYPE to MODEL (a weights.toml entry or a "
                             "weights file) instead of weights.toml's route, as irtool eval --route does (repeatable)")
    parser.add_argument("--severity", type=float, nargs=2, default=(0.25, 1.0), metavar=("LO", "HI"),
                        help="severity range of the degraded windows (default 0.25 1)")
    parser.add_argument("--generator", action="append", default=[], metavar="KIND=NAME",
                        help="make every window of degradation KIND with its registered generator NAME (repeatable; "
                             "e.g. haze=scattering)")
    parser.add_argument("--where-dim", action="store_true",
                        help="measure only windows whose highlight level is below the dim highlights threshold")
    parser.add_argument("--where-called", metavar="TYPE",
                        help="measure only windows the bundled detector calls TYPE (e.g. low-light)")
    parser.add_argument("--window-px", type=int, nargs=2, metavar=("LO", "HI"),
                        help="random windows with sides of LO to HI pixels (capped at the photo's) instead of half to "
                             "all of the photo's sides")
    parser.add_argument("--save-rows", type=Path, metavar="FILE",
                        help="--test dip-routes: also write every deblurred window's figures to FILE (JSON)")
    parser.add_argument("--tone-shift-max", type=float, default=20.0,
                        help="--test tone-shift: the refusal threshold to count against (8-bit levels)")
    parser.add_argument("--detector", type=Path, metavar="FILE",
                        help="a detector checkpoint (the final.safetensors of irtool train --task detect) for the "
                             "tests that read the detector and for --where-called, instead of the bundled one "
                             "(thresholds set on one network's calls or severities must be set again for another)")
    args = parser.parse_args(argv)
    if args.save_rows is not None and args.test != "dip-routes":
        parser.error("--save-rows goes with --test dip-routes")
    generators: dict[str, str] = {}
    for item in args.generator:
        kind, sep, name = item.partition("=")
        if not sep or kind in generators:
            parser.error(f"--generator {item}: write KIND=NAME, one per degradation")
        generators[kind] = name

    import numpy as np
    import torch

    from irtool.data.datasets import check_generators
    from irtool.data.transforms import luma
    from irtool.degradations import CLEAN, detector_types
    from irtool.degrade.enlargement import MIN_DIP, enlargement_dip
    from irtool.detect import (
        DIM_BLACK_POINT_MAX,
        EDGE_SHARPNESS_MIN,
        HIGHLIGHT_LEVEL_MAX,
        NOISE_FLOOR_MIN,
        NOISE_REMOVED_FLOOR_MIN,
        NOISE_REMOVED_MIN,
        SCENE_STATISTICS,
        SLIGHT_SEVERITY,
        STREAK_COHERENCE_MIN,
        TONE_GAPS_MIN,
        VEIL_DARK_CHANNEL_MIN,
        black_point,
        chroma_noise_floor,
        edge_sharpness,
        highlight_level,
        median_dark_channel,
        noise_floor,
        removed_noise,
        scene_statistics,
        streak_coherence,
        tone_gaps,
    )
    from irtool.errors import UsageError
    from irtool.evaluate.benchmarks import folder_dataset
    from irtool.evaluate.detection import detection_input
    from irtool.evaluate.runner import read_uint8
    from irtool.restore import EXPOSURE_CHECKED_TYPES
    from irtool.train.vote import _window

    try:
        generators = check_generators(generators)  # an unknown kind or generator fails before any work
    except UsageError as exc:
        parser.error(str(exc))

    def low_light_probability(image: torch.Tensor) -> float:
        detection = detector.detect(image)
        if args.where_dim and detection.type not in EXPOSURE_CHECKED_TYPES:
            return float("nan")  # called low light (or anything the dim highlights test never overrules)
        return detection.probabilities["low-light"]

    def low_light_severity(image: torch.Tensor) -> float:
        return detector.severity_as(image, "low-light")

    def where_slight(measure_slight):
        def measure(image: torch.Tensor) -> float:
            if detector.severity_as(image, "low-light") >= SLIGHT_SEVERITY:
                return float("nan")  # rated visible: not a window the test applies to
            return measure_slight(image)
        return measure

    def readable_tone_gaps(image: torch.Tensor) -> float:
        share = tone_gaps(image)
        return -1.0 if math.isnan(share) else share  # unreadable counts as no fingerprint, not as no window

    def dip(image: torch.Tensor) -> float:
        value = enlargement_dip(image.permute(1, 2, 0).numpy())
        return -math.inf if math.isnan(value) else value  # no exact fit: found at no threshold

    def luma_quantile(name: str):
        index = SCENE_STATISTICS.index(name)
        return lambda image: float(scene_statistics(image)[index])

    def severity_where_called(kind: str):
        def severity(image: torch.Tensor) -> float:
            detection = detector.detect(image)
            return detection.severity if detection.type == kind else float("nan")  # only calls of kind count
        return severity

    # --test change: the clean window being measured, and per true type the gain (dB over the input, against the
    # clean window) of each degraded window changed by less than the threshold.
    current: dict[str, Any] = {}

    def gain_over_input(output: np.ndarray, pixels: np.ndarray, *, if_clean: float) -> float:
        """The gain (dB) of ``output`` over ``pixels`` against the current clean window; ``if_clean`` for a clean
        window, which has no input error to gain over."""
        if current["kind"] == CLEAN:
            return if_clean
        clean_window = current["window"][:pixels.shape[0], :pixels.shape[1]]  # enlargements may crop
        return psnr(output, clean_window) - psnr(pixels, clean_window)
    small_change_gains: dict[str, list[float]] = {}

    def change(image: torch.Tensor) -> float:
        pixels = image.permute(1, 2, 0).numpy()
        outcome = restorer.auto_restore(pixels)
        if outcome.pixels is None:
            return float("nan")  # copies are not counted
        closeness = psnr(outcome.pixels, pixels)
        if closeness >= VISUALLY_LOSSLESS_PSNR and current["kind"] != CLEAN:
            small_change_gains.setdefault(current["row"], []).append(
                gain_over_input(outcome.pixels, pixels, if_clean=0.0))
        return closeness

    # --test tone-shift: per true type, the shifts of windows restored as that type and as another (with the gain).
    shifts_right: dict[str, list[float]] = {}
    shifts_other: dict[str, list[tuple[float, float]]] = {}

    def tone(image: torch.Tensor) -> float:
        pixels = image.permute(1, 2, 0).numpy()
        outcome = restorer.auto_restore(pixels)
        if (outcome.pixels is None or outcome.decided in (None, CLEAN, *TONE_MOVING_TYPES)
                or (outcome.loaded is not None and outcome.loaded.preset.whole_image)):
            return float("nan")  # copied, or a correction meant to move the tone: not what such a test judges
        shift = tone_shift(pixels, outcome.pixels)
        if math.isnan(shift):
            return shift  # resized (super-resolved) or too small for a block
        if outcome.decided == current["kind"]:
            shifts_right.setdefault(current["row"], []).append(shift)
        else:
            gain = gain_over_input(outcome.pixels, pixels, if_clean=0.0)
            shifts_other.setdefault(current["row"], []).append((shift, gain))
        return shift

    # --test haze-highlights: per true type, (highlight drop, gain) of each window --auto dehazes.
    haze_drops: dict[str, list[tuple[float, float]]] = {}

    def haze_highlights(image: torch.Tensor) -> float:
        pixels = image.permute(1, 2, 0).numpy()
        outcome = restorer.auto_restore(pixels)
        if outcome.pixels is None or outcome.decided != "haze":
            return float("nan")  # not dehazed: not what the test judges
        restored = torch.from_numpy(np.ascontiguousarray(outcome.pixels)).permute(2, 0, 1)
        drop = (highlight_level(image) - highlight_level(restored)) * 255.0
        gain = gain_over_input(outcome.pixels, pixels, if_clean=-math.inf)  # a clean window changed is worse
        haze_drops.setdefault(current["row"], []).append((drop, gain))
        return drop

    # --test relit-call / deblurred-call: per (true type, who made the call), the detector's calls on the windows
    # --auto brightened or deblurred, with the gains.
    rejudged_calls: dict[tuple[str, str], list[tuple[str, float]]] = {}

    def relit_call(image: torch.Tensor) -> float:
        from irtool.restore import Progress

        pixels = image.permute(1, 2, 0).numpy()
        outcome = restorer.auto_restore(pixels)
        if (outcome.pixels is None or outcome.decided != "low-light" or outcome.loaded is None
                or not outcome.loaded.preset.whole_image):
            return float("nan")  # not brightened by a whole-image correction
        # The correction before any follow-up route: the output itself unless a follow-up ran (its model label then
        # names both), which is the only case that runs the correction again.
        corrected = (outcome.pixels if outcome.model == outcome.loaded.name
                     else restorer._run_auto(outcome.loaded, pixels, Progress()))
        again = restorer._detect(torch.from_numpy(np.ascontiguousarray(corrected)).permute(2, 0, 1))
        gain = gain_over_input(corrected, pixels, if_clean=-math.inf)
        assert outcome.detection is not None
        caller = "detector" if outcome.detection.type == "low-light" else "pixel tests"
        rejudged_calls.setdefault((current["row"], caller), []).append((again.type, gain))
        return again.probabilities["haze"]

    def deblurred_call(image: torch.Tensor) -> float:
        # Does fog the detector calls blurred read as haze once deblurred, so that a follow-up haze route could take it?
        pixels = image.permute(1, 2, 0).numpy()
        outcome = restorer.auto_restore(pixels)
        if outcome.pixels is None or outcome.decided != "blur" or outcome.detection is None:
            return float("nan")  # not deblurred
        again = restorer._detect(torch.from_numpy(np.ascontiguousarray(outcome.pixels)).permute(2, 0, 1))
        gain = gain_over_input(outcome.pixels, pixels, if_clean=-math.inf)
        rejudged_calls.setdefault((current["row"], "detector"), []).append((again.type, gain))
        return again.probabilities["haze"]

    # --test dip-routes: per deblurred window, (dip, factor, kernel, deblurring's gain, the enlargement route's gain).
    dip_routes_rows: dict[str, list[tuple[float, float, str, float, float]]] = {}
    # ... and the factor (smaller axis; NaN: none) the search finds at each lowered dip of DIP_ROUTES_DIPS when it
    # takes only factors from each of DIP_ROUTES_FACTORS.
    dip_routes_factors: dict[str, list[list[float]]] = {}

    def dip_routes(image: torch.Tensor) -> float:
        from irtool.degrade.enlargement import find_enlargement
        from irtool.restore import UNCHANGED_RMS, Progress, _as_low_resolution, change_rms

        pixels = image.permute(1, 2, 0).numpy()
        outcome = restorer.auto_restore(pixels)
        if outcome.pixels is None or outcome.decided != "blur" or outcome.detection is None:
            return float("nan")  # not deblurred
        dip_found = enlargement_dip(pixels)
        # A clean window has no error to gain over: its rows hold each output's PSNR against the window itself.
        clean = current["kind"] == CLEAN
        deblurred = psnr(outcome.pixels, pixels) if clean else gain_over_input(outcome.pixels, pixels, if_clean=0.0)
        factor, kernel, enlarged = math.nan, "-", math.nan
        found = find_enlargement(pixels, min_dip=dip_found - 1e-9) if math.isfinite(dip_found) else None
        if found is not None:
            small_h, small_w, kernel = found
            factor = min(pixels.shape[0] / small_h, pixels.shape[1] / small_w)
            name = restorer.route_name(_as_low_resolution(outcome.detection))
            if name is not None:
                output = restorer._run_auto(restorer._load_route(name), pixels, Progress(), found)
                change = change_rms(pixels, output)
                output = pixels if change is not None and change <= UNCHANGED_RMS else output  # --auto copies it
                enlarged = psnr(output, pixels) if clean else gain_over_input(output, pixels, if_clean=0.0)
        dip_routes_rows.setdefault(current["row"], []).append((dip_found, factor, kernel, deblurred, enlarged))
        factors = []  # the search as a rule would run it: a lowered dip, and only factors from a given least factor
        for least in DIP_ROUTES_FACTORS:
            for lowered in DIP_ROUTES_DIPS:
                at = find_enlargement(pixels, min_dip=lowered, min_factor=least) if dip_found >= lowered else None
                factors.append(math.nan if at is None else min(pixels.shape[0] / at[0], pixels.shape[1] / at[1]))
        dip_routes_factors.setdefault(current["row"], []).append(factors)
        return dip_found if math.isfinite(dip_found) else -math.inf  # no exact fit: below any threshold

    # --test removed-noise: what the noise route's model removes where it removes least (irtool.detect.removed_noise).
    def removed_by_noise_route(image: torch.Tensor):
        loaded = restorer._load_route(restorer.route_choice("noise").used)
        return removed_noise(image, lambda pixels: restore_same_size(loaded, pixels))

    def noise_removed(image: torch.Tensor) -> float:
        return removed_by_noise_route(image).level

    # --test removed-share: the share of what it removes, and per row the shares of the windows the level sends on.
    shares_sent: dict[str, list[float]] = {}

    def removed_share(image: torch.Tensor) -> float:
        removed = removed_by_noise_route(image)
        if (NOISE_REMOVED_FLOOR_MIN <= noise_floor(image) < NOISE_FLOOR_MIN
                and removed.level >= NOISE_REMOVED_MIN):
            shares_sent.setdefault(current["row"], []).append(removed.share)
        return removed.share

    if args.test in ("change", "tone-shift", "haze-highlights", "relit-call", "deblurred-call", "removed-noise",
                     "removed-share", "dip-routes"):
        from irtool.engine.host import retain_freed_host_memory
        from irtool.metrics import psnr
        from irtool.restore import BatchRestorer, RestoreRequest, restore_same_size
        from irtool.zoo import EngineSettings

        retain_freed_host_memory()  # as the irtool command runs
        routes = tuple(tuple(item.split("=", 1)) for item in args.route)
        if any(len(route) != 2 for route in routes):
            parser.error("--route takes TYPE=MODEL")
        restorer = BatchRestorer(RestoreRequest(auto=True, routes=routes),
                                 engine=EngineSettings(device="cpu"))
        restorer.prepare()
    if args.where_called is not None and args.where_called not in detector_types():
        parser.error(f"--where-called {args.where_called}: not one of {', '.join(detector_types())}")
    if args.test in ("low-light-probability", "haze-severity", "blur-severity", "noise-severity", "rain-severity",
                     "low-light-severity",
                     "slight-black-point", "slight-noise-floor", "slight-tone-gaps") or args.where_called:
        from irtool.detect import load_detector, load_detector_file
        from irtool.zoo import EngineSettings, ModelZoo

        zoo = ModelZoo(EngineSettings(device="cpu"))
        detector = load_detector(zoo) if args.detector is None else load_detector_file(zoo, args.detector)
    measure, measured, threshold = {
        "veil": (median_dark_channel, "median dark channel", VEIL_DARK_CHANNEL_MIN),
        "noise": (noise_floor, "noise floor (8-bit levels)", NOISE_FLOOR_MIN),
        "tone-gaps": (tone_gaps, "tone gaps (share of empty highlight levels where the shadows are dense)",
                      TONE_GAPS_MIN),
        "removed-noise": (noise_removed, "what the noise route's model removes where it removes least (luma RMS "
                          "of the least-changed tenth of 16 px blocks, 8-bit levels)", NOISE_REMOVED_MIN),
        "removed-share": (removed_share, "the share of each 16 px block's fine detail the noise route's model "
                          "removes (median over blocks)", None),
        "chroma-noise": (chroma_noise_floor, "colour noise floor (Cb/Cr, 8-bit levels)", None),
        "exposure": (highlight_level, "highlight level (99th percentile of luma)", HIGHLIGHT_LEVEL_MAX),
        "sharpness": (edge_sharpness, "edge sharpness", EDGE_SHARPNESS_MIN),
        "streaks": (streak_coherence, "streak coherence", STREAK_COHERENCE_MIN),
        "low-light-probability": (low_light_probability, "the bundled detector's probability of low light", 0.5),
        "haze-severity": (severity_where_called("haze"), "the bundled detector's haze severity, where it calls haze",
                          SLIGHT_SEVERITY),
        "blur-severity": (severity_where_called("blur"), "the bundled detector's blur severity, where it calls blur",
                          SLIGHT_SEVERITY),
        "noise-severity": (severity_where_called("noise"), "the bundled detector's noise severity, where it calls "
                           "noise", SLIGHT_SEVERITY),
        "rain-severity": (severity_where_called("rain"), "the bundled detector's rain severity, where it calls rain",
                          SLIGHT_SEVERITY),
        "change": (change, "PSNR of --auto's output against its input (dB), where it changes the window",
                   VISUALLY_LOSSLESS_PSNR),
        "black-point": (black_point, "black point (1st percentile of luma)", DIM_BLACK_POINT_MAX),
        "midtones": (luma_quantile("luma_p50"), "mid-tones (median luma)", None),
        "low-light-severity": (low_light_severity, "the bundled detector's severity read as low light", None),
        "slight-black-point": (where_slight(black_point),
                               "black point where the bundled detector rates low light slight", DIM_BLACK_POINT_MAX),
        "slight-noise-floor": (where_slight(noise_floor),
                               "noise floor where the bundled detector rates low light slight", NOISE_FLOOR_MIN),
        "slight-tone-gaps": (where_slight(readable_tone_gaps),
                             "tone gaps where the bundled detector rates low light slight (unreadable: -1)",
                             TONE_GAPS_MIN),
        "enlargement-dip": (dip, "enlargement dip (log10 below the neighbouring sizes' fits; -inf: no exact fit)",
                            MIN_DIP),
        "tone-shift": (tone, "tone shift of --auto's restoration as a tone-keeping type (8-bit levels)",
                       args.tone_shift_max),
        "relit-call": (relit_call, "the detector's probability of haze on --auto's brightened window", None),
        "deblurred-call": (deblurred_call, "the detector's probability of haze on --auto's deblurred window", None),
        "dip-routes": (dip_routes, "enlargement dip of the windows --auto deblurs (-inf: no exact fit)", MIN_DIP),
        "haze-highlights": (haze_highlights, "how far --auto's haze correction lowers the highlight level (8-bit "
                            "levels), where it dehazes", None),
    }[args.test]
    values: dict[str, list[float]] = {kind: [] for kind in detector_types()}
    darkest_row, textured_row = "clean, darkest windows", "clean, most textured windows"
    if args.darkest:
        values[darkest_row] = []
    if args.textured:
        values[textured_row] = []

    def as_input(pixels: np.ndarray) -> torch.Tensor:
        if args.gray:
            pixels = np.round(luma(pixels) * 255) / 255
        return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)

    seen: dict[str, int] = {kind: 0 for kind in values}

    def record(kind: str, pixels: np.ndarray) -> None:
        image = as_input(pixels)
        seen[kind] += 1
        dim = not args.where_dim or highlight_level(image) < HIGHLIGHT_LEVEL_MAX
        if dim and (args.where_called is None or detector.detect(image).type == args.where_called):
            value = measure(image)
            if not math.isnan(value):  # NaN: not a window the test applies to
                values[kind].append(value)

    for sample in folder_dataset(args.data).samples:
        clean = read_uint8(sample.gt, mode="rgb").astype(np.float32) / np.float32(255.0)
        rng = np.random.default_rng([0, zlib.crc32(sample.name.encode("utf-8"))])
        if args.darkest:
            for fraction in (2, 3, 4):
                darkest = _darkest_window(clean, fraction)
                current.update(kind=CLEAN, window=darkest, row=darkest_row)  # a clean window, in a row of its own
                record(darkest_row, darkest)
        if args.textured:
            for fraction in (3, 4, 5):
                textured = _textured_window(clean, fraction)
                current.update(kind=CLEAN, window=textured, row=textured_row)
                record(textured_row, textured)
        for kind in detector_types():
            for _ in range(args.windows):
                window = _window(clean, rng) if args.window_px is None else _window_px(clean, rng, *args.window_px)
                current.update(kind=kind, window=window, row=kind)
                severity = 0.0 if kind == CLEAN else float(rng.uniform(*args.severity))
                pixels, _ = detection_input(window, kind, severity, rng=rng, synthesis=args.synthesis,
                                            generator=generators.get(kind))
                record(kind, pixels)
    print(f"{args.data}: {measured} per true type, {args.windows} windows per photo, "
          f"severity {args.severity[0]:g}-{args.severity[1]:g}, "
          f"{args.synthesis} generators"
          f"{''.join(f', {kind} only by {name}' for kind, name in generators.items())}{', gray' if args.gray else ''}"
          f"{f', only windows with highlights below {HIGHLIGHT_LEVEL_MAX}' if args.where_dim else ''}"
          f"{f', only windows the detector calls {args.where_called}' if args.where_called else ''}; "
          f"threshold {threshold if threshold is not None else 'none (a measurement)'}\n")
    print("| true type | samples | min | 2% | 10% | 50% | 90% | 98% | max | below the threshold |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, found in values.items():
        samples = f"{len(found)} of {seen[kind]}" if len(found) != seen[kind] else str(len(found))
        if not found:
            print(f"| {kind} | {samples} |" + " - |" * 8)
            continue
        with np.errstate(invalid="ignore"):
            q = np.quantile(found, [0.0, 0.02, 0.1, 0.5, 0.9, 0.98, 1.0])
        q = np.where(np.isnan(q), -np.inf, q)  # interpolated from a -inf sample (enlargement-dip: no exact fit)
        below = "-" if threshold is None else f"{float(np.mean(np.asarray(found) < threshold)):.1%}"
        print(f"| {kind} | {samples} | " + " | ".join(f"{v:.3f}" for v in q) + f" | {below} |")
    if args.test == "removed-share":
        print(f"\nThe windows the removed level sends to the noise route (noise floor {NOISE_REMOVED_FLOOR_MIN:g} to "
              f"{NOISE_FLOOR_MIN:g}, removed level from {NOISE_REMOVED_MIN:g}), and their share:\n")
        print("| true type | sent | min | 50% | max |")
        print("|---|---:|---:|---:|---:|")
        for kind in values:
            sent = shares_sent.get(kind, [])
            spread = " | ".join(f"{v:.3f}" for v in np.quantile(sent, [0.0, 0.5, 1.0])) if sent else "- | - | -"
            print(f"| {kind} | {len(sent)} of {seen[kind]} | {spread} |")
    if args.test == "tone-shift":
        print(f"\nWindows restored as their own type (the test must let these through), and as another type (with "
              f"the gain over the input, against the clean window); refused: above {args.tone_shift_max:g}:\n")
        print("| true type | restored as | windows | 50% | 98% | max | refused | refused and worse |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for kind in values:
            for label, rows in (("itself", [(v, 0.0) for v in shifts_right.get(kind, [])]),
                                ("another type", shifts_other.get(kind, []))):
                if not rows:
                    continue
                found = np.array([v for v, _ in rows])
                refused = [(v, g) for v, g in rows if v > args.tone_shift_max]
                worse = sum(1 for _, g in refused if g < -0.1) if label == "another type" else "-"
                print(f"| {kind} | {label} | {len(rows)} | {np.quantile(found, 0.5):.2f} | "
                      f"{np.quantile(found, 0.98):.2f} | {found.max():.2f} | {len(refused)} | {worse} |")
    if args.test in ("relit-call", "deblurred-call"):
        done, kind_called = ("brightened", "low light") if args.test == "relit-call" else ("deblurred", "blur")
        print(f"\nWindows {done}, by who called {kind_called}, with the detector's call on the {done} window and "
              "the gain over the input (dB, against the clean window):\n")
        print(f"| true type | called by | {done} | then called | mean gain | worse |")
        print("|---|---|---:|---|---:|---:|")
        for (kind, caller), rows in sorted(rejudged_calls.items()):
            calls: dict[str, list[float]] = {}
            for call, gain in rows:
                calls.setdefault(call, []).append(gain)
            for call, gains in sorted(calls.items()):
                finite = [g for g in gains if math.isfinite(g)]
                mean = f"{np.mean(finite):+.2f}" if finite else "-"
                print(f"| {kind} | {caller} | {len(gains)} | {call} | {mean} | {sum(g < -0.1 for g in gains)} |")
    if args.test == "dip-routes":
        print("\nWindows --auto deblurs, by the dip of their best exact fit and that fit's factor (the smaller axis's),"
              " with deblurring's gain and the gain if that fit were taken for an enlargement and super-resolved "
              "(dB against the clean window; clean windows: PSNR against the window itself; no fit: the search "
              "finds none at the window's own dip):\n")
        print("| true type | dip | factor | windows | deblurred: mean | worse | as an enlargement: mean | worse |")
        print("|---|---|---|---:|---:|---:|---:|---:|")
        dip_edges = (-math.inf, 0.1, 0.2, 0.3, 0.4, MIN_DIP, math.inf)
        factor_edges = (1.0, 1.75, 2.25, 2.75, 3.5, math.inf)

        def band(value: float, edges: tuple[float, ...]) -> str:
            for low, high in zip(edges[:-1], edges[1:], strict=True):
                if low <= value < high:
                    return f"{low:g}-{high:g}"
            return "-"

        for kind, rows in dip_routes_rows.items():
            groups: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for dip_found, factor, _, deblurred, enlarged in rows:
                key = (band(dip_found, dip_edges) if math.isfinite(dip_found) else "no fit",
                       band(factor, factor_edges) if math.isfinite(factor) else "no fit")
                groups.setdefault(key, []).append((deblurred, enlarged))
            for (dips, factors), pairs in sorted(groups.items()):
                values = np.array(pairs)
                taken = values[np.isfinite(values[:, 1]), 1]
                print(f"| {kind} | {dips} | {factors} | {len(pairs)} | {values[:, 0].mean():+.2f} | "
                      f"{int(np.sum(values[:, 0] < -0.1)) if kind != CLEAN else '-'} | "
                      f"{f'{taken.mean():+.2f}' if len(taken) else '-'} | "
                      f"{int(np.sum(taken < -0.1)) if kind != CLEAN and len(taken) else '-'} |")
        print("\nThe search with a lowered dip, taking only enlargements by at least a given factor (both axes): "
              "per true type, the deblurred windows in which it finds one, and the smallest factor found (smaller "
              "axis):\n")
        print("| true type | factor from | lowered dip | found | smallest factor |")
        print("|---|---:|---:|---:|---:|")
        for kind, per_window in dip_routes_factors.items():
            table = np.array(per_window, dtype=np.float64).reshape(len(per_window), len(DIP_ROUTES_FACTORS),
                                                                   len(DIP_ROUTES_DIPS))
            for i, least in enumerate(DIP_ROUTES_FACTORS):
                for j, lowered in enumerate(DIP_ROUTES_DIPS):
                    found = table[:, i, j][np.isfinite(table[:, i, j])]
                    if len(found):
                        print(f"| {kind} | {least:g} | {lowered:.2f} | {len(found)} of {len(table)} | "
                              f"{found.min():.2f} |")
        if args.save_rows is not None:
            import json

            args.save_rows.write_text(json.dumps({
                "lowered_dips": list(DIP_ROUTES_DIPS), "least_factors": list(DIP_ROUTES_FACTORS),
                "columns": ["dip", "factor at own dip", "kernel", "deblurred gain", "as an enlargement gain",
                            "factor found from each least factor (outer) at each lowered dip (inner)"],
                "rows": {kind: [[*row, factors] for row, factors in zip(rows, dip_routes_factors[kind], strict=True)]
                         for kind, rows in dip_routes_rows.items()}}, allow_nan=True, indent=1))
    if args.test == "haze-highlights":
        print("\nWindows dehazed, with the gain over the input (dB, against the clean window):\n")
        print("| true type | dehazed | drop 50% | drop 98% | drop max | mean gain | worse |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for kind, rows in haze_drops.items():
            drops, gains = np.array([d for d, _ in rows]), np.array([g for _, g in rows])
            finite = gains[np.isfinite(gains)]
            mean = f"{finite.mean():+.2f}" if len(finite) else "-"
            print(f"| {kind} | {len(rows)} | {np.quantile(drops, 0.5):.1f} | {np.quantile(drops, 0.98):.1f} | "
                  f"{drops.max():.1f} | {mean} | {int(np.sum(gains < -0.1))} |")
    if args.test == "change":
        print(f"\nDegraded windows changed by {VISUALLY_LOSSLESS_PSNR:g} dB or more (too little to see), and what "
              "that change gained:\n")
        print("| true type | windows | mean gain (dB) | least | most |")
        print("|---|---:|---:|---:|---:|")
        for kind, gains in small_change_gains.items():
            print(f"| {kind} | {len(gains)} | {np.mean(gains):+.2f} | {min(gains):+.2f} | {max(gains):+.2f} |")
    return 0


#: ``--test dip-routes``: the lowered dips at which the search is tried on each deblurred window.
DIP_ROUTES_DIPS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
#: ... and the least factors (both axes) it is asked for.
DIP_ROUTES_FACTORS = (2.5, 2.75, 3.0)

#: ``--test tone-shift``: the types whose correction exists to move the tone (not judged).
TONE_MOVING_TYPES = ("low-light", "haze")
#: ``--test tone-shift``: the block side (pixels) over which :func:`tone_shift` compares means.
TONE_BLOCK = 16


def tone_shift(before, after) -> float:
    """How far a restoration moved an image's tone: the mean absolute difference of the two images' 16 px block
    means, in 8-bit levels, for the channel that moved most (float HxWxC in [0, 1]); NaN when their shapes differ or
    the image holds no whole block."""
    import numpy as np

    h, w = before.shape[0] // TONE_BLOCK * TONE_BLOCK, before.shape[1] // TONE_BLOCK * TONE_BLOCK
    if before.shape != after.shape or h == 0 or w == 0:
        return float("nan")
    difference = np.subtract(after[:h, :w], before[:h, :w], dtype=np.float32).reshape(
        h // TONE_BLOCK, TONE_BLOCK, w // TONE_BLOCK, TONE_BLOCK, -1)
    return float(np.abs(difference.mean(axis=(1, 3), dtype=np.float64)).mean(axis=(0, 1)).max() * 255.0)


def _window_px(image, rng, low: int, high: int):
    """A random window of ``image`` whose sides are drawn from ``low`` to ``high`` pixels (capped at the image's)."""
    height, width = image.shape[:2]
    h, w = (min(side, int(rng.integers(low, high + 1))) for side in (height, width))
    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    return image[top : top + h, left : left + w].copy()


def _darkest_window(image, fraction: int):
    """The window of ``image`` (HxWx3 float) a ``fraction``-th of its sides with the lowest mean luma, searched on a
    stride of an eighth of the window."""
    import numpy as np

    from irtool.data.transforms import luma

    height, width = image.shape[:2]
    h, w = max(1, height // fraction), max(1, width // fraction)
    plane = luma(image)[..., 0]
    # Window sums from the summed-area table: every placement on the stride in one pass.
    table = np.pad(plane.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    tops, lefts = np.arange(0, height - h + 1, max(1, h // 8)), np.arange(0, width - w + 1, max(1, w // 8))
    sums = (table[tops[:, None] + h, lefts[None] + w] - table[tops[:, None], lefts[None] + w]
            - table[tops[:, None] + h, lefts[None]] + table[tops[:, None], lefts[None]])
    row, col = np.unravel_index(int(np.argmin(sums)), sums.shape)
    top, left = int(tops[row]), int(lefts[col])
    return np.ascontiguousarray(image[top : top + h, left : left + w])


def _textured_window(image, fraction: int):
    """The window of ``image`` (HxWx3 float) a ``fraction``-th of its sides whose least detailed tenth of 16 px
    blocks holds the most fine detail (:func:`irtool.data.datasets.least_fine_detail`, the pick of ``clean_pick =
    "textured"``), searched on a stride of a quarter of the window: the frame most filled with texture."""
    import numpy as np

    from irtool.data.datasets import least_fine_detail

    height, width = image.shape[:2]
    h, w = max(1, height // fraction), max(1, width // fraction)
    levels = image * np.float32(255.0)
    placements = [(top, left) for top in range(0, height - h + 1, max(1, h // 4))
                  for left in range(0, width - w + 1, max(1, w // 4))]
    top, left = max(placements, key=lambda at: least_fine_detail(levels[at[0]:at[0] + h, at[1]:at[1] + w]))
    return np.ascontiguousarray(image[top : top + h, left : left + w])


if __name__ == "__main__":
    raise SystemExit(main())
