"""Named, pinned evaluation protocols: every setting that moves a published number, in one frozen record.

Published tables were made with incompatible conventions (see the reference notes on evaluation, section (b)):
BasicSR/SwinIR score the rounded 8-bit output with the MATLAB/Wang SSIM (11x11 Gaussian), the AirNet/PromptIR/HAIR
line scores the clipped float output with scikit-image's SSIM (7x7 uniform window) after a centre crop to a multiple
of 16; Gaussian noise is float noise from a seed reset per image (KAIR/SwinIR/Restormer) or noise added to the 8-bit
image, clipped and truncated, drawn from one stream seeded once (PromptIR/HAIR ``DenoiseTestDataset``); deraining is
Y (Restormer's MATLAB script) or RGB (all-in-one papers). Each such combination is a :class:`Protocol` with a name;
the name and :meth:`Protocol.settings` go into every table, CSV and JSON ``irtool eval`` writes.

Images are handled as 8-bit where the reference code does (all benchmarks are 8-bit files).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from irtool.degradations import SINGLE_TASKS as TASKS
from irtool.degradations import TASKS as TASK_ENTRIES
from irtool.errors import UsageError

__all__ = [
    "DEFAULT_PROTOCOL",
    "JPEG_ENCODERS",
    "PROTOCOLS",
    "Protocol",
    "TASKS",
    "default_protocol",
    "get_protocol",
]


#: JPEG encoders a protocol can name -> Pillow's chroma subsampling (2: 4:2:0, the libjpeg/OpenCV default the
#: artefact benchmarks were made with; 0: 4:4:4).
JPEG_ENCODERS: dict[str, int] = {"pillow": 2, "pillow-444": 0}

#: How the degraded input is obtained.
Degradation = Literal["sr-bicubic", "gaussian-noise", "jpeg", "paired"]
#: Which channel(s) are compared: RGB; BasicSR's float MATLAB-Y; MATLAB's uint8 (rounded) Y; one gray channel.
Channel = Literal["rgb", "y-float", "y-uint8", "gray"]
#: How the network output is turned into the image that is scored.
OutputQuantization = Literal["round-uint8", "clip-float"]
#: SSIM family: Wang/MATLAB 11x11 Gaussian (BasicSR) or scikit-image defaults (7x7 uniform, sample covariance).
SsimFamily = Literal["wang-gaussian11", "skimage-uniform7"]
#: Float noise from ``np.random.seed(seed)`` before every image, or one legacy stream seeded once per run.
NoisePolicy = Literal["float-seed-per-image", "uint8-clip-truncate-stream"]


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """Every setting of one evaluation convention; ``reproduces`` names the code whose numbers it matches."""

    name: str
    tasks: tuple[str, ...]
    degradation: Degradation
    description: str
    reproduces: str
    channel: Channel = "rgb"
    #: "scale" means crop_border = SR factor (the SR convention); else a pixel count.
    crop_border: int | Literal["scale"] = 0
    #: Crop applied to ground truth and input before anything else: a centre crop to a multiple (HAIR's
    #: ``crop_img(base=16)``) or the SR ``modcrop`` (bottom/right, multiple of the scale).
    size_policy: Literal["none", "modcrop-scale", "center-crop-16"] = "none"
    output: OutputQuantization = "round-uint8"
    ssim: SsimFamily = "wang-gaussian11"
    #: SR: take the LR image from the benchmark archive when it has one, else MATLAB-bicubic ``imresize``; or
    #: always MATLAB-bicubic from the ground truth. "none" for protocols that are not SR.
    lr_source: Literal["archive-or-matlab-bicubic", "matlab-bicubic", "none"] = "none"
    noise: NoisePolicy | None = None
    #: Noise is drawn with the array in BGR layout (SwinIR reads with OpenCV) or RGB layout.
    noise_layout: Literal["bgr", "rgb"] = "rgb"
    seed: int = 0
    default_sigma: float | None = None
    #: JPEG protocols: a key of :data:`JPEG_ENCODERS`.
    jpeg_encoder: str | None = None
    default_quality: int | None = None
    #: Rescale the output so its gray mean matches the ground truth's (LLIE "GT-mean"); inflates PSNR.
    gt_mean: bool = False

    def __post_init__(self) -> None:
        sr = self.degradation == "sr-bicubic"
        if sr == (self.lr_source == "none"):
            raise ValueError(f"protocol {self.name!r}: an SR protocol needs an lr_source and only SR has one")
        if (self.degradation == "jpeg") != (self.jpeg_encoder is not None):
            raise ValueError(f"protocol {self.name!r}: a JPEG protocol needs a jpeg_encoder and only JPEG has one")
        if self.jpeg_encoder is not None and self.jpeg_encoder not in JPEG_ENCODERS:
            raise ValueError(f"protocol {self.name!r}: unknown jpeg_encoder {self.jpeg_encoder!r}; "
                             f"known: {', '.join(JPEG_ENCODERS)}")

    def settings(self) -> dict[str, object]:
        """All settings as plain JSON-able values (written into every report)."""
        out = asdict(self)
        out["tasks"] = list(self.tasks)
        return out

    def label(self, *, sigma: float | None = None, quality: int | None = None) -> str:
        """``name`` plus the run's noise level / JPEG quality, as printed in tables."""
        extra = []
        if sigma is not None:
            extra.append(f"sigma={sigma:g}")
        if quality is not None:
            extra.append(f"q={quality}")
        return f"{self.name} ({', '.join(extra)})" if extra else self.name


