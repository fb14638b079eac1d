"""Two-phase SR training with the FR loss (Abello & Hirata), single process or under torchrun.

Phase 1 ("base"): MSE only, Adam (lr 1e-4). Phase 2, from the base, two branches with the same
number of steps and the same data order: "vanilla" (MSE) and "fr" (w_mse·MSE + w_fr·FR loss),
Adam (lr 1e-5). w_mse = 0.5 / MSE₀ and w_fr = 0.5 / FR₀, measured with the base model on the first
fine-tuning batches, so each term is about half of the loss at the start (logged). The FR
network (``train_fr``, independent of the evaluation embedder) is frozen; its BatchNorm layers
run in train mode (the paper's choice) unless ``fr_bn_mode = "eval"``.

From a published model (``init``, e.g. ``zoo:span-x4-ch52``, ``spandrel`` with weights, or
``srresnet``): phase 1 is skipped and both branches start from that model's weights (its upstream
pre- and post-processing kept); its parameters are all trained. Exported as
``<name>-ft-<branch>-x<scale>.safetensors``, loadable with ``--model <init> --model-args
weights=FILE`` (zoo models; the file's metadata names it ``<name>-ft-<branch>``).

Data: the CelebA train split under ``data_root/celeba`` aligned with the library's own
``align`` (cached), degraded by the same degradation specs as evaluation (``degradation``,
default ``bicubic:<scale>``; per-image noise is seeded by (step, position)); the last ``val_identities``
identities (sorted) are held out for model selection. Batches are a pure function of (seed,
step), so a resumed run, every rank and both branches see exactly the same data.

Scale-out: under ``torchrun`` (``WORLD_SIZE`` > 1) each rank takes a slice of the global batch,
gradients are averaged by DistributedDataParallel (NCCL on GPUs, gloo on CPU) and BatchNorm
statistics are synchronised across ranks, so N processes compute what one process computes on
the global batch.
"""

from __future__ import annotations

import copy
import csv
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .data.chips import ChipDataset, default_cache_dir, ensure_aligned
from .data.identity import load_celeba
from .degradations import Degradation, parse_degradation
from .distributed import barrier as _barrier
from .distributed import convert_sync_batchnorm as _sync_bn
from .distributed import init_from_env
from .distributed import world as _world
from .io import atomic_write_bytes, atomic_write_text
from .losses import FRLoss
from .registry import load_embedder

__all__ = ["TrainConfig", "make_optimizer", "train", "train_step"]


@dataclass
class TrainConfig:
    data_root: str
    out: str
    scale: int = 4
    base_steps: int = 2000
    finetune_steps: int = 500
    batch_size: int = 16
    patch: int = 96  # HR patch size in phase 1 (0 = whole chip); phase 2 always uses whole chips
    lr_base: float = 1e-4
    lr_finetune: float = 1e-5
    train_fr: str = "dlib-resnet29"
    train_fr_weights: str | None = None  # a weights file for the FR network (e.g. dlib as fp16 safetensors)
    fr_bn_mode: str = "train"
    val_identities: int = 20
    val_images: int = 64
    checkpoint_every: int = 200
    seed: int = 0
    device: str = "cpu"
    channels: int = 64
    blocks: int = 10
    limit_images: int | None = None  # for tests: use only the first N training chips
    cache_dir: str | None = None
    chips_file: str | None = None  # aligned chips packed by srfacebench.data.pack (instead of aligning CelebA)
    init: str | None = None  # fine-tune this model (a --model spec) instead of training SRResNet: no phase 1
    init_args: dict[str, Any] | None = None  # its --model-args
    degradation: str | None = None  # a degradation spec (default bicubic:<scale>), as in evaluation
    name: str | None = None  # the exports' name stem (default <init name>-ft): <name>-vanilla, <name>-fr

    def degrade(self) -> Degradation:
        spec = self.degradation or f"bicubic:{self.scale}"
        deg = parse_degradation(spec)
        if deg.scale != self.scale:
            raise ValueError(f"degradation {spec!r} down-scales by {deg.scale}, but the training scale is {self.scale}")
        return deg


