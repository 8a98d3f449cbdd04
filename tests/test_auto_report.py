"""Saved `irtool eval --task auto` reports: read back, what --auto acted on, and a candidate read against a baseline
(`scripts/compare_auto.py`, how every --auto candidate is judged)."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from irtool.errors import UsageError
from irtool.evaluate.auto import AutoReport, AutoSample, compare_reports

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_auto.py"


def _sample(image: str, true_type: str, decided: str | None, model: str, gain: float, *,
            unchanged: bool = False) -> AutoSample:
    """A scored image: input at 20 dB (a clean one is its own original: infinite), output ``gain`` above it."""
    if true_type == "clean":
        return AutoSample(image=image, true_type="clean", setting="", detected=decided, confidence=0.9, model=model,
                          psnr_input=math.inf, psnr_output=math.inf if unchanged else 40.0, unchanged=unchanged,
                          psnr_input_aligned=math.inf, psnr_output_aligned=math.inf if unchanged else 41.0,
                          decided=decided)
    return AutoSample(image=image, true_type=true_type, setting="s", detected=decided, confidence=0.7, model=model,
                      psnr_input=20.0, psnr_output=20.0 + gain, unchanged=unchanged, psnr_input_aligned=21.0,
                      psnr_output_aligned=21.0 + gain, decided=decided)


def _baseline() -> AutoReport:
    return AutoReport(source="set", detector="det", labels=("clean", "noise", "blur", "low-light"), samples=[
        _sample("clean/a.png", "clean", "clean", "copy", 0.0, unchanged=True),
        _sample("clean/b.png", "clean", "low-light", "grid", 0.0),
        _sample("noise/a__n.png", "noise", "noise", "denoise", 5.0),
        _sample("noise/b__n.png", "noise", "blur", "deblur", -0.5),
        _sample("blur/a__b.png", "blur", "low-light", "grid", -12.0),
        AutoSample(image="blur/tiny__b.png", true_type="blur", setting="b", detected=None, confidence=None,
                   model="copy (too small)", psnr_input=30.0, psnr_output=30.0, unchanged=True, decided=None),
    ])


def test_a_saved_report_reads_back_as_it_was_written(tmp_path):
    """to_dict -> JSON -> load gives the same rows, decisions and tables, infinite PSNRs (saved as null) included."""
    report = _baseline()
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"auto": report.to_dict()}))
    again = AutoReport.load(path)
    assert json.dumps(again.rows()) == json.dumps(report.rows())  # NaN (not measured) compares as text
    assert again.decisions() == report.decisions()
    assert again.labels == report.labels
    assert again.to_markdown() == report.to_markdown()
    clean = {s.image: s for s in again.samples}["clean/a.png"]
    assert math.isinf(clean.psnr_input) and math.isinf(clean.psnr_output_aligned) and clean.gain == 0.0


def test_decisions_count_what_auto_acted_on_after_the_pixel_tests():
    """Rows are true types, cells what --auto restored them as (clean: copied; too small: not judged)."""
    matrix = _baseline().decisions()
    assert matrix == {"clean": {"clean": 1, "low-light": 1}, "noise": {"noise": 1, "blur": 1},
                      "blur": {"low-light": 1, "not judged": 1}}
    table = "\n".join(_baseline().decisions_markdown())
    assert "| true \\ acted on | clean | noise | blur | low-light | not judged | right |" in table
    assert "| noise | 0 | **1** | 1 | 0 | 0 | 50.0% |" in table
    assert "| blur | 0 | 0 | **0** | 1 | 1 | 0.0% |" in table


def test_a_candidate_is_read_against_its_baseline_image_by_image():
    """Per type before -> after, and only the images whose decision, model or gain moved are listed."""
    before = _baseline()
    after = AutoReport(source="set", detector="det", samples=[
        *(s for s in before.samples if s.image not in {"blur/a__b.png", "noise/b__n.png"}),
        _sample("blur/a__b.png", "blur", "blur", "deblur", 0.4),          # no longer brightened
        _sample("noise/b__n.png", "noise", "blur", "deblur", -0.47),       # within 0.05 dB: not listed
    ])
    text = compare_reports(before, after)
    assert "| blur | 2 | -6.00 -> +0.20 | 1 -> 0 | 0 -> 1 | 1 -> 1 |" in text
    assert "| clean | 2 | - | 1 -> 1 changed | 1 -> 1 | 1 -> 1 |" in text
    assert "Degraded images made worse: 2 -> 1; decided right: 1 -> 2 of 4." in text
    assert "Images whose outcome changed: 1" in text
    assert "- blur/a__b.png: low-light / grid / -12.00 dB -> blur / deblur / +0.40 dB" in text
    assert "noise/b__n.png:" not in text
    assert "Images whose outcome changed" not in compare_reports(before, after, changed=False)
    with pytest.raises(UsageError, match="share no image"):
        compare_reports(before, AutoReport(source="other", detector="det", samples=[
            _sample("x/y.png", "noise", "noise", "denoise", 1.0)]))


def test_an_image_crossing_the_made_worse_line_by_a_hair_is_not_made_worse_anew():
    """Session 55's own draw: -0.096 -> -0.106 dB crosses the 0.1 dB line by 0.006; the made-worse count moves, the
    made-worse-anew count (more than 0.1 dB below its gain before, and worse than the input) does not."""
    before = AutoReport(source="set", detector="det", samples=[
        _sample("low-light/a.png", "low-light", "jpeg", "jpeg", -0.096),  # over the line by a hair
        _sample("jpeg/b.png", "jpeg", "jpeg", "jpeg", 0.0),               # newly worse: anew
        _sample("jpeg/c.png", "jpeg", "jpeg", "jpeg", -0.5),              # worse, and 0.2 dB more: anew
        _sample("jpeg/d.png", "jpeg", "jpeg", "jpeg", -0.3),              # worse by 0.05 dB more: not anew
        _sample("jpeg/e.png", "jpeg", "jpeg", "jpeg", -2.0),              # mended: the reverse
    ])
    after = AutoReport(source="set", detector="det", samples=[
        _sample("low-light/a.png", "low-light", "jpeg", "jpeg", -0.106),
        _sample("jpeg/b.png", "jpeg", "jpeg", "jpeg", -0.5),
        _sample("jpeg/c.png", "jpeg", "jpeg", "jpeg", -0.7),
        _sample("jpeg/d.png", "jpeg", "jpeg", "jpeg", -0.35),
        _sample("jpeg/e.png", "jpeg", "jpeg", "jpeg", 0.3),
    ])
    text = compare_reports(before, after)
    assert "Degraded images made worse: 3 -> 4;" in text
    assert "Made worse anew (worse than the input and more than 0.1 dB below before): 2; the reverse: 1." in text


def test_compare_script_prints_tables_and_refuses_what_is_not_a_report(tmp_path):
    base, cand = tmp_path / "base.json", tmp_path / "cand.json"
    base.write_text(json.dumps({"auto": _baseline().to_dict()}))
    cand.write_text(json.dumps({"auto": _baseline().to_dict()}))
    one = subprocess.run([sys.executable, str(SCRIPT), str(base)], capture_output=True, text=True, check=True)
    assert "What `--auto` acted on" in one.stdout and "What the detector said" in one.stdout
    two = subprocess.run([sys.executable, str(SCRIPT), str(base), str(cand)], capture_output=True, text=True,
                         check=True)
    assert "Images whose outcome changed: 0" in two.stdout
    without = subprocess.run([sys.executable, str(SCRIPT), str(base), "--exclude", "blur/"], capture_output=True,
                             text=True, check=True)
    assert "| noise | 2 |" in without.stdout and "\n| blur |" not in without.stdout.split("What the detector said")[0]
    nothing = subprocess.run([sys.executable, str(SCRIPT), str(base), "--exclude", "/"], capture_output=True,
                             text=True)
    assert nothing.returncode == 2 and "--exclude leaves no image" in nothing.stderr
    (tmp_path / "bad.json").write_text("{\"results\": []}")
    bad = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "bad.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a report of `irtool eval --task auto --json`" in bad.stderr


def test_a_subset_run_is_read_as_the_whole_set_with_those_images_replaced(tmp_path):
    """--patch: a candidate run on only the images it can change replaces the baseline's results for them; the
    comparison covers the whole baseline, --save writes the merged report, and a subset with an image the baseline
    never scored is refused."""
    base, subset, merged = tmp_path / "base.json", tmp_path / "subset.json", tmp_path / "merged.json"
    base.write_text(json.dumps({"auto": _baseline().to_dict()}))
    part = AutoReport(source="subset", detector="det", samples=[_sample("blur/a__b.png", "blur", "blur", "deblur",
                                                                        0.4)])
    subset.write_text(json.dumps({"auto": part.to_dict()}))
    run = subprocess.run([sys.executable, str(SCRIPT), str(base), str(subset), "--patch", "--save", str(merged)],
                         capture_output=True, text=True, check=True)
    assert "set (6 images in both)" in run.stdout and "| blur | 2 | -6.00 -> +0.20 | 1 -> 0 |" in run.stdout
    assert "Images whose outcome changed: 1" in run.stdout
    whole = AutoReport.load(merged)
    assert [s.image for s in whole.samples] == [s.image for s in _baseline().samples]
    assert {s.image: s.gain for s in whole.samples}["blur/a__b.png"] == pytest.approx(0.4)
    assert {s.image: s.gain for s in whole.samples}["noise/a__n.png"] == pytest.approx(5.0)
    stray = AutoReport(source="subset", detector="det", samples=[_sample("x/y.png", "noise", "noise", "dn", 1.0)])
    with pytest.raises(UsageError, match="scored 1 image"):
        _baseline().patched(stray)
    alone = subprocess.run([sys.executable, str(SCRIPT), str(base), "--save", str(merged)], capture_output=True,
                           text=True)
    assert alone.returncode == 2 and "need two reports" in alone.stderr


def _write_subset(report: Path, out: Path, *choice: str) -> tuple[str, list[str]]:
    """Run ``compare_auto.py REPORT --write-subset OUT CHOICE...``: what it printed and the files its manifest kept."""
    run = subprocess.run([sys.executable, str(SCRIPT), str(report), "--write-subset", str(out), *choice],
                         capture_output=True, text=True, check=True)
    return run.stdout, sorted(entry["file"] for entry in json.loads((out / "manifest.json").read_text())["files"])


def test_write_subset_links_the_images_a_report_decided_as_one_type_with_every_clean_original(tmp_path):
    """--write-subset DIR --decided TYPE: a labelled folder (links, and the manifest's lines for them) holding the
    images the report decided as TYPE and every clean original, so a candidate that can change only those runs on
    them alone; it needs one report. --detected TYPE takes the images the detector called TYPE."""
    source = tmp_path / "set"
    report = _baseline()
    report.source = str(source)
    files = [{"file": s.image, "type": s.true_type, "photo": Path(s.image).name.split("__")[0]}
             for s in report.samples]
    for entry in files:
        (source / entry["file"]).parent.mkdir(parents=True, exist_ok=True)
        (source / entry["file"]).write_bytes(entry["file"].encode())
    (source / "manifest.json").write_text(json.dumps({"generator": "test", "seed": 0, "files": files}))
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"auto": report.to_dict()}))
    out = tmp_path / "set_grid"
    printed, kept = _write_subset(path, out, "--decided", "low-light")
    assert "1 images decided low-light and 2 clean originals" in printed
    assert kept == ["blur/a__b.png", "clean/a.png", "clean/b.png"]  # clean/b.png, decided low-light, is a clean one
    assert all((out / name).is_symlink() and (out / name).read_bytes() == name.encode() for name in kept)
    assert not (out / "noise").exists()
    both = subprocess.run([sys.executable, str(SCRIPT), str(path), str(path), "--write-subset", str(out),
                           "--decided", "noise"], capture_output=True, text=True)
    assert both.returncode == 2 and "goes with --decided or --detected, and one report" in both.stderr
    # --detected: also the images the detector called TYPE whatever --auto then decided (a pixel test may have
    # overruled it, e.g. a low-light call left as it is).
    report.samples = [dataclasses.replace(s, detected="low-light") if s.image == "noise/b__n.png" else s
                      for s in report.samples]
    path.write_text(json.dumps({"auto": report.to_dict()}))
    printed, kept = _write_subset(path, tmp_path / "set_called", "--detected", "low-light")
    assert "2 images called low-light and 2 clean originals" in printed
    assert kept == ["blur/a__b.png", "clean/a.png", "clean/b.png", "noise/b__n.png"]


def test_worse_than_lists_the_images_made_that_much_worse_by_route(tmp_path):
    """--worse-than DB: per report, the degraded images --auto made more than DB dB worse, grouped by what they were
    restored as and what the detector called them, worst first; clean images (no input error) are never listed."""
    report = _baseline()
    report.samples.append(_sample("noise/c__n.png", "noise", "low-light", "grid", -7.0))
    report.samples[-1] = dataclasses.replace(report.samples[-1], detected="clean")  # a pixel test overruled the call
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"auto": report.to_dict()}))
    def worse_than(*reports: Path) -> str:
        return subprocess.run([sys.executable, str(SCRIPT), *map(str, reports), "--worse-than", "5"],
                              capture_output=True, text=True, check=True).stdout

    assert worse_than(path, path).count("set: 2 of 5 degraded images made more than 5 dB worse") == 2  # each report
    block = worse_than(path)
    assert "| low-light | low-light | 1 | -12.0 | -12.00 |" in block
    assert "| low-light | clean | 1 | -7.0 | -7.00 |" in block
    listed = [line for line in block.splitlines() if line.startswith("- ")]
    assert listed == ["- blur/a__b.png: low-light (called low-light), -12.00 dB",
                      "- noise/c__n.png: low-light (called clean), -7.00 dB"]
    assert "noise/b__n.png" not in block and "clean/" not in block  # -0.5 dB, and a changed clean image
