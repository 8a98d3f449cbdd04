"""The training loop: AMP, EMA, gradient clipping, validation, atomic checkpoints, exact resume.

What is trained (model, data, loss, metrics, export metadata) is a training objective
(:mod:`irtool.train.objectives`); the loop is the same for every objective.

Exact resume rests on one rule: the batch drawn at iteration ``i`` is a pure function of
(seed, i, rank) — see :class:`IterationBatchSampler` — and every other piece of state (model,
EMA, optimizer, grad scaler, RNG states, iteration, best score) is in the checkpoint. The
learning rate is a pure function of the iteration, so there is no scheduler state to lose.

Checkpoints stay proportional to what they are for: only the latest ``checkpoints/iter_*.pt`` holds the
optimizer state an exact resume needs (4x the weights with AdamW's two moments); the older ones kept
(``keep_last``) are cut down to the EMA weights when a newer one is written, and the best validation score's
EMA weights go straight to ``best.safetensors``.

Before the first step the run's memory is estimated (:mod:`irtool.train.memory`): a run that cannot fit
stops with what would fit, or, when the caller allows it, trains at the largest batch size that fits.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, cast

import numpy as np
import torch
from torch import nn

from irtool.errors import InvalidArgumentError, UsageError
from irtool.io.atomic import atomic_output

from .config import TrainConfig, fit_schedule_to_run
from .curves import write_curves
from .distributed import (
    DistInfo,
    all_reduce_mean,
    all_reduce_min,
    all_reduce_sum_count,
    barrier,
    cleanup,
    device_for_rank,
    init_distributed,
)
from .memory import TrainingMemoryError, check_fits, estimate_training_memory, memory_budget, out_of_memory_error
from .objectives import objective_for

LogCallback = Callable[[dict[str, Any]], None]
#: One line for the user (a setting changed to fit the run, where a resumed run starts).
NoteCallback = Callable[[str], None]
#: (iterations done, iterations in the run), at the start and after every iteration.
ProgressCallback = Callable[[int, int], None]


@dataclass
class TrainResult:
    run_dir: Path
    iteration: int
    final_weights: Path | None
    best_metric: float | None
    #: "finished", "interrupted", "time-limit", or "complete": a resumed run had no iterations left to train.
    stopped: str
    history: list[dict[str, Any]] = field(default_factory=list)
    #: One line each about a finished run's result, e.g. weights that make the validation images worse.
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- sampling
class IterationBatchSampler(torch.utils.data.Sampler[list]):
    """Yields, for iterations ``start..stop-1``, this rank's batch of dataset keys.

    Global sample ``g = (it * world + rank) * batch + j`` is item ``perm_e[g mod N]`` of epoch
    ``e = g // N`` (a seeded permutation per epoch). The key handed to the dataset is
    ``(epoch, index)`` so per-item augmentation randomness also depends only on the key.
    """

    def __init__(self, n_items: int, *, batch_size: int, seed: int, start: int, stop: int, dist_info: DistInfo):
        if n_items <= 0:
            raise UsageError("the training set is empty")
        self.n, self.batch, self.seed = n_items, batch_size, seed
        self.start, self.stop, self.dist = start, stop, dist_info
        self._perm_cache: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perm_cache:
            self._perm_cache = {epoch: np.random.default_rng([self.seed, epoch, 7]).permutation(self.n)}
        return self._perm_cache[epoch]

    def batch_keys(self, iteration: int) -> list[tuple[int, int]]:
        first = (iteration * self.dist.world_size + self.dist.rank) * self.batch
        keys = []
        for g in range(first, first + self.batch):
            epoch, pos = divmod(g, self.n)
            keys.append((epoch, int(self._perm(epoch)[pos])))
        return keys

    def __iter__(self) -> Iterator[list]:
        for it in range(self.start, self.stop):
            yield self.batch_keys(it)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


# --------------------------------------------------------------------------- pieces
def lr_at(cfg: TrainConfig, iteration: int) -> float:
    if cfg.warmup_iters and iteration < cfg.warmup_iters:
        return cfg.lr * (iteration + 1) / cfg.warmup_iters
    if cfg.schedule == "step":
        factor = 1.0
        for frac in cfg.step_at:
            if iteration >= int(frac * cfg.iters):
                factor *= cfg.step_gamma
        return cfg.lr * factor
    span = max(1, cfg.iters - cfg.warmup_iters)
    progress = min(1.0, (iteration - cfg.warmup_iters) / span)
    low = cfg.lr * cfg.min_lr_ratio
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress))


class EMA:
    """Exponential moving average of parameters and buffers (evaluated and exported)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, iteration: int) -> None:
        # Warm-up of the decay so early EMA weights are not dominated by the random init.
        d = min(self.decay, (1 + iteration) / (10 + iteration))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].lerp_(v.detach().float(), 1 - d)
            else:
                self.shadow[k].copy_(v)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        self.shadow = {k: v.clone().float() for k, v in sd.items()}


