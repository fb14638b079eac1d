"""An evaluation under torchrun (2 gloo processes) writes the one-process results, byte for byte;
a run whose rank died is resumed by a rerun."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch.multiprocessing as mp

import srfacebench.streaming as streaming
from srfacebench.config import RunConfig
from srfacebench.engine import execute
from srfacebench.plan import make_plan
from srfacebench.streaming import StreamCounts

SHARD = 2  # 8 images in 4 shards: each of two ranks computes two


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tiny_data, tmp_path: Path, out: str) -> RunConfig:
    data_root, proto = tiny_data
    return RunConfig(
        models=("bicubic",), protocols=(str(proto),), scales=(4,), out=tmp_path / out, data_root=data_root,
        cache_dir=tmp_path / "chips", progress=False, report=False, batch_size=2,
    )  # fmt: skip


def _worker(rank: int, cfg: RunConfig, port: int, fail_after: int | None) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))  # fmt: skip
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    streaming.SHARD = SHARD
    if fail_after is not None and rank == 1:  # rank 1 dies after saving `fail_after` shards
        save = streaming.PoolStream._save
        saved = []

        def dying_save(self, k, *a):
            save(self, k, *a)
            saved.append(k)
            if len(saved) == fail_after:
                os._exit(3)

        streaming.PoolStream._save = dying_save
    try:
        execute(make_plan(cfg))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _single(cfg: RunConfig, monkeypatch) -> StreamCounts:
    monkeypatch.setattr(streaming, "SHARD", SHARD)
    counts = StreamCounts()
    execute(make_plan(cfg), counts)
    return counts


def test_two_ranks_write_the_one_process_results(tiny_data, tmp_path, monkeypatch):
    one = _config(tiny_data, tmp_path, "one")
    counts = _single(one, monkeypatch)
    two = _config(tiny_data, tmp_path, "two")
    mp.spawn(_worker, args=(two, _free_port(), None), nprocs=2, join=True)
    for name in ("results.csv", "pairs.csv"):
        assert (two.out / name).read_bytes() == (one.out / name).read_bytes(), name
    prov = json.loads((two.out / "results.json").read_text())["provenance"]
    assert prov["world_size"] == 2
    # Both ranks worked (each its own shards), and the summed work is the one process's.
    assert prov["work"]["decoded"] == counts.decoded == 8
    assert prov["work"]["embedded"] == counts.embedded
    assert prov["work"]["decoded_by_rank"] == {"tiny": [4, 4]}
    assert not (two.out / ".srfacebench.lock").read_text()  # rank 0 held the lock and let it go


def test_a_killed_rank_leaves_a_folder_a_rerun_resumes(tiny_data, tmp_path, monkeypatch):
    one = _config(tiny_data, tmp_path, "one")
    _single(one, monkeypatch)
    two = _config(tiny_data, tmp_path, "two")
    with pytest.raises(Exception, match="terminated with exit code 3"):
        mp.spawn(_worker, args=(two, _free_port(), 1), nprocs=2, join=True)
    assert not (two.out / "results.csv").exists()
    counts = _single(two, monkeypatch)  # one process resumes: only what the dead rank had not saved
    assert 0 < counts.decoded < 8
    assert (two.out / "results.csv").read_bytes() == (one.out / "results.csv").read_bytes()


def test_rank0_failure_reaches_every_rank(tiny_data, tmp_path):
    """A run folder holding another plan's results is refused by rank 0; rank 1 stops too
    (instead of waiting for work that never comes)."""
    cfg = _config(tiny_data, tmp_path, "taken")
    cfg.out.mkdir()
    (cfg.out / "results.json").write_text(json.dumps({"provenance": {"plan": {"protocols": ["other"]}}}))
    with pytest.raises(Exception, match="holds the results of another run"):
        mp.spawn(_worker, args=(cfg, _free_port(), None), nprocs=2, join=True)
    assert not (cfg.out / "results.csv").exists()


def test_torchrun_cli(tiny_data, tmp_path):
    """``torchrun --nproc-per-node 2 -m srfacebench.cli run`` (the real launcher, one shard: rank 1
    has nothing to do) writes the one-process results; only rank 0 prints the table."""
    data_root, proto = tiny_data
    args = ["run", "--protocol", str(proto), "--scale", "4", "--data-root", str(data_root), "--cache-dir",
            str(tmp_path / "chips"), "--no-progress", "--no-report"]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "srfacebench.cli", *args, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert one.returncode == 0, one.stderr
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                str(_free_port()), "-m", "srfacebench.cli"]  # fmt: skip
    two = subprocess.run([*launcher, *args, "--out", str(tmp_path / "two")], capture_output=True, text=True,
                         env=env, timeout=300)  # fmt: skip
    assert two.returncode == 0, two.stderr
    assert (tmp_path / "two" / "results.csv").read_bytes() == (tmp_path / "one" / "results.csv").read_bytes()
    assert two.stdout.count("wrote results.csv") == 1
    assert json.loads((tmp_path / "two" / "results.json").read_text())["provenance"]["world_size"] == 2
