"""Every registered preset against the network it builds, the one padding they share, and how names resolve.

The preset test runs each network forward on CPU. Full-size presets run with one block per stage (their own
widths, windows, heads and upsamplers): depth changes neither the output shape nor the padding, and at full
depth the large Hi-IR presets take tens of seconds here. Their full-depth metadata and parameter counts (against
the paper and README's Models table) are checked on the meta device.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from irtool.cli import app
from irtool.errors import InvalidArgumentError
from irtool.models import (
    RECIPES,
    build,
    count_parameters,
    families,
    family_preset,
    get_preset,
    preset_names,
)
from irtool.models.hi_ir import HiIRColumnar, HiIRUNet
from irtool.models.layers import pad_to_multiple
from irtool.models.res_hair import ResHAIR
from irtool.models.restormer import Restormer

#: Constructor arguments that cut a full-size network to one block per stage.
ONE_BLOCK_PER_STAGE: dict[type[torch.nn.Module], dict[str, object]] = {
    ResHAIR: {"num_blocks": (1, 1, 1, 1), "num_refinement_blocks": 1},
    Restormer: {"num_blocks": (1, 1, 1, 1), "num_refinement_blocks": 1},
    HiIRColumnar: {"num_stages": 1, "stage_depth": 1},
    HiIRUNet: {"depths": (1, 1, 1, 1), "decoder_depths": (1, 1, 1)},
}
LITE_MAX_PARAMETERS = 2_000_000
PAPER_TOLERANCE = 0.05
README = Path(__file__).resolve().parents[1] / "README.md"


def _expand(name: str) -> list[str]:
    """README shorthand: ``hi_ir_b_sr2/3/4`` -> ``hi_ir_b_sr2``, ``hi_ir_b_sr3``, ``hi_ir_b_sr4``."""
    match = re.fullmatch(r"(.*?)(\d)((?:/\d)+)(.*)", name)
    if match is None:
        return [name]
    prefix, first, rest, suffix = match.groups()
    return [f"{prefix}{digit}{suffix}" for digit in [first, *rest.split("/")[1:]]]


@lru_cache(maxsize=1)
def readme_parameter_counts() -> dict[str, tuple[float, float]]:
    """Preset -> (count as README's Models table prints it, its rounding step): exact with thousands separators,
    else millions with two decimals."""
    text = README.read_text(encoding="utf-8")
    rows = text[text.index("| preset | params |"):].splitlines()[2:]
    counts: dict[str, tuple[float, float]] = {}
    for row in rows:
        if not row.startswith("|"):
            break
        preset_cell, params_cell = (cell.strip() for cell in row.strip("|").split("|")[:2])
        names = [n for token in re.findall(r"`([^`]+)`", preset_cell) for n in _expand(token)]
        if "M" in params_cell:
            values = [(float(v) * 1e6, 0.005e6) for v in re.findall(r"\d+\.\d+", params_cell)]
        else:
            values = [(float(params_cell.replace(",", "")), 0.5)]
        assert len(names) == len(values), row
        counts.update(zip(names, values))
    return counts


pytestmark = pytest.mark.usefixtures("one_thread")


@lru_cache(maxsize=1)
def bf16_checked_by_a_lite_preset() -> frozenset[type[torch.nn.Module]]:
    """The network classes some lite preset builds with bf16 support (each is run in bf16 below)."""
    presets = [get_preset(name) for name in preset_names()]
    return frozenset(preset.network for preset in presets if preset.lite and preset.supports_bf16)


@pytest.mark.parametrize("name", preset_names())
def test_preset_metadata_matches_the_network_it_builds(name: str) -> None:
    preset = get_preset(name)
    assert preset.name == name and preset.tasks and preset.description
    assert preset.recipe in RECIPES and preset.family in families()
    assert preset.min_input_side % preset.size_multiple == 0  # the padded side is a multiple of both
    assert preset.bytes_per_pixel is None or preset.bytes_per_pixel > 0

    with torch.device("meta"):
        full = preset.build()
    for attribute in ("in_channels", "scale", "size_multiple", "min_input_side"):
        assert getattr(full, attribute) == getattr(preset, attribute), attribute
    assert preset.has_giv == callable(getattr(full, "giv", None))
    parameters = count_parameters(full)
    recorded, step = readme_parameter_counts()[name]
    assert abs(parameters - recorded) <= step, (parameters, recorded)
    if preset.paper_params is not None:
        assert abs(parameters - preset.paper_params) <= PAPER_TOLERANCE * preset.paper_params
    if preset.lite:
        assert parameters <= LITE_MAX_PARAMETERS

    torch.manual_seed(0)
    model = (preset.build() if preset.lite else preset.build(**ONE_BLOCK_PER_STAGE[preset.network])).eval()
    scale, channels = preset.scale, preset.in_channels
    generator = torch.Generator().manual_seed(1)
    # Odd sizes below every size multiple: the network pads inside exactly as pad_to_multiple does, and crops back.
    x = torch.rand(1, channels, 17, 23, generator=generator)
    with torch.inference_mode():
        out = model(x)
        padded = pad_to_multiple(x, preset.size_multiple, min_size=preset.min_input_side)
        reference = model(padded)[..., : 17 * scale, : 23 * scale]
        # A side just above the minimum with a side smaller than any padding (mirrored, then repeated).
        above = model(torch.rand(1, channels, preset.min_input_side + 1, 3, generator=generator))
        # bf16 autocast where claimed: it runs and stays close to float32 (fp16 autocast is too slow on a CPU to
        # try here; the engine redoes any non-finite half-precision result in float32). Checked on the presets of
        # each network class whose lite preset does not already run the same code in bf16: CPUs without native bf16
        # emulate it, and a full-width pass took 1.5-3 s where the rest of this test takes under 1 s.
        if preset.supports_bf16 and (preset.lite or preset.network not in bf16_checked_by_a_lite_preset()):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                in_bf16 = model(x).float()
            assert (in_bf16 - out).abs().max() <= 0.05 * max(1.0, float(out.abs().max()))
        if preset.has_giv:
            assert model.giv(x).shape == (1, model.giv_dim)
    assert out.shape == (1, channels, 17 * scale, 23 * scale) and torch.isfinite(out).all()
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)
    assert above.shape == (1, channels, (preset.min_input_side + 1) * scale, 3 * scale)
    assert torch.isfinite(above).all()


def test_readme_records_every_preset() -> None:
    assert sorted(readme_parameter_counts()) == preset_names()


def test_family_presets_are_one_per_task_and_keep_the_paper_choices() -> None:
    for family in families():
        defaults = [get_preset(n) for n in preset_names() if get_preset(n).family == family
                    and get_preset(n).family_default]
        assert [p for p in defaults if p.scale == 1], family  # a general restorer for unlisted tasks
        tasks = [task for p in defaults for task in p.tasks]
        assert len(tasks) == len(set(tasks)), family
        # A paper family's default is its full-size network; a family made only for the CPU defaults to a lite one.
        only_lite = all(get_preset(n).lite for n in preset_names() if get_preset(n).family == family)
        assert only_lite or all(not p.lite for p in defaults), family
    assert family_preset("hi_ir", "sr4").name == "hi_ir_b_sr4"
    assert family_preset("hi_ir", "jpeg").name == "hi_ir_unet"
    assert family_preset("res_hair", "all").name == "res_hair"
    # A task no default lists goes to the scale-1 default, which learns it at the input's size.
    assert family_preset("restormer", "sr2").name == "restormer"
    with pytest.raises(InvalidArgumentError, match="did you mean hi_ir") as caught:
        family_preset("hi-ir", "denoise")
    assert caught.value.argument == "family" and caught.value.exit_code == 2


def test_unknown_preset_is_an_invalid_argument_with_suggestions() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown preset 'res_hair_lit'; did you mean res_hair_lite"):
        get_preset("res_hair_lit")
    with pytest.raises(ValueError, match="known: .*restormer"):
        build("nothing_like_it")


def test_recipes_come_from_the_preset() -> None:
    from irtool.train.config import default_recipe, recipe

    for name in preset_names():
        assert default_recipe(name) == get_preset(name).recipe
    # The large Hi-IR's longer warm-up is its preset's, not guessed from its name.
    assert recipe("hi_ir", preset="hi_ir_b_sr4", task="sr4").warmup_iters == 10_000
    assert get_preset("hi_ir_l_sr4").warmup_iters == recipe("hi_ir", preset="hi_ir_l_sr4", task="sr4").warmup_iters


# --------------------------------------------------------------------------------------------- padding
def test_pad_to_multiple_reflects_then_replicates_bottom_right() -> None:
    x = torch.arange(6.0).view(1, 1, 2, 3)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (1, 1, 4, 4)
    # Row 2 reflects row 0 (a reflection reaches side - 1 = 1 row); row 3 repeats it. Column 3 reflects column 1.
    assert padded[0, 0].tolist() == [[0, 1, 2, 1], [3, 4, 5, 4], [0, 1, 2, 1], [0, 1, 2, 1]]
    assert pad_to_multiple(x, 1) is x
    assert pad_to_multiple(torch.zeros(3, 16, 8), 8).shape == (3, 16, 8)  # unbatched, already aligned
    assert pad_to_multiple(torch.zeros(2, 3, 17, 9), 8).shape == (2, 3, 24, 16)
    # min_size pads up to the smallest multiple that reaches it.
    assert pad_to_multiple(torch.zeros(1, 3, 5, 40), 8, min_size=30).shape == (1, 3, 32, 40)
    # Within reach, a plain mirror without the edge row: rows 9..15 of a 9-row image are rows 7..1.
    image = torch.rand(1, 1, 9, 9)
    mirrored = pad_to_multiple(image, 16)
    torch.testing.assert_close(mirrored[..., :9, :9], image)
    torch.testing.assert_close(mirrored[..., 9:, :9], image[..., 1:8, :].flip(-2))
    torch.testing.assert_close(mirrored[..., :9, 9:], image[..., :, 1:8].flip(-1))

# --------------------------------------------------------------------------------------------- the CLI
def _photo_folder(tmp_path: Path) -> Path:
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (40, 32), (120, 80, 40)).save(folder / "a.png")
    return folder


@pytest.mark.parametrize("command", ["train", "restore", "eval"])
def test_an_unknown_preset_is_one_line_and_exit_code_2(tmp_path: Path, command: str) -> None:
    from irtool.weights.checkpoints import save_safetensors

    photos = _photo_folder(tmp_path)
    weights = tmp_path / "w.safetensors"
    save_safetensors({"x": torch.zeros(1)}, weights, metadata={})
    args = {
        "train": ["train", "--task", "jpeg", "--preset", "no_such_preset", "--data", str(photos)],
        "restore": ["restore", str(photos), "-o", str(tmp_path / "out"), "--weights", str(weights),
                    "--arch", "no_such_preset"],
        "eval": ["eval", "--task", "denoise", "--data", str(photos), "--weights", str(weights),
                 "--arch", "no_such_preset"],
    }[command]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [lines[0]] and "unknown preset 'no_such_preset'" in lines[0], result.output
    assert "Traceback" not in result.output


def test_an_unknown_family_names_the_option_and_a_file_without_its_preset_is_recognised(tmp_path: Path) -> None:
    from irtool.weights.checkpoints import save_safetensors

    photos = _photo_folder(tmp_path)
    result = CliRunner().invoke(app, ["train", "--task", "jpeg", "--arch", "hiir", "--data", str(photos)])
    assert result.exit_code == 2 and "unknown architecture family 'hiir'" in result.output, result.output
    assert "(option --arch)" in result.output

    # No preset in the metadata: the tensors' names and shapes are restormer_lite's, and no other preset's.
    weights = tmp_path / "anonymous.safetensors"
    save_safetensors(build("restormer_lite").state_dict(), weights, metadata={})
    result = CliRunner().invoke(app, ["restore", str(photos), "-o", str(tmp_path / "out"), "--weights", str(weights)])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out").iterdir())) == len(list(photos.iterdir()))


def test_a_tone_grid_grown_from_a_plain_grid_starts_as_it_does() -> None:
    """``--init-weights`` of a plain grid into the tone variant: the tone projection starts at zero, so the grown
    network gives the plain one's output; a plain load (``--weights``) still refuses the missing tensors."""
    from irtool.weights.checkpoints import load_into

    torch.manual_seed(0)
    plain = build("bilateral_grid_lite").eval()
    torch.nn.init.normal_(plain.to_grid.weight, std=0.01)  # a trained grid: not the identity
    tone = load_into(build("bilateral_grid_tone_lite").eval(), plain.state_dict(), source="plain.safetensors",
                     grown=True)
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        assert torch.equal(tone(x), plain(x))
        assert not torch.allclose(plain(x), x, atol=1e-3)
    with pytest.raises(InvalidArgumentError, match="missing .*tone.weight"):
        load_into(build("bilateral_grid_tone_lite"), plain.state_dict(), source="plain.safetensors")


def test_the_tone_distribution_tells_exposure_from_a_brightness_cut_and_a_tone_curve() -> None:
    """The three darkenings of one photo that the grid's thumbnail shows alike are apart in the tone distribution:
    a brightness cut crushes shadows to black, a tone curve keeps white, a lower exposure does neither."""
    from irtool.models.bilateral_grid import tone_distribution

    photo = torch.linspace(0, 1, 64 * 64).view(1, 1, 64, 64).expand(1, 3, 64, 64)
    exposure, cut, curve = photo * 0.3, (photo - 0.3).clamp_min(0), photo**2.5
    shares = {name: tone_distribution(x, 32)[0] for name, x in
              {"photo": photo, "exposure": exposure, "cut": cut, "curve": curve}.items()}
    for share in shares.values():
        assert share[-1] == 1 and bool((share.diff() >= 0).all())
    below_quarter_level, below_white = 0, -2  # luma below (1/32)**2 (a quarter of an 8-bit level), below 0.94
    assert shares["cut"][below_quarter_level] > 0.29
    assert shares["exposure"][below_quarter_level] < 0.01 and shares["curve"][below_quarter_level] < 0.1
    assert shares["exposure"][below_white] == 1 and shares["cut"][below_white] == 1
    assert shares["curve"][below_white] < 0.99 and shares["photo"][below_white] < 0.99
