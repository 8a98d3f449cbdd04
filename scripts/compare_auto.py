#!/usr/bin/env python3
"""Read saved ``irtool eval --task auto --json`` reports: one report's tables, or a candidate against a baseline.

    .venv/bin/python scripts/compare_auto.py runs/evals/auto34_heldout40c_streaks.json            # its tables
    .venv/bin/python scripts/compare_auto.py BASELINE.json CANDIDATE.json                          # before -> after
    .venv/bin/python scripts/compare_auto.py BASELINE.json SUBSET.json --patch --save MERGED.json  # a subset run
    .venv/bin/python scripts/compare_auto.py BASELINE.json --write-subset runs/D_jpeg --decided jpeg  # its folder

With one report it prints what ``irtool eval --task auto`` printed (per true type: named, decided right, PSNR,
gain, made worse; what ``--auto`` acted on; the detector's confusion matrix and calibration). With two it prints,
per true type, the mean gain, the images made worse, the right decisions and the images left unchanged before and
after, the degraded images made worse anew (worse than their input and more than 0.1 dB below their gain before:
a count a change of a few hundredths cannot move, unlike the made-worse line), then every image whose decision,
model or gain (by more than 0.05 dB) changed: how a candidate is read against the shipped run under the README's
rules (``--quiet``: without that list). ``--exclude TEXT`` leaves out
every image whose path contains TEXT (e.g. one photo's crops, to see how much of a figure that photo makes).
``--patch``: the candidate ran only on the images it can change (a folder of links to them); its results replace
the baseline's for those images and the comparison covers the whole baseline; ``--save FILE`` writes that merged
report, which reads like any other. ``--write-subset DIR --decided TYPE`` writes that folder of links for one
report: the images it decided as TYPE (repeatable; ``--detected TYPE``: also those the detector called TYPE,
whatever was decided; ``--where-tone-gaps``: only those whose tone gaps reach ``irtool.detect.TONE_GAPS_MIN``),
every clean original, and the manifest's lines for them (a candidate that changes only what ``--auto`` does with
TYPE calls can change only those images). ``--worse-than DB`` lists, for each report given, the images ``--auto``
made more than DB dB worse than their input, by route (what it restored them as) and the detector's call (a
different call: a pixel test overruled it), worst first: where the harm that most erodes trust sits.

    .venv/bin/python scripts/compare_auto.py runs/evals/A.json runs/evals/B.json --worse-than 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json",
                        help="one report (its tables) or two (baseline, candidate)")
    parser.add_argument("--quiet", action="store_true", help="with two reports: leave out the changed images")
    parser.add_argument("--exclude", action="append", default=[], metavar="TEXT",
                        help="leave out images whose path contains TEXT (repeatable)")
    parser.add_argument("--patch", action="store_true",
                        help="the candidate scored a subset: read it as the baseline with those images replaced")
    parser.add_argument("--save", type=Path, metavar="MERGED.json", help="with --patch: write the merged report")
    parser.add_argument("--write-subset", type=Path, metavar="DIR",
                        help="with one report and --decided or --detected: write a labelled folder of links to "
                             "those images")
    parser.add_argument("--decided", metavar="TYPE", action="append", default=[],
                        help="with --write-subset: the decision whose images to take (repeatable)")
    parser.add_argument("--detected", metavar="TYPE", action="append", default=[],
                        help="with --write-subset: also the images the detector called TYPE (repeatable)")
    parser.add_argument("--where-tone-gaps", action="store_true",
                        help="with --write-subset: only the images whose irtool.detect.tone_gaps reads TONE_GAPS_MIN "
                             "or more (the ones the tone-gaps test can move)")
    parser.add_argument("--worse-than", type=float, metavar="DB",
                        help="list, for each report, the images made more than DB dB worse, by route")
    args = parser.parse_args(argv)
    if args.worse_than is not None:
        from irtool.evaluate.auto import AutoReport

        if args.worse_than < 0:
            parser.error("--worse-than takes a positive number of dB")
        if args.patch or args.save or args.write_subset or args.exclude:
            parser.error("--worse-than reads each report as saved: no --patch, --save, --write-subset or --exclude")
        print("\n\n".join(harms(AutoReport.load(path), args.worse_than) for path in args.reports))
        return 0
    chooses = bool(args.decided or args.detected)
    if (args.write_subset is None) == chooses or (args.write_subset and len(args.reports) != 1):
        parser.error("--write-subset goes with --decided or --detected, and one report")
    if len(args.reports) > 2:
        parser.error("give one report, or two to compare")
    if (args.patch or args.save) and len(args.reports) != 2:
        parser.error("--patch and --save need two reports (baseline, subset)")
    if args.save and not args.patch:
        parser.error("--save goes with --patch")

    from irtool.errors import UsageError
    from irtool.evaluate.auto import AutoReport, compare_reports

    try:
        reports = [AutoReport.load(path) for path in args.reports]
        if args.write_subset:
            print(write_subset(reports[0], args.decided, args.write_subset, tone_gaps=args.where_tone_gaps,
                               detected=args.detected))
            return 0
        if args.patch:
            reports[1] = reports[0].patched(reports[1])
            if args.save:
                reports[1].save(args.save)
        for report in reports:
            report.samples = [s for s in report.samples if not any(text in s.image for text in args.exclude)]
            if not report.samples:
                raise UsageError(f"--exclude leaves no image of {report.source}")
        print(reports[0].to_markdown() if len(reports) == 1 else
              compare_reports(reports[0], reports[1], changed=not args.quiet))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def harms(report, threshold: float) -> str:
    """Markdown: ``report``'s images made more than ``threshold`` dB worse, grouped by (route, detector's call)
    with the largest total loss first, and each image, worst first."""
    degraded = [s for s in report.samples if s.true_type != "clean"]  # a clean image has no input error to lose to
    worse = sorted((s for s in degraded if s.gain < -threshold), key=lambda s: s.gain)
    lines = [f"{report.source}: {len(worse)} of {len(degraded)} degraded images made more than {threshold:g} dB "
             "worse"]
    groups: dict[tuple[str, str], list] = {}
    for sample in worse:
        groups.setdefault((str(sample.decided), str(sample.detected)), []).append(sample)
    if groups:
        lines += ["", "| restored as | detector called | images | total loss (dB) | worst (dB) |",
                  "|---|---|---:|---:|---:|"]
        for (route, call), group in sorted(groups.items(), key=lambda item: sum(s.gain for s in item[1])):
            lines.append(f"| {route} | {call} | {len(group)} | {sum(s.gain for s in group):+.1f} | "
                         f"{group[0].gain:+.2f} |")
        lines += [""] + [f"- {s.image}: {s.decided} (called {s.detected}), {s.gain:+.2f} dB" for s in worse]
    return "\n".join(lines)


def write_subset(report, decided: list[str], out: Path, *, tone_gaps: bool = False,
                 detected: list[str] = ()) -> str:
    """Links under ``out`` to the images of ``report``'s labelled folder it decided as one of ``decided`` or the
    detector called one of ``detected`` (with ``tone_gaps``: only those reading :data:`irtool.detect.TONE_GAPS_MIN`
    or more) and to every clean original, with the manifest filtered to them; returns a one-line summary."""
    import json

    from irtool.errors import UsageError
    from irtool.io import atomic_write_text

    source = Path(report.source.split(" (")[0])  # a merged report names its parts after the folder
    if not (source / "manifest.json").is_file():
        raise UsageError(f"{source} has no manifest.json")
    chosen = {s.image for s in report.samples if s.decided in decided or s.detected in detected}
    if tone_gaps:
        import numpy as np
        import torch

        from irtool.detect import TONE_GAPS_MIN
        from irtool.detect import tone_gaps as read_gaps
        from irtool.io import read_image

        def gaps(image: str) -> float:
            pixels = read_image(source / image).pixels  # HxWxC, as --auto reads it
            return read_gaps(torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))))

        chosen = {image for image in chosen if gaps(image) >= TONE_GAPS_MIN}
    manifest = json.loads((source / "manifest.json").read_text())
    kept = [entry for entry in manifest["files"] if entry["type"] == "clean" or entry["file"] in chosen]
    for entry in kept:
        link = out / entry["file"]
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to((source / entry["file"]).resolve())
    atomic_write_text(out / "manifest.json", json.dumps({**manifest, "files": kept}, indent=1))
    clean = sum(entry["type"] == "clean" for entry in kept)
    what = " or ".join([*(f"decided {name}" for name in decided), *(f"called {name}" for name in detected)])
    return (f"{out}: {len(kept) - clean} images {what}"
            f"{' with tone gaps' if tone_gaps else ''} and {clean} clean originals from {source}")


if __name__ == "__main__":
    raise SystemExit(main())