def _split(labels: list[int], n_ids: int, cfg: TrainConfig) -> tuple[list[int], list[int], int]:
    """Train and validation indices: the last ``val_identities`` identities are held out."""
    n_val_ids = min(cfg.val_identities, n_ids - 1)
    val_labels = set(range(n_ids - n_val_ids, n_ids))
    train_idx = [i for i, lbl in enumerate(labels) if lbl not in val_labels]
    val_idx = [i for i, lbl in enumerate(labels) if lbl in val_labels][: cfg.val_images]
    if cfg.limit_images is not None:
        train_idx = train_idx[: cfg.limit_images]
    return train_idx, val_idx, n_val_ids


def _load_chips(cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """uint8 N×3×160×160 training and validation chips, split by identity."""
    if cfg.chips_file:
        from .data.pack import unpack_chips

        arr, labels = unpack_chips(cfg.chips_file)
        chips_all = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
        n_ids = int(labels.max()) + 1
        train_idx, val_idx, n_val_ids = _split(labels.tolist(), n_ids, cfg)
        meta = {"train_images": len(train_idx), "val_images": len(val_idx), "val_identities": n_val_ids,
                "train_identities": n_ids - n_val_ids, "chips": str(cfg.chips_file)}  # fmt: skip
        return chips_all[train_idx], chips_all[val_idx], meta
    fs = load_celeba(Path(cfg.data_root) / "celeba", split="train", images_per_identity=None, min_images=1)
    cache = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    rank, _ = _world()
    if rank == 0:
        ensure_aligned(fs, cache, 160, 0.25, progress=True)
    _barrier()
    aligned = ensure_aligned(fs, cache, 160, 0.25, progress=False)
    train_idx, val_idx, n_val_ids = _split(fs.labels.tolist(), len(fs.identities), cfg)
    ds = ChipDataset(aligned.root, aligned.names)

    def stack(idx: list[int]) -> torch.Tensor:
        return torch.stack([(ds[i][1] * 255).round().to(torch.uint8) for i in idx])

    meta = {"train_images": len(train_idx), "val_images": len(val_idx), "val_identities": n_val_ids,
            "train_identities": len(fs.identities) - n_val_ids, "chips": str(aligned.root)}  # fmt: skip
    return stack(train_idx), stack(val_idx), meta


def _batch(chips: torch.Tensor, cfg: TrainConfig, step: int, patch: int, whole: bool = False) -> torch.Tensor:
    """This rank's slice (or, ``whole``, all) of the global batch of ``step``: a pure function of
    (seed, step). The patch positions are drawn on the host (a few integers); the pixels are
    gathered where ``chips`` live, in one indexing operation (no per-image copies, no sync)."""
    rng = np.random.default_rng([cfg.seed, step])
    idx = rng.integers(0, chips.shape[0], cfg.batch_size)
    size = chips.shape[-1]
    p = patch if 0 < patch < size else size
    oy = rng.integers(0, size - p + 1, cfg.batch_size) // cfg.scale * cfg.scale
    ox = rng.integers(0, size - p + 1, cfg.batch_size) // cfg.scale * cfg.scale
    rank, world = _world()
    mine = np.arange(cfg.batch_size) if whole else np.arange(rank, cfg.batch_size, world)
    dev = chips.device
    ar = torch.arange(p, device=dev)
    rows = torch.as_tensor(oy[mine], device=dev)[:, None] + ar[None, :]  # b × p
    cols = torch.as_tensor(ox[mine], device=dev)[:, None] + ar[None, :]
    n = torch.as_tensor(idx[mine], device=dev)
    ch = torch.arange(chips.shape[1], device=dev)
    hr = chips[n[:, None, None, None], ch[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]
    return hr.float().div_(255.0).to(cfg.device, non_blocking=True)


def _keys(tag: str, step: int, n: int) -> list[str]:
    """Per-image keys seeding a degradation's noise: a pure function of (tag, step, position)."""
    return [f"train/{tag}/{step}/{i}" for i in range(n)]


def train_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    hr: torch.Tensor,
    degrade: Degradation,
    fr: FRLoss | None,
    weights: tuple[float, float],
    keys: list[str] | None = None,
) -> torch.Tensor:
    """One optimisation step on the HR batch ``hr``; returns (loss, mse, fr) as a device tensor,
    without synchronising with the host."""
    w_mse, w_fr = weights
    sr = model(degrade(hr, keys))
    mse = F.mse_loss(sr, hr)
    loss = w_mse * mse
    frl = torch.zeros((), device=sr.device)
    if fr is not None:
        frl = fr(sr.clamp(0, 1), hr).mean()
        loss = loss + w_fr * frl
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return torch.stack([loss.detach(), mse.detach(), frl.detach()])


def make_optimizer(model: nn.Module, lr: float, device: str) -> torch.optim.Optimizer:
    """Adam; the fused CUDA kernel on CUDA (one launch for all parameters)."""
    if str(device).startswith("cuda"):
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    return torch.optim.Adam(model.parameters(), lr=lr)


def _save_ckpt(folder: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, extra: dict) -> None:
    import io

    from safetensors.torch import save

    if _world()[0] != 0:
        return
    net = model.module if hasattr(model, "module") else model
    atomic_write_bytes(folder / "model.safetensors", save({k: v.contiguous() for k, v in net.state_dict().items()}))
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    atomic_write_bytes(folder / "optim.pt", buf.getvalue())
    atomic_write_text(folder / "state.json", json.dumps({"step": step, **extra}))


def _load_ckpt(folder: Path, model: nn.Module, opt: torch.optim.Optimizer | None) -> dict | None:
    from safetensors.torch import load_file

    if not (folder / "state.json").is_file():
        return None
    net = model.module if hasattr(model, "module") else model
    net.load_state_dict(load_file(str(folder / "model.safetensors")))
    if opt is not None:
        opt.load_state_dict(torch.load(folder / "optim.pt", map_location="cpu", weights_only=True))
    return json.loads((folder / "state.json").read_text())


LOG_FIELDS = ["phase", "step", "loss", "mse", "fr", "val_mse", "val_fr", "val_loss"]


def _log(path: Path, row: dict[str, Any]) -> None:
    if _world()[0] != 0:
        return
    new = not path.is_file()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)


