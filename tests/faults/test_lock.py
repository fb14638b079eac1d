"""The run lock under contention: many processes, one holder at a time, a killed holder's lock free."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import time
from pathlib import Path

from srfacebench.errors import SrfacebenchError
from srfacebench.io import RunLock


def _contend(folder: str, log: str, start: float) -> None:
    while time.time() < start:
        time.sleep(0.001)
    for _ in range(20):
        lock = RunLock(folder)
        try:
            lock.acquire()
        except SrfacebenchError:
            time.sleep(0.002)
            continue
        t0 = time.monotonic_ns()
        time.sleep(0.01)
        t1 = time.monotonic_ns()
        lock.release()
        with open(log, "a") as f:
            f.write(f"{t0} {t1}\n")


def test_many_processes_never_hold_the_lock_at_once(tmp_path):
    log = tmp_path / "held.txt"
    start = time.time() + 0.5
    procs = [mp.get_context("spawn").Process(target=_contend, args=(str(tmp_path), str(log), start)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    spans = sorted(tuple(map(int, line.split())) for line in log.read_text().splitlines())
    assert len(spans) >= 8  # the lock was taken many times
    for (_, end), (begin, _) in itertools.pairwise(spans):
        assert begin >= end  # intervals never overlap


def test_a_pid_file_without_a_kernel_lock_is_no_lock(tmp_path):
    (Path(tmp_path) / RunLock.NAME).write_text("12345")  # what an old, killed run left
    with RunLock(tmp_path) as lock:
        assert lock.held