def _rng_state() -> dict[str, Any]:
    # Tensors, numbers, strings and tuples only, so a checkpoint loads with ``torch.load(weights_only=True)``
    # (resume, and ``irtool eval --weights runs/NAME/checkpoints/best.pt``); numpy's state tuple holds an ndarray.
    algorithm, keys, pos, has_gauss, cached = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
    numpy_state = {"algorithm": str(algorithm), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                   "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["algorithm"], numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


#: What :meth:`Trainer.checkpoint_state` writes and :meth:`Trainer.resume` needs (and "elapsed", the seconds
#: trained so far, which checkpoints written before it was added lack).
CHECKPOINT_KEYS = ("model", "ema", "optimizer", "scaler", "iteration", "best", "rng", "config", "history")
#: What a checkpoint older than the latest keeps: the EMA weights (what validation measured and an export
#: ships) and what names them; the optimizer state, 2x the weights with AdamW, only resume needs.
WEIGHTS_ONLY_KEYS = ("ema", "iteration", "best", "config", "history")


def read_training_checkpoint(path: Path) -> dict[str, Any]:
    """A training checkpoint's state, loaded with ``weights_only=True``: a file holding anything but tensors and
    plain values is refused, since unpickling an arbitrary object can run code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n|$)", str(exc))
        reason = f" ({found.group(1).strip()[:200]})" if found else ""
        raise UsageError(
            f"{path}: not loaded: a checkpoint may hold only tensors and plain values, and this one does not{reason}; "
            "unpickling anything else could run code"
        ) from None
    except Exception as exc:  # corrupt or foreign files fail in several ways
        raise UsageError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    if isinstance(state, dict) and "optimizer" not in state and all(k in state for k in WEIGHTS_ONLY_KEYS):
        raise UsageError(f"{path} holds the EMA weights only (checkpoints before a run's latest keep no optimizer "
                         "state): resume from the run's latest checkpoint, or start from these weights with "
                         "init_weights")
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise UsageError(f"{path}: not an irtool training checkpoint (no {', '.join(missing)})")
    return state


def append_metrics(path: Path, record: dict[str, Any]) -> None:
    """Add one record to a run's ``metrics.jsonl``.

    The one file training writes in place rather than through ``atomic_output``: it is a log that grows by a
    line at a time, and replacing it whole for every line would rewrite it thousands of times in a long run.
    A killed run can leave at most its last line incomplete.
    """
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as handle:
        handle.write(text.encode("utf-8"))


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


# --------------------------------------------------------------------------- the trainer
class Trainer:
    """Trains what ``objective_for(cfg)`` describes (:mod:`irtool.train.objectives`); see the module docstring."""

    def __init__(self, cfg: TrainConfig, *, on_log: LogCallback | None = None, on_note: NoteCallback | None = None,
                 on_progress: ProgressCallback | None = None, lower_batch_to_fit: bool = False):
        """``on_log`` gets each metrics record, ``on_note`` each line about a setting the run changed or where it
        resumed, ``on_progress`` (done, total) iterations; ``lower_batch_to_fit``: when the run would not fit in
        memory, train at the largest batch size that fits instead of refusing (for a batch size nobody chose)."""
        self.cfg = cfg
        self.on_log = on_log or (lambda rec: None)
        self._on_note = on_note or (lambda line: None)
        self.on_progress = on_progress or (lambda done, total: None)
        self.lower_batch_to_fit = lower_batch_to_fit
        self.objective = objective_for(cfg)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        random.seed(cfg.seed)
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.device = device_for_rank(cfg.device, local_rank)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.dist = init_distributed(self.device)
        self.run_dir = Path(cfg.out) / cfg.name
        self.ckpt_dir = self.run_dir / "checkpoints"

        self.model = self.objective.build_model()
        if cfg.init_weights:
            self.objective.load_init_weights(self.model, cfg.init_weights)
        self.model = self.model.to(self.device)
        if self.device.type == "cuda":
            # Module.to accepts memory_format at runtime; the stubs of torch < 2.14 omit it.
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload, unused-ignore]
        self.ema = EMA(self.model, cfg.ema_decay)
        decay: list[nn.Parameter] = []
        no_decay: list[nn.Parameter] = []
        for n, p in self.model.named_parameters():
            (no_decay if p.ndim <= 1 or "temperature" in n else decay).append(p)
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr, betas=cfg.betas,
        )
        self.amp_dtype = None
        if cfg.amp and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.iteration = 0
        self.best: float | None = None
        self.history: list[dict[str, Any]] = []
        #: Seconds trained before this process (from the resumed checkpoint): metrics' "time" runs on across resumes.
        self.elapsed_before = 0.0
        self._started = time.monotonic()
        #: The batch size of the resumed checkpoint's run, which a batch size nobody chose keeps (exact resume).
        self._resumed_batch_size: int | None = None
        self._stop_reason: str | None = None

    def on_note(self, line: str) -> None:
        if self.dist.is_main:  # one line per run, not one per rank
            self._on_note(line)

    # ..................................................................... checkpoints
    def elapsed(self) -> float:
        """Seconds trained so far, across resumes."""
        return self.elapsed_before + time.monotonic() - self._started

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "model": _unwrap(self.model).state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "iteration": self.iteration,
            "best": self.best,
            "rng": _rng_state(),
            "config": self.cfg.to_toml(),
            "history": self.history,
            "elapsed": self.elapsed(),
        }

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/iter_N.pt`` with everything an exact resume needs; the older ones kept are cut down
        to their EMA weights, and those beyond ``keep_last`` deleted."""
        if not self.dist.is_main:
            return None
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        state = self.checkpoint_state()
        path = self.ckpt_dir / f"iter_{self.iteration:08d}.pt"
        with atomic_output(path) as handle:
            torch.save(state, handle)
        kept = sorted(self.ckpt_dir.glob("iter_*.pt"))
        for old in kept[: max(0, len(kept) - self.cfg.keep_last)]:
            old.unlink(missing_ok=True)
        for older in kept[max(0, len(kept) - self.cfg.keep_last):-1]:
            _keep_weights_only(older)
        return path

    def save_best(self) -> Path | None:
        """``best.safetensors``: the EMA weights of the best validation score so far (what validation measured)."""
        if not self.dist.is_main:
            return None
        from irtool.weights.checkpoints import save_safetensors

        path = self.run_dir / "best.safetensors"
        save_safetensors(self.ema.state_dict(), path,
                         metadata=self.objective.export_metadata(_unwrap(self.model), iterations=self.iteration))
        return path

    def latest_checkpoint(self) -> Path | None:
        found = sorted(self.ckpt_dir.glob("iter_*.pt"))
        return found[-1] if found else None

    def resume(self, path: str | Path) -> Path | None:
        """Continue from checkpoint ``path`` ("auto": the run's latest, if any); returns the file resumed."""
        p = self.latest_checkpoint() if str(path) == "auto" else Path(path)
        if p is None:
            return None
        if not p.is_file():
            raise UsageError(f"checkpoint to resume not found: {p}")
        state = read_training_checkpoint(p)
        _unwrap(self.model).load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.ema.shadow = {k: v.to(self.device) for k, v in self.ema.shadow.items()}
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.iteration = int(state["iteration"])
        self.best = state["best"]
        self.history = list(state["history"])
        # Checkpoints from before "elapsed" was saved: the last record's time is the best known.
        times = [r["time"] for r in self.history if "time" in r]
        self.elapsed_before = float(state.get("elapsed", times[-1] if times else 0.0))
        self._started = time.monotonic()
        from irtool.tomlio import TOMLDecodeError, loads

        try:
            self._resumed_batch_size = int(loads(state["config"])["batch_size"])
        except (TOMLDecodeError, KeyError, TypeError, ValueError):
            self._resumed_batch_size = None
        _set_rng_state(state["rng"])
        return p

    # ..................................................................... validation
    @torch.no_grad()
    def validate(self, val) -> dict[str, float]:
        """The objective's metrics of the EMA weights on ``val``, each the mean over all ranks' items."""
        model = _unwrap(self.model)
        live = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict({k: v.to(live[k].dtype) for k, v in self.ema.state_dict().items()})
        model.eval()
        try:
            items = (val[i] for i in range(self.dist.rank, len(val), self.dist.world_size))
            scores = self.objective.validation_scores(model, items, self.device)
        finally:
            model.load_state_dict(live)
            model.train()
        # Every rank takes part in every reduction (a rank may hold no image of a kind).
        return {k: all_reduce_sum_count(sum(scores[k]), len(scores[k]), self.dist, self.device)
                for k in self.objective.metrics}

    # ..................................................................... training
    def _request_stop(self, signum, _frame) -> None:
        self._stop_reason = "interrupted"

    def _step(self, batch: dict[str, torch.Tensor]) -> float:
        lq = batch["lq"].to(self.device, non_blocking=True)
        if self.device.type == "cuda":
            lq = lq.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            loss = self.objective.loss(self.model, {**batch, "lq": lq}, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    def plan(self) -> None:
        """Fit the schedule to the run's length and the run to the memory budget (``cfg`` may change: the
        warm-up, the batch size); each change is a note."""
        cfg, note = fit_schedule_to_run(self.cfg)
        if note:
            self.on_note(note)
        preset = self.objective.preset
        estimate = estimate_training_memory(
            _unwrap(self.model), channels=preset.in_channels, patch_size=cfg.patch_size,
            multiple=preset.size_multiple, minimum=preset.min_input_side, device=self.device, amp_dtype=self.amp_dtype,
        )
        budget, where = memory_budget(self.device, cfg.memory_limit)
        wanted = cfg.batch_size
        if self.lower_batch_to_fit and self._resumed_batch_size:
            wanted = self._resumed_batch_size  # a resumed run keeps its batch size, so it resumes exactly
        error: TrainingMemoryError | None = None
        try:
            batch, note = check_fits(estimate, batch_size=wanted, patch_size=cfg.patch_size, budget=budget,
                                     where=where, preset=cfg.preset, task=cfg.task,
                                     lower_batch=self.lower_batch_to_fit)
        except TrainingMemoryError as exc:
            error, batch, note = exc, 0, None
        # Every rank trains at one batch size, and stops together when one rank cannot fit.
        agreed = all_reduce_min(batch, self.dist, self.device)
        if error is not None:
            raise error
        if agreed == 0:
            raise TrainingMemoryError(f"training {cfg.preset} does not fit in the memory of another rank", [])
        if note:
            self.on_note(note)
        self.cfg = cfg.replace(batch_size=agreed)

    def _out_of_memory(self) -> NoReturn:
        """After a real out-of-memory error (CUDA): save a checkpoint and stop with what should fit."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        saved = self.save_checkpoint() is not None
        raise out_of_memory_error(self.device, iteration=self.iteration, batch_size=self.cfg.batch_size,
                                  patch_size=self.cfg.patch_size, saved=saved)

    def fit(self) -> TrainResult:
        if self.cfg.resume:
            resumed = self.resume(self.cfg.resume)
            if resumed is not None:
                self.on_note(f"resumed from iteration {self.iteration} ({resumed})")
            elif str(self.cfg.resume) == "auto":
                self.on_note(f"no checkpoint to resume in {self.ckpt_dir}: starting at iteration 0")
        if self.iteration >= self.cfg.iters:
            return self._already_complete()
        self.plan()
        cfg = self.cfg
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            _write_text(self.run_dir / "config.toml", cfg.to_toml())
        train_set, val_set = self.objective.datasets()
        if self.dist.enabled:
            self.model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        sampler = IterationBatchSampler(
            len(train_set), batch_size=cfg.batch_size, seed=cfg.seed, start=self.iteration, stop=cfg.iters,
            dist_info=self.dist,
        )
        from irtool.data import seed_worker

        loader = torch.utils.data.DataLoader(
            train_set, batch_sampler=sampler, num_workers=cfg.workers, persistent_workers=False,
            pin_memory=self.device.type == "cuda", worker_init_fn=seed_worker if cfg.workers > 0 else None,
        )
        old_handlers = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        started = self._started = time.monotonic()
        window_loss, window_start, window_iters = 0.0, time.monotonic(), 0
        metrics_path = self.run_dir / "metrics.jsonl"
        self.model.train()
        if self.dist.is_main:
            self.on_progress(self.iteration, cfg.iters)
        try:
            for batch in loader:
                for group in self.optimizer.param_groups:
                    group["lr"] = lr_at(cfg, self.iteration)
                out_of_memory = False
                try:
                    loss = self._step(batch)
                except torch.cuda.OutOfMemoryError:
                    out_of_memory = True  # handled outside the except block, which holds the failed step's tensors
                if out_of_memory:
                    self._out_of_memory()
                if not math.isfinite(loss):
                    raise InvalidArgumentError(f"loss became {loss} at iteration {self.iteration}; lower the learning "
                                               "rate or enable clipping", argument="lr")
                self.ema.update(_unwrap(self.model), self.iteration)
                self.iteration += 1
                window_loss += loss
                window_iters += 1
                record: dict[str, Any] | None = None
                if self.iteration % cfg.log_every == 0 or self.iteration == cfg.iters:
                    elapsed = time.monotonic() - window_start
                    record = {
                        "iter": self.iteration,
                        "loss": all_reduce_mean(window_loss / window_iters, self.dist, self.device),
                        "lr": lr_at(cfg, self.iteration - 1),
                        "it_s": window_iters / max(elapsed, 1e-9),
                        "time": self.elapsed(),
                    }
                    window_loss, window_start, window_iters = 0.0, time.monotonic(), 0
                is_val = val_set is not None and (self.iteration % cfg.val_every == 0 or self.iteration == cfg.iters)
                improved = False
                if is_val:
                    scores = self.validate(val_set)
                    record = {**(record or {"iter": self.iteration}), **{f"val_{k}": v for k, v in scores.items()}}
                    score = record.get(self.objective.best_key)
                    if score is not None and self.objective.improves(score, self.best):
                        self.best, improved = score, True
                if record is not None:
                    self.history.append(record)
                    if self.dist.is_main:
                        append_metrics(metrics_path, record)
                        self.on_log({**record, "total": cfg.iters})
                if improved:
                    self.save_best()
                if self.iteration % cfg.ckpt_every == 0:
                    self.save_checkpoint()
                if self.dist.is_main:
                    self.on_progress(self.iteration, cfg.iters)
                if cfg.time_limit and time.monotonic() - started > cfg.time_limit:
                    self._stop_reason = self._stop_reason or "time-limit"
                if self._stop_reason:
                    break
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)
        stopped = self._stop_reason or "finished"
        if stopped != "finished" or self.iteration % cfg.ckpt_every != 0:
            self.save_checkpoint()
        final = None
        warnings: list[str] = []
        if stopped == "finished" and self.dist.is_main:
            final = self.export_final()
            write_curves(self.history, self.run_dir / "curves.png", score_key=self.objective.best_key,
                         reference_key=self.objective.reference_key)
            warnings = self.result_warnings()
        barrier(self.dist)
        cleanup(self.dist)
        return TrainResult(self.run_dir, self.iteration, final, self.best, stopped, self.history, warnings=warnings)

    def _already_complete(self) -> TrainResult:
        """A resumed run with no iterations left: nothing is trained or rewritten (the final weights are exported
        if a previous process stopped before writing them)."""
        final = self.run_dir / "final.safetensors"
        if self.dist.is_main and not final.is_file():
            final = self.export_final()
        barrier(self.dist)
        cleanup(self.dist)
        return TrainResult(self.run_dir, self.iteration, final, self.best, "complete", self.history)

    def result_warnings(self) -> list[str]:
        """Lines about a finished run's result: weights that make the validation images worse than their input."""
        key, reference = self.objective.best_key, self.objective.reference_key
        last = next((r for r in reversed(self.history) if key in r and reference and reference in r), None)
        # Clean photos in the validation mixture (their own target) make the input's mean PSNR infinite: there is
        # then no input score to fall below.
        if last is None or reference is None or not math.isfinite(last[reference]) \
                or not self.objective.improves(last[reference], last[key]):
            return []
        best = self.objective.best_record(self.history)
        assert best is not None  # ``last`` is a scored record
        metric = key.removeprefix("val_").upper()
        also = ("best.safetensors too" if self.objective.improves(best[reference], best[key]) else
                f"best.safetensors, iteration {best['iter']}: {best[key]:.2f}, is better than the input")
        return [f"the final weights make the validation images worse: {metric} {last[key]:.2f} against "
                f"{last[reference]:.2f} for the input ({also}); train longer or check the learning rate"]

    def export_final(self) -> Path:
        """``final.safetensors`` (the EMA weights); ``best.safetensors`` is written at each better validation."""
        from irtool.weights.checkpoints import read_checkpoint, save_safetensors

        path = self.run_dir / "final.safetensors"
        model = _unwrap(self.model)
        save_safetensors(self.ema.state_dict(), path,
                         metadata=self.objective.export_metadata(model, iterations=self.iteration))
        legacy_best = self.ckpt_dir / "best.pt"
        if legacy_best.is_file() and not (self.run_dir / "best.safetensors").is_file():
            # A run started before best.safetensors was written during training kept its best as best.pt.
            state = read_training_checkpoint(legacy_best)
            weights, _ = read_checkpoint(legacy_best)
            save_safetensors(weights, self.run_dir / "best.safetensors",
                             metadata=self.objective.export_metadata(model, iterations=int(state["iteration"])))
        return path


def _keep_weights_only(path: Path) -> None:
    """Cut a full training checkpoint down to :data:`WEIGHTS_ONLY_KEYS` (files already cut or unreadable are left)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # a file that cannot be read is not ours to rewrite
        return
    if not isinstance(state, dict) or "optimizer" not in state or not all(k in state for k in WEIGHTS_ONLY_KEYS):
        return
    # Copied out of the mapped file, which the atomic write then replaces.
    kept = {k: ({n: t.clone() for n, t in state[k].items()} if k == "ema" else state[k]) for k in WEIGHTS_ONLY_KEYS}
    del state
    with atomic_output(path) as handle:
        torch.save(kept, handle)


def train(cfg: TrainConfig, *, on_log: LogCallback | None = None, on_note: NoteCallback | None = None,
          on_progress: ProgressCallback | None = None, lower_batch_to_fit: bool = False) -> TrainResult:
    """Run (or resume) a training run described by ``cfg``; see :class:`Trainer`."""
    return Trainer(cfg, on_log=on_log, on_note=on_note, on_progress=on_progress,
                   lower_batch_to_fit=lower_batch_to_fit).fit()

