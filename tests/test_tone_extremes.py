"""scripts/tone_extremes.py: which clean photos carry a brightness cut's fingerprint (docs/auto-history.md)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from script_modules import load_script


def test_a_brightness_cut_is_counted_and_a_photo_reaching_white_is_not(tmp_path, capsys):
    ramp = np.linspace(0.0, 1.0, 64 * 48, dtype=np.float64).reshape(48, 64)
    photo = np.repeat(ramp[..., None], 3, axis=2)  # black to white: 0.03% black, no headroom
    cut = np.clip(photo - 0.3, 0.0, 1.0)  # 30% crushed to black, white lowered to 0.7
    (tmp_path / "photos").mkdir()
    for name, pixels in (("plain.png", photo), ("cut.png", cut)):
        Image.fromarray(np.uint8(np.round(pixels * 255))).save(tmp_path / "photos" / name)
    tone = load_script("tone_extremes")
    rgb = np.asarray(Image.open(tmp_path / "photos" / "cut.png"), np.float64) / 255
    assert tone.black_share(rgb) > 0.29 and tone.headroom(rgb) > 0.29

    assert tone.main(["--data", str(tmp_path / "photos"), "--grids", "1", "2"]) == 0
    printed = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.strip("|").split("|")]
            for line in printed.splitlines() if line.startswith("| 1 x 1") or line.startswith("| 2 x 2")}
    assert rows["1 x 1"][1:] == ["2", "1", "1", "1", "1"]  # the cut only, at 1% and 5% black
    # The ramp runs down the rows: in 2 x 2 crops the cut's top crops hold its black, the bottom ones none.
    assert rows["2 x 2"][1] == "8" and rows["2 x 2"][4] == rows["2 x 2"][5] == "2"
    assert "- cut.png r0c0 (1 x 1)" in printed and "plain.png" not in printed
