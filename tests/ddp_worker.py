"""Run by test_train.py under `torch.distributed.run --nproc_per_node 2`: one tiny DDP training on gloo.

Each rank saves the weights it ends with, so the test can check both ranks agree.
"""

import os
from pathlib import Path

import torch

from irtool.train import TrainConfig, Trainer

photos = Path(os.environ["IRTOOL_TEST_PHOTOS"])
out = Path(os.environ["IRTOOL_TEST_OUT"])
cfg = TrainConfig(preset="restormer_lite", task="denoise", iters=6, batch_size=2, patch_size=32, lr=2e-3, workers=0,
                  log_every=1, val_every=6, ckpt_every=3, data=str(photos / "train"), val=str(photos / "val"),
                  val_crop=48, out=str(out), name="ddp", device="cpu", amp=False)
trainer = Trainer(cfg)
result = trainer.fit()
model = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out / f"rank{os.environ['RANK']}.pt")