_SR_TASKS = tuple(name for name, task in TASK_ENTRIES.items() if task.scale > 1)
_PAIRED_TASKS = ("deblur", "derain", "dehaze", "lowlight")

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            name="sr-y-matlab",
            tasks=_SR_TASKS,
            degradation="sr-bicubic",
            description="SR: Y (float MATLAB BT.601), crop border = scale, LR from the archive or MATLAB bicubic, "
            "output rounded to 8 bit, Wang SSIM",
            reproduces="BasicSR test options (crop_border: scale, test_y_channel: true); SwinIR main_test_swinir.py",
            channel="y-float",
            crop_border="scale",
            size_policy="modcrop-scale",
            lr_source="archive-or-matlab-bicubic",
        ),
        Protocol(
            name="sr-rgb-matlab",
            tasks=_SR_TASKS,
            degradation="sr-bicubic",
            description="SR on RGB (the secondary number SwinIR prints), otherwise as sr-y-matlab",
            reproduces="SwinIR main_test_swinir.py (RGB PSNR/SSIM)",
            channel="rgb",
            crop_border="scale",
            size_policy="modcrop-scale",
            lr_source="archive-or-matlab-bicubic",
        ),
        Protocol(
            name="dn-rgb-swinir",
            tasks=("denoise",),
            degradation="gaussian-noise",
            description="Gaussian denoising on RGB: float noise N(0, sigma/255) drawn in BGR layout with "
            "np.random.seed(0) reset before every image, not clipped or quantized; output rounded to 8 bit; Wang SSIM",
            reproduces="SwinIR main_test_swinir.py (color_dn), KAIR",
            noise="float-seed-per-image",
            noise_layout="bgr",
            default_sigma=25.0,
        ),
        Protocol(
            name="dn-rgb-restormer",
            tasks=("denoise",),
            degradation="gaussian-noise",
            description="as dn-rgb-swinir but the noise array is drawn in RGB layout (images read as RGB)",
            reproduces="Restormer Denoising/test_gaussian_color_denoising.py (metrics as SwinIR; its script reports "
            "PSNR only)",
            noise="float-seed-per-image",
            noise_layout="rgb",
            default_sigma=25.0,
        ),
        Protocol(
            name="dn-airnet",
            tasks=("denoise",),
            degradation="gaussian-noise",
            description="PromptIR/HAIR test script: centre crop to a multiple of 16; uint8 + randn*sigma, clipped and "
            "truncated to uint8, from one np.random stream seeded once (images in sorted name order, not "
            "os.listdir order); output clipped, not quantized; scikit-image PSNR/SSIM on RGB",
            reproduces="toummHus/HAIR test.py + utils/dataset_utils.py:DenoiseTestDataset + utils/val_utils.py",
            size_policy="center-crop-16",
            output="clip-float",
            ssim="skimage-uniform7",
            noise="uint8-clip-truncate-stream",
            noise_layout="rgb",
            default_sigma=25.0,
        ),
        Protocol(
            name="jpeg-y-pillow",
            tasks=("jpeg",),
            degradation="jpeg",
            description="JPEG artefact removal on the MATLAB Y plane (uint8, rounded) coded as a grayscale JPEG with "
            "Pillow; output rounded to 8 bit; Wang SSIM. Pillow's libjpeg bytes may differ slightly from OpenCV's",
            reproduces="SwinIR jpeg_car / KAIR dataset_jpeg.py (gray: Y plane), with the Pillow encoder",
            channel="gray",
            jpeg_encoder="pillow",
            default_quality=10,
        ),
        Protocol(
            name="jpeg-rgb-pillow",
            tasks=("jpeg",),
            degradation="jpeg",
            description="colour JPEG artefact removal: RGB coded with Pillow at 4:2:0; RGB metrics, Wang SSIM",
            reproduces="SwinIR color_jpeg_car (metrics on RGB), with the Pillow encoder",
            channel="rgb",
            jpeg_encoder="pillow",
            default_quality=10,
        ),
        Protocol(
            name="paired-rgb",
            tasks=_PAIRED_TASKS,
            degradation="paired",
            description="paired data on RGB, full image, output rounded to 8 bit, BasicSR PSNR / Wang SSIM",
            reproduces="BasicSR validation on RGB (crop 0); MATLAB psnr on uint8 RGB for GoPro/HIDE",
        ),
        Protocol(
            name="aio-promptir",
            tasks=_PAIRED_TASKS,
            degradation="paired",
            description="all-in-one line: centre crop to a multiple of 16, output clipped float, scikit-image "
            "PSNR/SSIM on RGB",
            reproduces="toummHus/HAIR test.py (derain/dehaze) and PromptIR",
            size_policy="center-crop-16",
            output="clip-float",
            ssim="skimage-uniform7",
        ),
        Protocol(
            name="derain-y-matlab",
            tasks=("derain",),
            degradation="paired",
            description="deraining on the uint8 MATLAB Y (rgb2ycbcr, rounded), Wang SSIM",
            reproduces="Restormer Deraining/evaluate_PSNR_SSIM.m",
            channel="y-uint8",
        ),
        Protocol(
            name="lol-gtmean",
            tasks=("lowlight",),
            degradation="paired",
            description="low light with the output rescaled so its gray mean equals the ground truth's (GT-mean / "
            "KinD alignment); inflates PSNR by several dB, shown only for comparison with papers that use it",
            reproduces="LLFlow-style GT-mean evaluation",
            gt_mean=True,
        ),
    )
}

#: Most common convention per task.
DEFAULT_PROTOCOL: dict[str, str] = {
    "sr2": "sr-y-matlab",
    "sr3": "sr-y-matlab",
    "sr4": "sr-y-matlab",
    "denoise": "dn-rgb-swinir",
    "jpeg": "jpeg-y-pillow",
    "deblur": "paired-rgb",
    "derain": "paired-rgb",
    "dehaze": "paired-rgb",
    "lowlight": "paired-rgb",
}



def _check_task(task: str) -> None:
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def default_protocol(task: str) -> Protocol:
    _check_task(task)
    return PROTOCOLS[DEFAULT_PROTOCOL[task]]


def get_protocol(name: str | None, *, task: str) -> Protocol:
    """The named protocol (or the task's default) after checking it applies to ``task``."""
    _check_task(task)
    if name is None:
        return default_protocol(task)
    try:
        protocol = PROTOCOLS[name]
    except KeyError:
        known = ", ".join(PROTOCOLS)
        raise UsageError(f"unknown protocol {name!r}; known: {known} (see `irtool eval --list`)") from None
    if task not in protocol.tasks:
        raise UsageError(f"protocol {name!r} is for {', '.join(protocol.tasks)}, not {task!r}")
    return protocol
