"""Distributed helpers shared by the trainer and the engine: the process group from torchrun's
environment (each rank on its own GPU), rank and world size, a barrier, work done by rank 0 with
its outcome (value or failure) given to every rank, objects gathered from every rank, and
BatchNorm whose batch statistics are summed over every rank. Everything degrades to one process
when no group is initialised."""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "RankFailed",
    "SyncBatchNorm",
    "barrier",
    "convert_sync_batchnorm",
    "gather",
    "init_from_env",
    "on_rank0",
    "world",
]

T = TypeVar("T")


class RankFailed(RuntimeError):
    """Raised on the other ranks when rank 0's share of the work failed (rank 0 raises the error itself)."""


def init_from_env(device: str) -> None:
    """Join torchrun's process group (``WORLD_SIZE`` > 1): NCCL on CUDA devices, gloo on CPU.

    With ``device="cuda"`` each rank makes GPU ``LOCAL_RANK`` its current device, so that "cuda"
    means its own GPU (``cuda:N`` is left as given)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if device == "cuda" and torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        atexit.register(_leave)


def _leave() -> None:
    """Leave the process group before the interpreter exits. A gloo group left to the interpreter's
    teardown can abort the process ("terminate called without an active exception", seen on the idle
    rank of a 2-process CI run), and torchrun then kills the other ranks in the middle of their work."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    """Wait for every rank (a no-op in one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def on_rank0(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and give its value to every rank (pickled); every rank waits for it.

    If ``fn`` fails, rank 0 raises its error and every other rank raises :class:`RankFailed`
    naming it, so no rank waits forever for work that will not come. In one process: ``fn()``.
    """
    rank, size = world()
    if size == 1:
        return fn()
    box: list[Any] = [None]
    error: BaseException | None = None
    if rank == 0:
        try:
            box[0] = (True, fn())
        except BaseException as e:  # every rank must hear of it, whatever it is
            error = e
            box[0] = (False, f"{type(e).__name__}: {e}")
    dist.broadcast_object_list(box, src=0)
    ok, value = box[0]
    if error is not None:
        raise error
    if not ok:
        raise RankFailed(f"rank 0 failed: {value}")
    return value


def gather(obj: T) -> list[T]:
    """``obj`` of every rank, in rank order, on every rank (``[obj]`` in one process)."""
    size = world()[1]
    if size == 1:
        return [obj]
    out: list[Any] = [None] * size
    dist.all_gather_object(out, obj)
    return out


class SyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose batch statistics are summed over all ranks (CPU and GPU, differentiable)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        import warnings

        from torch.distributed.nn.functional import all_reduce

        n = torch.tensor(float(x.shape[0] * x.shape[2] * x.shape[3]), device=x.device)
        stats = torch.cat([x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3)), n.view(1)])
        with warnings.catch_warnings():  # the differentiable all_reduce is marked deprecated, not replaced
            warnings.simplefilter("ignore", FutureWarning)
            stats = all_reduce(stats)
        c = x.shape[1]
        total = stats[-1]
        mean = stats[:c] / total
        var = stats[c : 2 * c] / total - mean * mean
        with torch.no_grad():
            m = self.momentum if self.momentum is not None else 0.1
            self.running_mean.mul_(1 - m).add_(m * mean)
            self.running_var.mul_(1 - m).add_(m * var * total / (total - 1))
            self.num_batches_tracked.add_(1)
        y = (x - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + self.eps)
        return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d in ``module`` by :class:`SyncBatchNorm` (statistics kept)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, SyncBatchNorm):
            new = SyncBatchNorm(child.num_features, child.eps, child.momentum)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert_sync_batchnorm(child)
    return module
