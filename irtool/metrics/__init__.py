"""Image-quality metrics equal to BasicSR's (PSNR, SSIM on RGB or MATLAB-Y, border crop) plus MAE; numpy only."""

from irtool.metrics.psnr_ssim import aligned_psnr, mae, psnr, rgb_to_y, ssim, to_255

__all__ = ["aligned_psnr", "mae", "psnr", "rgb_to_y", "ssim", "to_255"]