def _run_phase(name: str, cfg: TrainConfig, model: nn.Module, chips: torch.Tensor, val: torch.Tensor,
               steps: int, lr: float, patch: int, fr: FRLoss | None, weights: tuple[float, float],
               step0: int) -> dict[str, Any]:  # fmt: skip
    """Train ``model`` for ``steps`` steps; resumable from ``out/name``; returns the phase summary.

    Per-step losses stay on the device and are written to ``losses.csv`` at each checkpoint (one
    host synchronisation per ``checkpoint_every`` steps); a resumed run rewrites the steps after
    its last checkpoint, so the log never holds a step twice.
    """
    folder = Path(cfg.out) / name
    folder.mkdir(parents=True, exist_ok=True)
    opt = make_optimizer(model, lr, cfg.device)
    state = _load_ckpt(folder / "last", model, opt) or {"step": 0, "best_val": float("inf")}
    _truncate_log(folder / "losses.csv", state["step"])
    degrade = cfg.degrade()
    model.train()
    pending: list[tuple[int, torch.Tensor]] = []
    for step in range(state["step"], steps):
        hr = _batch(chips, cfg, step0 + step, patch)
        rank, world = _world()
        keys = _keys("batch", step0 + step, cfg.batch_size)[rank::world]
        logged = train_step(model, opt, hr, degrade, fr, weights, keys)
        if _world()[1] > 1:  # log the global-batch values
            dist.all_reduce(logged)
            logged /= _world()[1]
        pending.append((step + 1, logged))
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == steps:
            values = torch.stack([v for _, v in pending]).cpu().tolist()  # the one sync
            rows = [{"phase": name, "step": k, "loss": v[0], "mse": v[1], "fr": v[2]}
                    for (k, _), v in zip(pending, values, strict=True)]  # fmt: skip
            pending = []
            rows[-1] |= _validate(model, val, degrade, fr, weights)
            state["step"] = step + 1
            if rows[-1]["val_loss"] < state["best_val"]:
                state["best_val"] = rows[-1]["val_loss"]
                _save_ckpt(folder / "best", model, opt, step + 1, {"val_loss": rows[-1]["val_loss"]})
            _save_ckpt(folder / "last", model, opt, step + 1, {"best_val": state["best_val"]})
            for row in rows:
                _log(folder / "losses.csv", row)
            model.train()
    return {"steps": steps, "best_val_loss": state["best_val"]}


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows after ``step`` (written by a run killed after its last checkpoint)."""
    if _world()[0] != 0 or not path.is_file():
        return
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_FIELDS)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


@torch.no_grad()
def _validate(model: nn.Module, val: torch.Tensor, degrade: Degradation, fr: FRLoss | None, w: tuple) -> dict:
    model.eval()
    hr = val.float() / 255.0
    mses, frs = [], []
    for j in range(0, len(hr), 16):
        h = hr[j : j + 16].to(next(model.parameters()).device)
        sr = model(degrade(h, _keys("val", j, len(h)))).clamp(0, 1)
        mses.append(F.mse_loss(sr, h, reduction="none").mean(dim=(1, 2, 3)))
        if fr is not None:
            fr.embedder.eval()
            frs.append(((fr.embedder(sr) - fr.embedder(h)) ** 2).sum(dim=1))
    mse = torch.cat(mses).mean().item()
    frv = torch.cat(frs).mean().item() if frs else 0.0
    return {"val_mse": mse, "val_fr": frv, "val_loss": w[0] * mse + (w[1] * frv if fr is not None else 0.0)}


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run both phases (resuming whatever is already done) and export the two models."""
    from srfacebench.reference_models.srresnet import SRResNet

    init_from_env(cfg.device)
    rank, world = _world()
    if cfg.batch_size % world:
        raise ValueError(f"batch size {cfg.batch_size} is not divisible by the {world} processes")
    torch.manual_seed(cfg.seed)
    if cfg.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 matmuls and convolutions (fp32 storage)
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    if cfg.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", cfg.name):
        raise ValueError(f"--name {cfg.name!r}: use letters, digits and . _ + - (it names files and models)")
    if cfg.name is not None and not cfg.init:
        raise ValueError("--name names the exports of an --init fine-tune; SRResNet's are srresnet-<branch>-x<scale>")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    chips, val, meta = _load_chips(cfg)
    chips = chips.to(cfg.device)  # resident: uint8, 4,872 CelebA chips are 0.37 GB

    def make(model: nn.Module) -> nn.Module:
        model = model.to(cfg.device)
        if world > 1:
            model = nn.parallel.DistributedDataParallel(_sync_bn(model))
        return model

    summary: dict[str, Any] = {"config": asdict(cfg), "data": meta, "world_size": world}
    cfg.degrade()  # a wrong spec fails before any work
    if cfg.init:
        base_net, init_name = init_module(cfg.init, cfg.scale, cfg.device, cfg.init_args or {})
        summary["base"] = {"init": cfg.init, "init_args": cfg.init_args or {}, "name": init_name, "steps": 0}
        prefix = cfg.name or f"{init_name}-ft"
    else:
        base = make(SRResNet(cfg.scale, cfg.channels, cfg.blocks))
        summary["base"] = _run_phase(
            "base", cfg, base, chips, val, cfg.base_steps, cfg.lr_base, cfg.patch, None, (1.0, 0.0), 0
        )
        base_net = base.module if hasattr(base, "module") else base
        _barrier()
        _load_ckpt(out / "base" / "best", base_net, None)
        prefix = "srresnet"
    fr_kwargs = {"weights": cfg.train_fr_weights} if cfg.train_fr_weights else {}
    fr = FRLoss(load_embedder(cfg.train_fr, **fr_kwargs).to(cfg.device), bn_mode=cfg.fr_bn_mode)  # type: ignore[arg-type]
    weights = _balance_weights(cfg, base_net, chips, fr)
    summary["loss_weights"] = {"w_mse": weights[0], "w_fr": weights[1], "train_fr": cfg.train_fr,
                               "fr_bn_mode": cfg.fr_bn_mode}  # fmt: skip
    start = cfg.base_steps  # fine-tuning batches follow the base batches in the (seed, step) stream
    for branch, use_fr in (("vanilla", False), ("fr", True)):
        model = copy.deepcopy(base_net)
        model.load_state_dict(base_net.state_dict())
        model = make(model)
        branch_fr, branch_w = (fr, weights) if use_fr else (None, (weights[0], 0.0))
        summary[branch] = _run_phase(
            branch, cfg, model, chips, val, cfg.finetune_steps, cfg.lr_finetune, 0, branch_fr, branch_w, start
        )
        net = model.module if hasattr(model, "module") else model
        _barrier()
        _load_ckpt(out / branch / "best", net, None)
        if rank == 0:
            name = f"{prefix}-{branch}" if cfg.init else ""
            summary[branch]["export"] = _export(
                net, out / f"{prefix}-{branch}-x{cfg.scale}.safetensors", val, cfg, branch, name
            )
    if rank == 0:
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    _barrier()
    return summary


