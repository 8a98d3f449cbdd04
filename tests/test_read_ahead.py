"""The batch's read-ahead decoder (irtool.io.ReadAhead): same images, same errors, in order, each decoded once."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irtool import io
from irtool.errors import InputError


def _photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    paths = []
    for k in range(count):
        pixels = np.random.default_rng(k).integers(0, 256, (24 + k, 32, 3), dtype=np.uint8)
        paths.append(folder / f"p{k}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


class CountingReader:
    """io.read_image, recording which files it decoded and on which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, path: Path) -> io.LoadedImage:
        self.calls.append((path.name, threading.current_thread().name))
        return io.read_image(path)


def test_read_ahead_gives_each_job_its_own_image_decoded_once_on_the_reading_thread(tmp_path):
    paths = _photos(tmp_path / "in", 4)
    jobs = [io.Job(p, tmp_path / "out" / p.name) for p in paths]
    reader = CountingReader()
    with io.ReadAhead(jobs, reader=reader) as ahead:
        for job in jobs:
            np.testing.assert_array_equal(ahead.read(job).pixels, io.read_image(job.source).pixels)
    assert [name for name, _ in reader.calls] == [p.name for p in paths]
    assert all(thread.startswith("irtool-read") for _, thread in reader.calls)
    assert not any(t.name.startswith("irtool-read") and t.is_alive() for t in threading.enumerate())


def test_read_ahead_skips_what_will_not_be_read_and_a_job_skipped_after_it_was_queued(tmp_path):
    paths = _photos(tmp_path / "in", 4)
    jobs = [io.Job(p, tmp_path / "out" / p.name) for p in paths]
    jobs.insert(1, io.Job(tmp_path / "missing.png", Path(), problem="no such file"))
    reader = CountingReader()
    ahead_only = lambda job: job.problem is None and job.source != paths[3]  # noqa: E731
    with io.ReadAhead(jobs, reader=reader, will_read=ahead_only) as ahead:
        assert ahead.read(jobs[0]).pixels.shape[0] == 24
        # jobs[2] (p1) is queued now; the caller skips it and asks for p2: p2 is still p2.
        assert ahead.read(jobs[3]).pixels.shape[0] == 26
        # p3 was never to be read ahead; asked for anyway, it is decoded on the caller's thread.
        assert ahead.read(jobs[4]).pixels.shape[0] == 27
    decoded = [name for name, _ in reader.calls]
    assert "missing.png" not in decoded and decoded.count("p2.png") == 1 and decoded.count("p3.png") == 1
    assert ("p3.png", threading.current_thread().name) in reader.calls


def test_read_ahead_raises_a_bad_files_error_for_that_file_and_goes_on(tmp_path):
    paths = _photos(tmp_path / "in", 3)
    paths[1].write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    jobs = [io.Job(p, tmp_path / "out" / p.name) for p in paths]
    with io.ReadAhead(jobs) as ahead:
        ahead.read(jobs[0])
        with pytest.raises(InputError):
            ahead.read(jobs[1])
        np.testing.assert_array_equal(ahead.read(jobs[2]).pixels, io.read_image(paths[2]).pixels)


def test_read_ahead_after_close_decodes_on_the_callers_thread(tmp_path):
    paths = _photos(tmp_path / "in", 2)
    jobs = [io.Job(p, tmp_path / "out" / p.name) for p in paths]
    reader = CountingReader()
    ahead = io.ReadAhead(jobs, reader=reader)
    ahead.close()
    ahead.close()  # twice is harmless
    assert ahead.read(jobs[1]).pixels.shape[0] == 25
    assert reader.calls[-1] == ("p1.png", threading.current_thread().name)


def test_will_decode_follows_overwrite_and_detect_only(tmp_path):
    (tmp_path / "out.png").write_bytes(b"x")
    existing = io.Job(tmp_path / "a.png", tmp_path / "out.png")
    fresh = io.Job(tmp_path / "a.png", tmp_path / "new.png")
    named_nothing = io.Job(tmp_path / "a.png", Path(), problem="no such file")
    assert not io.will_decode(existing, overwrite=False, detect_only=False)
    assert io.will_decode(existing, overwrite=True, detect_only=False)
    assert io.will_decode(existing, overwrite=False, detect_only=True)
    assert io.will_decode(fresh, overwrite=False, detect_only=False)
    assert not io.will_decode(named_nothing, overwrite=True, detect_only=True)
