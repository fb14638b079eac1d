"""The plan of a run: what will be computed, worked out before any image is touched.

:func:`make_plan` turns a :class:`~srfacebench.config.RunConfig` into protocols, model references
(resolved, not loaded), degradations per protocol and *pools* (protocols that read the same image
folder with the same alignment share their images). Every value is validated here, so a bad
option fails in a second, never after the expensive work. :func:`cache_keys` computes the cache
folder of every (variant, FR network) as a pure function of what its numbers depend on.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import RunConfig
from .data.faceset import FaceSet
from .data.loaders import LOADERS
from .degradations import Degradation, parse_degradation
from .errors import ConfigError, DataError, ProtocolError
from .metrics.catalogue import SSIM_WINDOW
from .protocols import Protocol, load_protocol
from .registry import ModelRef, python_model_ref, resolve_models

if TYPE_CHECKING:
    from .streaming import Variant

__all__ = ["CACHE_FORMAT", "Plan", "Pool", "cache_keys", "load_dataset", "make_plan"]

CACHE_FORMAT = "3"


def load_dataset(protocol: Protocol, data_root: Path, limit: int | None = None) -> FaceSet:
    """The FaceSet a protocol names, read with its loader and checked against its checksums.

    ``limit`` caps pairs per fold (pair loaders) or identities (labelled loaders); the protocol's
    task then checks the set can be scored (:meth:`srfacebench.tasks.Task.check`).
    """
    ds = protocol.dataset
    loader = LOADERS.get(ds.loader, protocol.source)
    for key, value in [("root", ds.root), *((k, v) for k, v in ds.options.items() if isinstance(v, str))]:
        if key == "root" or key in loader.path_options:
            rel = Path(value)
            if rel.is_absolute() or ".." in rel.parts:
                raise DataError(
                    f"{protocol.source}: [dataset] {key} = {value!r} leaves the data root; it must be a relative "
                    "path inside it"
                )
    root = data_root / ds.root
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder of protocol {protocol.name!r} not found (check --data-root)")
    faceset = loader.load(root, ds.name, limit, dict(ds.options))
    for fname, expected in ds.checksums.items():
        found = faceset.checksums.get(fname)
        if found is not None and found != expected:
            raise DataError(
                f"{root / fname}: SHA-256 {found} differs from the {expected} that protocol {protocol.name!r} expects"
            )
    why = f" (after --limit {limit})" if limit is not None else ""
    protocol.task_object.check(protocol, faceset, f"protocol {protocol.name!r}{why}")
    return faceset


@dataclass
class Pool:
    """The images of all protocols that read the same folder with the same alignment."""

    root: Path
    size: int
    padding: float
    paths: list[str] = field(default_factory=list)
    where: dict[str, int] = field(default_factory=dict)
    tasks: list[tuple[Protocol, FaceSet, np.ndarray]] = field(default_factory=list)

    def add(self, protocol: Protocol, faceset: FaceSet) -> None:
        for p in faceset.paths:
            if p not in self.where:
                self.where[p] = len(self.paths)
                self.paths.append(p)
        self.tasks.append((protocol, faceset, np.array([self.where[p] for p in faceset.paths], dtype=np.int64)))

    @property
    def name(self) -> str:
        return "+".join(dict.fromkeys(fs.name for _, fs, _ in self.tasks))

    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.paths).encode()).hexdigest()


@dataclass(frozen=True)
class Plan:
    """What a run computes. ``degradations`` maps each label to its spec; ``per_protocol`` says
    which degradations each protocol is scored under."""

    config: RunConfig
    protocols: tuple[Protocol, ...]
    refs: tuple[ModelRef, ...]
    degradations: dict[str, Degradation]
    per_protocol: dict[str, tuple[str, ...]]
    pools: tuple[Pool, ...]
    data_root: Path
    checksums: dict[str, dict[str, str]]

    @property
    def scales(self) -> list[int]:
        return sorted({d.scale for d in self.degradations.values()})

    def summary(self) -> dict[str, Any]:
        """JSON-able description recorded in ``results.json``."""
        return {
            "protocols": {p.name: list(self.per_protocol[p.name]) for p in self.protocols},
            "models": [
                {"spec": r.spec, "origin": r.origin, "args": {k: str(v) for k, v in r.kwargs.items()}}
                for r in self.refs
            ],
            "degradations": {lab: d.describe() for lab, d in self.degradations.items()},
            "embedders": list(self.config.embedders),
            "pools": [
                {"name": p.name, "images": len(p.paths), "size": p.size, "padding": p.padding} for p in self.pools
            ],
        }


def _data_root(cfg: RunConfig) -> Path:
    if cfg.data_root is not None:
        return cfg.data_root
    env = os.environ.get("SRFACEBENCH_DATA")
    if not env:
        raise DataError("no --data-root given and $SRFACEBENCH_DATA is not set")
    return Path(env)


def make_plan(cfg: RunConfig) -> Plan:
    """Resolve protocols, models, degradations and datasets; nothing is aligned, loaded or run."""
    protocols = tuple(p if isinstance(p, Protocol) else load_protocol(p, cfg.protocols_dir) for p in cfg.protocols)
    if len({p.name for p in protocols}) != len(protocols):
        raise ProtocolError(f"a protocol is named twice: {[p.name for p in protocols]}")
    run_wide = cfg.degradation_specs()
    per_protocol: dict[str, tuple[str, ...]] = {}
    for p in protocols:
        labels = tuple(run_wide or p.degradations)
        if not labels:
            raise ConfigError(f"protocol {p.name!r} declares no degradations; give --scale S or --degradation SPEC")
        per_protocol[p.name] = labels
    degradations = {lab: parse_degradation(lab) for labels in per_protocol.values() for lab in labels}
    for p in protocols:
        for lab in per_protocol[p.name]:
            if p.align_size % degradations[lab].scale:
                raise ConfigError(
                    f"protocol {p.name!r}: chip size {p.align_size} is not divisible by the scale "
                    f"{degradations[lab].scale} of degradation {lab!r}"
                )
            left = p.align_size - 2 * degradations[lab].scale  # PSNR/SSIM crop `scale` pixels per side
            if left < SSIM_WINDOW:
                raise ConfigError(
                    f"protocol {p.name!r}: degradation {lab!r} at chip size {p.align_size}: PSNR/SSIM crop a "
                    f"border of {degradations[lab].scale} pixels, leaving {max(left, 0)} where SSIM needs "
                    f"{SSIM_WINDOW}; at this chip size the scale must be at most "
                    f"{(p.align_size - SSIM_WINDOW) // 2}"
                )
    refs: list[ModelRef] = []
    for m in ["bicubic", *cfg.models]:
        for ref in resolve_models(m) if isinstance(m, str) else [python_model_ref(m)]:
            if isinstance(m, str) and m in cfg.model_kwargs:
                ref = ref.with_args(dict(cfg.model_kwargs[m]))
            if not ref.is_hr and all(r.spec != ref.spec for r in refs):
                refs.append(ref)
    from .registry import EMBEDDERS

    for e in cfg.embedders:  # names only: built-ins are imported (with torch) when the engine loads them
        EMBEDDERS.check(e)
    data_root = _data_root(cfg)
    pools: dict[tuple[str, int, float], Pool] = {}
    checksums: dict[str, dict[str, str]] = {}
    for protocol in protocols:
        faceset = load_dataset(protocol, data_root, cfg.limit)
        if len(faceset) == 0:
            raise DataError(f"protocol {protocol.name!r}: the dataset has no images (after --limit {cfg.limit})")
        checksums[protocol.name] = faceset.checksums
        key = (str(Path(faceset.root).resolve()), protocol.align_size, protocol.align_padding)
        pools.setdefault(key, Pool(Path(faceset.root), protocol.align_size, protocol.align_padding)).add(
            protocol, faceset
        )
    return Plan(cfg, protocols, tuple(refs), degradations, per_protocol, tuple(pools.values()), data_root, checksums)


def _key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cache_keys(
    pool_fingerprint: str,
    chips_id: str,
    variants: list[Variant],
    model_infos: dict[str, dict[str, Any]],
    degradations: dict[str, Degradation],
    embedder_infos: dict[str, dict[str, Any]],
) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """Cache folder names: per (variant id, FR network) for embeddings, per variant id for PSNR/SSIM.

    Each key hashes the pool's image list, the chips, the model's info, the degradation's full
    description and (embeddings only) the FR network's description. Pure: no state is changed.
    """
    base = {"format": CACHE_FORMAT, "pool": pool_fingerprint, "chips": chips_id}
    emb_keys: dict[tuple[str, str], str] = {}
    iq_keys: dict[str, str] = {}
    for v in variants:
        vpart = {
            "model": model_infos.get(v.id, {"name": v.model}),
            "degradation": degradations[v.degradation].describe() if not v.is_hr else None,
        }
        if not v.is_hr:
            iq_keys[v.id] = _key({**base, **vpart, "kind": "iq"})
        for name, info in embedder_infos.items():
            emb_keys[(v.id, name)] = _key({**base, **vpart, "embedder": info})
    return emb_keys, iq_keys