def init_module(spec: str, scale: int, device: str, args: dict[str, Any]) -> tuple[nn.Module, str]:
    """The trainable torch module behind a ``--model`` spec, and its name: the model as evaluated
    (pre- and post-processing included), every parameter set to require gradients."""
    from .errors import ModelError
    from .registry import resolve_models

    refs = resolve_models(spec)
    if len(refs) != 1:
        raise ModelError(f"--init {spec!r} names {len(refs)} models; name one")
    ref = refs[0].with_args(dict(args)) if args else refs[0]
    sr = ref.load(scale, device)
    module = None
    for cand in (sr, getattr(sr, "module", None), getattr(sr, "model", None)):
        if isinstance(cand, nn.Module):
            module = cand
            break
    if module is None or not any(True for _ in module.parameters()):
        raise ModelError(f"--init {spec!r}: {type(sr).__name__} holds no torch module with parameters to fine-tune")
    if getattr(sr, "native", scale) != scale:
        raise ModelError(f"--init {spec!r}: a restoration model (scale 1) cannot be fine-tuned as an x{scale} SR model")
    for p in module.parameters():
        p.requires_grad_(True)
    return module.to(device), sr.info.name


@torch.no_grad()
def _balance_weights(cfg: TrainConfig, model: nn.Module, chips: torch.Tensor, fr: FRLoss) -> tuple[float, float]:
    """w_mse, w_fr such that each term is 0.5 at the start of fine-tuning (first 4 batches)."""
    model.eval()
    degrade = cfg.degrade()
    mses, frs = [], []
    for k in range(4):
        hr = _batch(chips, cfg, cfg.base_steps + k, 0, whole=True)
        sr = model(degrade(hr, _keys("batch", cfg.base_steps + k, len(hr)))).clamp(0, 1)
        mses.append(F.mse_loss(sr, hr).item())
        frs.append(fr(sr, hr).mean().item())
    model.train()
    return 0.5 / max(float(np.mean(mses)), 1e-12), 0.5 / max(float(np.mean(frs)), 1e-12)


