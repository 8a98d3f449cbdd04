"""irtool: batch image restoration with Res-HAIR and Hi-IR.

Kept import-free on purpose: ``irtool --help`` must answer without importing torch.
"""

__version__ = "0.1.0"
