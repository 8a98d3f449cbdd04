"""Training: typed configs and recipes, the loop (AMP, EMA, exact resume, DDP), export."""

from .config import TRAIN_TASKS, TrainConfig, load_config, recipe
from .loop import Trainer, TrainResult, train

__all__ = ["TRAIN_TASKS", "TrainConfig", "TrainResult", "Trainer", "load_config", "recipe", "train"]
