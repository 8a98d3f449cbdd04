"""A batch's plan (one :class:`Job` per input file) and the reader that decodes its images ahead of the restorer.

No PyTorch here: the command plans its batch and starts decoding the first photo before it imports the network
code, so the decode overlaps PyTorch's import and model loading (README "Speed and memory").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from irtool.errors import InvalidArgumentError, UsageError
from irtool.io.images import LoadedImage, read_image
from irtool.io.inputs import count_kinds, file_output_format, find_inputs, other_files, plan_outputs
from irtool.io.shard import parse_shard, select_shard, shard_from_env


@dataclass(frozen=True)
class Job:
    source: Path
    output: Path
    #: Why this input argument gave no file (a missing path, a pattern matching nothing): reported as an error
    #: record in its place, while the rest of the batch runs.
    problem: str | None = None


def plan_jobs(
    inputs: Sequence[str],
    out_dir: Path,
    *,
    fmt: str | None = None,
    shard: str | None = None,
) -> list[Job]:
    """Expand inputs, pick this process's shard, and map each file to its mirrored output path.

    An argument that names nothing becomes a :class:`Job` with its ``problem`` (so one mistyped name among many
    costs one error record, not the batch); ``UsageError`` only when no argument names an image. The output
    folder is never read as input, even when it lies inside an input folder. An ``out_dir`` that names an image
    file (:func:`~irtool.io.inputs.file_output_format`) is the one output of a single input.
    """
    items, problems = find_inputs(list(inputs), exclude=(out_dir,))
    if not items:
        if problems:
            raise UsageError(f"{problems[0][0]}: {problems[0][1]}")
        if not inputs:
            raise UsageError("no inputs given")
        # Folders without an image: say what they hold instead (a folder of HEIC or GIF files is the usual case).
        others = other_files(list(inputs), exclude=(out_dir,))
        held = (f"no image irtool reads, only {len(others)} other file{'s' if len(others) != 1 else ''} "
                f"({count_kinds(others)})" if others else "no image files")
        raise UsageError(f"{', '.join(inputs)}: {held}; irtool reads PNG, JPEG, WebP, TIFF, BMP and PPM/PGM")
    if file_output_format(out_dir, fmt) is not None:
        if len(items) + len(problems) > 1:
            raise UsageError(f"--output {out_dir} names one file, but {len(items) + len(problems)} inputs were given; "
                             "name a folder for several")
        planned = [(items[0], out_dir)]
    else:
        # Plan every output before sharding, so all shards agree on names and collisions fail up front.
        planned = plan_outputs(items, out_dir, format=fmt)
    selected = parse_shard(shard) if shard else shard_from_env()
    if selected is not None:
        planned = select_shard(planned, selected.index, selected.count)
    jobs = [Job(Path(item.source), Path(target)) for item, target in planned]
    sources = {j.source.resolve() for j in jobs}
    clashes = [j for j in jobs if j.output.resolve() in sources]
    if clashes:
        raise InvalidArgumentError(f"output {clashes[0].output} would overwrite an input; choose another output "
                                   "folder", argument="output")
    if selected is None or selected.index == 0:  # one shard (the first) reports the arguments that named nothing
        jobs += [Job(Path(argument), Path(), problem=reason) for argument, reason in problems]
    return jobs


def will_decode(job: Job, *, overwrite: bool, detect_only: bool) -> bool:
    """Whether a restore decodes ``job``'s image: not for an input that named nothing, nor for an output that exists
    and is not to be redone (``--detect-only`` writes nothing, so it reads every image)."""
    return job.problem is None and (overwrite or detect_only or not job.output.exists())


class ReadAhead:
    """Decodes a batch's images in order on one background thread, one image ahead of the caller.

    :meth:`read` hands over a job's image and starts decoding the next job's, so the decode (Pillow and imagecodecs
    release the GIL) runs while the restorer works on the image before it; the first decode starts at once. Only
    jobs ``will_read`` accepts are decoded ahead (not those with a problem, or whose output exists and will be
    skipped). A job read out of turn is decoded on the caller's thread, as is every job after :meth:`close`. A
    decode's error is raised by :meth:`read`, where a direct :func:`read_image` call would have raised it. Holds at
    most one decoded image beyond the caller's.
    """

    def __init__(self, jobs: Sequence[Job], *, will_read: Callable[[Job], bool] = lambda job: job.problem is None,
                 reader: Callable[[Path], LoadedImage] = read_image) -> None:
        self._reader = reader
        self._waiting = deque(job for job in jobs if will_read(job))
        self._queued: deque[tuple[Job, Future[LoadedImage]]] = deque()
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1,
                                                                       thread_name_prefix="irtool-read")
        self._queue_next()

    def _queue_next(self) -> None:
        if self._executor is not None and not self._queued and self._waiting:
            job = self._waiting.popleft()
            self._queued.append((job, self._executor.submit(self._reader, job.source)))

    def read(self, job: Job) -> LoadedImage:
        """``job``'s decoded image (raising what decoding it raised); the next job's decode starts now."""
        if self._queued and self._queued[0][0] is job:
            future = self._queued.popleft()[1]
            self._queue_next()
            return future.result()
        if any(waiting is job for waiting in self._waiting):  # the job decoded ahead was skipped after all
            for _, skipped in self._queued:
                skipped.cancel()
            self._queued.clear()
            while self._waiting.popleft() is not job:
                pass
            self._queue_next()
        return self._reader(job.source)

    def close(self) -> None:
        """Cancel what is queued and wait for a decode under way (an interrupted batch leaves no thread behind)."""
        if self._executor is not None:
            self._queued.clear()
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
