"""Generate tests/data/degrade_imresize_basicsr.npz: BasicSR's ``imresize`` outputs on small random arrays.

Not a test and not run by pytest. BasicSR is *not* part of irtool; this script imports it from a scratch
checkout so the fixture records what the reference implementation produces. How it was run (2 cores, CPU):

    git -C /work/.mirror/XPixelGroup+BasicSR/repo show HEAD:basicsr/utils/matlab_functions.py \
        > /tmp/bsr_ref/basicsr/utils/matlab_functions.py      # BasicSR @ 8d56e3a045f9 (2024-05-17)
    PYTHONPATH=/tmp/bsr_ref /work/main/.venv/bin/python tests/data/degrade_make_imresize_fixture.py

Inputs: float32 arrays from numpy.random.default_rng(20240517): a color 8x10x3 image and a gray 9x7 image, each
resized at scales 1/2, 1/3, 1/4, 2, 3, 4 with antialiasing on (BasicSR's default). BasicSR computes in float32.
"""

from pathlib import Path

import numpy as np
from basicsr.utils.matlab_functions import imresize as basicsr_imresize

SCALES = {"d2": 1 / 2, "d3": 1 / 3, "d4": 1 / 4, "u2": 2.0, "u3": 3.0, "u4": 4.0}


def main() -> None:
    rng = np.random.default_rng(20240517)
    inputs = {
        "color": rng.random((8, 10, 3), dtype=np.float32),
        "gray": rng.random((9, 7), dtype=np.float32),
    }
    arrays: dict[str, np.ndarray] = {}
    for name, img in inputs.items():
        arrays[f"input_{name}"] = img
        for tag, scale in SCALES.items():
            arrays[f"{name}_{tag}"] = np.asarray(basicsr_imresize(img.copy(), scale), dtype=np.float32)
    out = Path(__file__).with_name("degrade_imresize_basicsr.npz")
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main()
