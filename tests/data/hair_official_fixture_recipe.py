"""How tests/data/hair_official_b2_32x48.pt was made (kept for provenance; not collected by pytest).

Run once, outside the repository's environment rules, against the *official* HAIR code
(toummHus/HAIR @ 2a7af063a51d4fe1b9f4d86cacd47548a9de3ba6, ``net/HAIR.py`` + ``utils/ResNet.py``, which need
einops) placed on ``sys.path`` from a scratch directory (never committed):

    PYTHONPATH=/tmp/hairref/pkgs:/tmp/hairref:/work/main .venv/bin/python tests/data/hair_official_fixture_recipe.py

It fills every tensor of /work/shared/reference/hair_official_state_dict.json with
``tests/test_models_hair.py::official_manifest_weights`` (seeded, deterministic), loads them strictly into the
official ``HAIR()``, runs ``fixture_input()`` (batch 2, 3 x 32 x 48) on CPU in float32 and stores the output and the
GIV (the classifier's spatial mean, taken with a forward hook on ``feature``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from net.HAIR import HAIR  # noqa: E402  (official code, from the scratch directory)
from test_models_hair import FIXTURE_PATH, fixture_input, official_manifest_weights  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    model = HAIR().eval()
    model.load_state_dict(official_manifest_weights(), strict=True)
    captured: dict[str, torch.Tensor] = {}
    model.feature.register_forward_hook(lambda _m, _i, out: captured.__setitem__("giv", out.mean(dim=(-1, -2))))
    with torch.no_grad():
        output = model(fixture_input())
    torch.save(
        {
            "output": output.clone(),
            "giv": captured["giv"].clone(),
            "made_by": "official toummHus/HAIR@2a7af06 HAIR(), weights from official_manifest_weights(); "
            "see tests/data/hair_official_fixture_recipe.py",
        },
        FIXTURE_PATH,
    )


if __name__ == "__main__":
    main()