@torch.no_grad()
def _export(
    net: nn.Module, path: Path, val: torch.Tensor, cfg: TrainConfig, branch: str = "", name: str = ""
) -> dict[str, Any]:
    """Save weights as fp16 when that changes validation PSNR by < 0.01 dB, else fp32."""
    from safetensors.torch import save

    from .metrics.image import psnr_y

    net.eval()
    hr = val.float() / 255.0
    lr = cfg.degrade()(hr, _keys("val", 0, len(hr)))
    ref = psnr_y(net(lr).clamp(0, 1), hr, cfg.scale).mean().item()
    state = net.state_dict()
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    net16 = copy.deepcopy(net)
    net16.load_state_dict({k: v.float() for k, v in half.items()})
    net16.eval()
    drift = abs(psnr_y(net16(lr).clamp(0, 1), hr, cfg.scale).mean().item() - ref)
    chosen = half if drift < 0.01 else state
    info = {"scale": cfg.scale, "branch": branch, "trained_against_fr": cfg.train_fr if branch == "fr" else None}
    if cfg.init:
        info |= {"name": name, "init": cfg.init, "degradation": cfg.degrade().label}
    # one metadata key: safetensors writes several in hash order, and the file must be byte-stable
    meta = {"srfacebench": json.dumps(info, sort_keys=True)}
    atomic_write_bytes(path, save({k: v.contiguous() for k, v in chosen.items()}, metadata=meta))
    return {"file": path.name, "dtype": "fp16" if chosen is half else "fp32", "val_psnr_y": ref, "fp16_drift_db": drift}
