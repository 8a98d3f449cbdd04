"""scripts/pixel_tests.py --window-px: the small windows a premise about small images is measured on."""

from __future__ import annotations

import numpy as np
from script_modules import load_script


def test_windows_keep_their_sides_in_range_inside_the_photo_and_follow_the_seed():
    window_px = load_script("pixel_tests")._window_px
    photo = np.arange(300 * 500 * 3, dtype=np.float32).reshape(300, 500, 3)
    rng = np.random.default_rng(0)
    windows = [window_px(photo, rng, 96, 256) for _ in range(50)]
    assert all(96 <= w.shape[0] <= 256 and 96 <= w.shape[1] <= 256 for w in windows)
    assert len({w.shape for w in windows}) > 10  # sides drawn, not fixed
    for w in windows:  # each is a contiguous piece of the photo, copied out of it
        top, left = np.unravel_index(np.argmin(photo[..., 0] != w[0, 0, 0]), photo.shape[:2])
        assert np.array_equal(w, photo[top : top + w.shape[0], left : left + w.shape[1]])
        assert not np.shares_memory(w, photo)
    again = [window_px(photo, np.random.default_rng(0), 96, 256)]
    assert np.array_equal(again[0], windows[0])
    small = np.zeros((80, 120, 3), np.float32)  # sides capped at the photo's
    capped = [window_px(small, rng, 96, 256).shape[:2] for _ in range(20)]
    assert all(h == 80 and 96 <= w <= 120 for h, w in capped)
