"""The engine: execute a :class:`~srfacebench.plan.Plan` and write its results.

``RunConfig`` → :func:`~srfacebench.plan.make_plan` → :func:`execute` → ``results.*`` and the
per-item CSVs; :func:`run` adds the sample faces and the report. Protocols that read the same
image folder form one *pool*: its images are aligned once (cached), then streamed
(:mod:`srfacebench.streaming`) in shards through every degradation, every model and every FR
network. Shards are saved atomically under ``OUT/cache/``, keyed by everything the numbers
depend on (:func:`~srfacebench.plan.cache_keys`), so a repeat run computes nothing and a killed
run resumes at the last finished shard. Each protocol is then scored per FR network
(:mod:`srfacebench.tasks`).

Under ``torchrun`` (:mod:`srfacebench.distributed`) rank 0 alone owns the run folder (checks,
lock), aligns and checks the caches; every rank then computes its share of the missing shards;
rank 0 loads them all, scores and writes. The numbers do not depend on the number of ranks:
every shard is computed in the same batches whichever rank computes it (docs/distributed.md).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ._version import __version__
from .config import RunConfig
from .conformance import model_identity, probe_embedder, probe_resolver
from .data.chips import CHIP_STORE, AlignedSet, default_cache_dir, ensure_aligned
from .data.faceset import FaceSet
from .data.landmarks import chip_landmarks
from .data.loaders import LOADERS
from .degradations import degradation_axes
from .distributed import barrier, gather, init_from_env, on_rank0, world
from .errors import ConfigError, ModelError, SrfacebenchError
from .fingerprint import args_identity, sr_fingerprint, verify_cache_folder
from .io import RunLock, atomic_write_text
from .plan import Plan, Pool, cache_keys, load_dataset, make_plan
from .protocols import Protocol
from .registry import HR, load_embedder
from .results import RunResult
from .streaming import Embedder, PoolStream, StreamCounts, Variant
from .tasks import TaskOutput, csv_text, intrinsic_task, merge_items, score_protocol

__all__ = ["evaluate", "execute", "load_dataset", "run"]


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


_PLAN_KEYS = ("protocols", "models", "degradations", "embedders", "pools", "limit", "data_root")


def _comparable_plan(summary: dict[str, Any], limit: Any, data_root: Any) -> dict[str, Any]:
    plan = json.loads(json.dumps(summary, default=str))
    for m in plan.get("models", []):
        m.pop("origin", None)  # where a module was found: the same model from another install
    return {**{k: plan.get(k) for k in _PLAN_KEYS[:5]}, "limit": limit, "data_root": str(data_root)}


def _check_reuse(plan: Plan) -> None:
    """A run folder holding another plan's results is not silently replaced: refused unless
    ``force``; the same plan again is a resume (its caches are reused where their identity holds)."""
    cfg = plan.config
    path = cfg.out / "results.json"
    if cfg.force or not path.is_file():
        return
    try:
        prov = json.loads(path.read_text(encoding="utf-8")).get("provenance", {})
    except (OSError, ValueError):
        return  # unreadable earlier results are replaced (nothing to keep)
    old = _comparable_plan(prov.get("plan", {}), prov.get("limit"), prov.get("data_root"))
    new = _comparable_plan(plan.summary(), cfg.limit, plan.data_root.resolve())
    differs = [k for k in _PLAN_KEYS if old.get(k) != new.get(k)]
    if differs:
        raise ConfigError(
            f"{cfg.out} holds the results of another run (its {', '.join(differs)} differ from this one's); "
            "choose a new --out, or --force to replace them (cached shards are reused where their identity holds)"
        )


@contextmanager
def _new_out(out: Path) -> Iterator[None]:
    """Create and check the run folder; if this run created it and fails before writing anything
    into it (e.g. a model that does not load), remove it again rather than leave an empty --out."""
    created = not out.exists()
    _prepare_out(out)
    try:
        yield
    except BaseException:
        if created and not any(f.is_file() and f.name != RunLock.NAME for f in out.rglob("*")):
            shutil.rmtree(out, ignore_errors=True)
        raise


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".srfacebench-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise SrfacebenchError(f"{out}: output folder is not writable ({e.strerror or e})") from None


def _load_variants(
    plan: Plan,
    notes: list[str] | None = None,
    probes: dict[str, Any] | None = None,
    fingerprints: dict[str, Any] | None = None,
) -> tuple[list[Variant], dict[str, dict[str, Any]]]:
    """Load every model at every scale, probe it (see :mod:`srfacebench.conformance`) and return
    the variants with what each one's cache key holds (and, in ``fingerprints``, what each one
    does on the fingerprint input, per variant id: :mod:`srfacebench.fingerprint`)."""
    cfg = plan.config
    notes = notes if notes is not None else []
    probes = probes if probes is not None else {}
    fingerprints = fingerprints if fingerprints is not None else {}
    variants = [Variant(HR, "none", 1, None)]
    infos: dict[str, dict[str, Any]] = {variants[0].id: {"name": HR}}
    loaded: dict[int, list[tuple[Any, dict[str, Any]]]] = {}
    for scale in plan.scales:
        loaded[scale] = []
        for ref in plan.refs:
            model = ref.load(scale, cfg.device)
            rep = probe_resolver(model, scale, cfg.device)  # checks its ModelInfo first (conformance.check_info)
            if model.info.name == HR:
                raise ModelError(
                    f"model {ref.spec!r} is named {HR!r}, the HR upper bound's name; rename it in its ModelInfo"
                )
            probes[f"{model.info.name}@x{scale}"] = rep.to_dict()
            soft = rep.soft_failures()
            if soft and not cfg.lenient:
                raise ModelError(
                    f"model {model.info.name!r} at scale {scale} failed the conformance probe: {'; '.join(soft)} "
                    "(--lenient runs it anyway and records this in the results)"
                )
            notes += [f"model {model.info.name!r} at scale {scale}: {s}" for s in soft]
            ident, note = model_identity(model, ref.origin, rep, cfg.batch_size)
            if ref.kwargs:  # a resume with other arguments is another variant, never a mix
                ident["args"] = args_identity(ref.kwargs)
            if note:
                notes.append(note)
            loaded[scale].append((model, ident, sr_fingerprint(model, scale, cfg.device)))
    for label, deg in plan.degradations.items():
        for model, ident, fp in loaded[deg.scale]:
            v = Variant(model.info.name, label, deg.scale, model)
            if v.id in infos:
                raise ModelError(
                    f"two models report the same ModelInfo.name {v.model!r} under degradation {label!r}: results "
                    "are keyed by that name, so each model needs its own (an adapter's ModelInfo.name; fine-tunes: "
                    "srfacebench train --name)"
                )
            variants.append(v)
            infos[v.id] = ident
            fingerprints[v.id] = fp
    return variants, infos


def execute(plan: Plan, counts: StreamCounts | None = None) -> RunResult:
    """Align, degrade, super-resolve, embed and score everything in ``plan``; write ``results.*``.

    The run folder is locked for the duration (a second run into it is refused). Under
    ``torchrun`` every rank computes a share; rank 0 returns the result, the others an empty one.
    """
    init_from_env(plan.config.device)
    with _run_folder(plan):
        return _execute(plan, counts)[0]


@contextmanager
def _run_folder(plan: Plan) -> Iterator[None]:
    """Rank 0 checks the folder may take this plan's results, creates it and locks it for the run;
    the other ranks wait for that (and fail with it: :func:`~srfacebench.distributed.on_rank0`)."""
    with ExitStack() as stack:

        def take() -> None:
            _check_reuse(plan)
            stack.enter_context(_new_out(plan.config.out))
            stack.enter_context(RunLock(plan.config.out))

        on_rank0(take)
        yield


@dataclass
class _Run:
    """What the stages of one run share."""

    plan: Plan
    embedders: dict[str, Embedder]
    variants: list[Variant]
    infos: dict[str, dict[str, Any]]
    sr_fps: dict[str, Any]
    fr_fps: dict[str, Any]
    counts: StreamCounts
    notes: list[str] = field(default_factory=list)
    probes: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    decoded_by_rank: dict[str, list[int]] = field(default_factory=dict)
    align_counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    scored: list[TaskOutput] = field(default_factory=list)
    result: RunResult = field(default_factory=RunResult)


@dataclass
class _PreparedPool:
    """A pool ready to compute: its chips, the variants it needs, their cache keys, its protocols'
    sets (after ``exclude_fallback``)."""

    pool: Pool
    aligned: AlignedSet
    variants: list[Variant]
    emb_keys: dict[tuple[str, str], str]
    iq_keys: dict[str, str]
    tasks: list[tuple[Protocol, FaceSet, np.ndarray]]


def _execute(plan: Plan, counts: StreamCounts | None) -> tuple[RunResult, list[Variant], AlignedSet]:
    """The run, in stages: load and probe the networks; per pool prepare (align, landmarks, cache
    keys), compute (degrade, super-resolve, embed; cached shards, shared among ranks) and score
    (rank 0: each protocol's task per FR network); then rank 0 writes. Also returns the loaded
    variants and the first pool's chips."""
    t_start = time.perf_counter()
    run = _start(plan, counts if counts is not None else StreamCounts())
    first: AlignedSet | None = None
    for pool in plan.pools:
        prepared = _prepare(run, pool)
        computed = _compute(run, prepared)
        if computed is not None:
            _score(run, prepared, *computed)
        first = first or prepared.aligned
    run.timings["total"] = time.perf_counter() - t_start
    if world()[0] == 0:
        _write(run)
    assert first is not None  # a plan has at least one pool
    return run.result, run.variants, first


def _start(plan: Plan, counts: StreamCounts) -> _Run:
    """Load every model and FR network and pass each through the conformance probe."""
    cfg = plan.config
    embedders = {
        name: Embedder(load_embedder(name, **dict(cfg.embedder_kwargs.get(name, {}))), cfg.device)
        for name in cfg.embedders
    }
    notes: list[str] = []
    probes: dict[str, Any] = {}
    sr_fps: dict[str, Any] = {}
    variants, infos = _load_variants(plan, notes, probes, sr_fps)
    fr_fps = _probe_embedders(embedders, cfg.device, cfg.lenient, notes, probes)
    return _Run(plan, embedders, variants, infos, sr_fps, fr_fps, counts, notes, probes)


def _prepare(run: _Run, pool: Pool) -> _PreparedPool:
    """Align the pool's images (cached), give landmarks to networks with a face layout of their
    own, key its caches, check them, and apply ``exclude_fallback`` to its protocols."""
    plan, cfg = run.plan, run.plan.config
    aligned, landmarks = on_rank0(lambda: _align(run, pool))
    for emb in run.embedders.values():
        emb.landmarks = landmarks if emb.layout is not None else None
    wanted = {lab for p, _, _ in pool.tasks for lab in plan.per_protocol[p.name]}
    variants = [v for v in run.variants if v.is_hr or v.degradation in wanted]
    emb_keys, iq_keys = cache_keys(
        pool.fingerprint() + aligned.fingerprint(), f"{CHIP_STORE}/size{pool.size}-pad{pool.padding:g}",
        variants, run.infos, plan.degradations, {n: e.info for n, e in run.embedders.items()},
    )  # fmt: skip
    tasks = [_excluding_fallback(p, fs, ix, aligned.fallback, run.notes) for p, fs, ix in pool.tasks]
    on_rank0(lambda: _verify_cache(cfg.out / "cache", emb_keys, iq_keys, run.sr_fps, run.fr_fps, run.notes))
    return _PreparedPool(pool, aligned, variants, emb_keys, iq_keys, tasks)


def _align(run: _Run, pool: Pool) -> tuple[AlignedSet, np.ndarray | None]:
    """Align the pool's images (cached) and, if a network has a face layout of its own, find
    their landmarks (cached)."""
    cfg = run.plan.config
    cache_dir = cfg.cache_dir if cfg.cache_dir is not None else default_cache_dir()
    pool_set = FaceSet(pool.name, pool.root, pool.paths, np.zeros(len(pool.paths), np.int64), [])
    t0 = time.perf_counter()
    aligned = ensure_aligned(pool_set, cache_dir, pool.size, pool.padding, progress=cfg.progress)
    run.timings[f"align:{pool.name}"] = time.perf_counter() - t0
    run.align_counts[pool.name] = aligned.counts | {
        "images": len(pool.paths),
        "fallback_in_pool": len(aligned.fallback),
        "fallback_images": aligned.fallback[:100],
    }
    if not any(e.layout is not None for e in run.embedders.values()):
        return aligned, None
    return aligned, chip_landmarks(aligned.root, aligned.names, pool.size, pool.padding)


def _compute(run: _Run, p: _PreparedPool) -> tuple[dict[tuple[str, str], np.ndarray], dict[str, np.ndarray]] | None:
    """Every variant's embeddings and per-image PSNR/SSIM for the pool (shards cached atomically).

    Rank 0 lists the missing shards; rank r computes every world-th of them from the r-th; all
    wait; rank 0 loads every shard and returns them (the other ranks return None). The work
    counts of all ranks are summed into rank 0's."""
    cfg = run.plan.config
    rank, size = world()
    stream = PoolStream(
        p.aligned.root, p.aligned.names, p.pool.paths, p.variants, run.plan.degradations, run.embedders,
        p.emb_keys, p.iq_keys, cfg.out / "cache", device=cfg.device, batch_size=cfg.batch_size, workers=cfg.workers,
    )  # fmt: skip
    todo = on_rank0(stream.missing)
    mine = {k: todo[k] for k in sorted(todo)[rank::size]}
    t0 = time.perf_counter()
    own = StreamCounts()
    bar = tqdm(desc=f"embed {p.pool.name}", unit="img", disable=not (cfg.progress and rank == 0))
    try:
        stream.compute(mine, progress=bar, timings=run.timings, counts=own)
    finally:
        bar.close()
    barrier()
    elapsed = time.perf_counter() - t0
    parts = gather(own)
    for counts in parts:
        run.counts.add(counts)
    if size > 1:
        run.timings |= {f"embed:{p.pool.name}:rank{r}": t for r, t in enumerate(gather(elapsed))}
        run.decoded_by_rank[p.pool.name] = [c.decoded for c in parts]
    if rank != 0:
        return None
    embs, iqs = stream.load()
    run.timings[f"embed:{p.pool.name}"] = time.perf_counter() - t0
    return embs, iqs


def _score(run: _Run, p: _PreparedPool, embs: dict[tuple[str, str], np.ndarray], iqs: dict[str, np.ndarray]) -> None:
    """Each protocol of the pool, by its task, per FR network."""
    for protocol, faceset, index in p.tasks:
        labels = set(run.plan.per_protocol[protocol.name])
        pvars = [v for v in p.variants if v.is_hr or v.degradation in labels]
        for name, emb in run.embedders.items():
            task = score_protocol(
                protocol, faceset, index, pvars, {v.id: embs[(v.id, name)] for v in pvars}, iqs, name,
                emb.distance, run.plan.config.device,
            )  # fmt: skip
            run.result.rows.extend(task.rows)
            run.result.details.extend(task.details)
            run.notes.extend(task.notes)
            run.scored.append(task)


def _write(run: _Run) -> None:
    """Per-item CSVs (one per task, merged across protocols), notes, provenance, ``results.*``."""
    out = run.plan.config.out
    written = []
    items = merge_items(run.scored)
    for fname, (header, item_rows) in items.items():
        atomic_write_text(out / fname, csv_text(header, item_rows))
        written.append(fname)
    for fname in _earlier_item_files(out, items):  # a reused folder must not show an earlier run's per-item file
        (out / fname).unlink(missing_ok=True)
    for pool_name, a in run.align_counts.items():
        if a["fallback_in_pool"]:
            run.notes.append(
                f"{a['fallback_in_pool']} of {a['images']} images of {pool_name} had no face found and were aligned "
                "by the fallback box (listed under alignment in results.json)"
            )
    for vid, n in run.counts.clamped.items():
        if n:
            run.notes.append(f"{vid}: {n} output values outside [0, 1] (by less than 0.25) were clamped")
    prov = _provenance(run.plan, run.embedders, run.infos, run.align_counts, run.timings, written, run.counts)
    if run.decoded_by_rank:
        prov["work"]["decoded_by_rank"] = run.decoded_by_rank
    run.result.provenance = prov | {"notes": run.notes, "conformance": run.probes}
    run.result.save(out)


def _probe_embedders(
    embedders: dict[str, Embedder], device: str, lenient: bool, notes: list[str], probes: dict[str, Any]
) -> dict[str, Any]:
    """Every FR network passes the conformance probe models pass (:func:`probe_embedder`); its
    embeddings of the probe chips are its behavioural fingerprint. Soft failures are errors unless
    the run is lenient (then noted)."""
    fps = {}
    for name, emb in embedders.items():
        rep, fps[name] = probe_embedder(emb.net, device, layout=emb.layout is not None)
        probes[f"fr:{name}"] = rep.to_dict()
        soft = rep.soft_failures()
        if soft and not lenient:
            raise ModelError(
                f"FR network {name!r} failed the conformance probe: {'; '.join(soft)} "
                "(--lenient runs it anyway and records this in the results)"
            )
        notes += [f"FR network {name!r}: {s}" for s in soft]
    return fps


def _excluding_fallback(
    protocol: Protocol, faceset: FaceSet, index: np.ndarray, fallback: list[str], notes: list[str]
) -> tuple[Protocol, FaceSet, np.ndarray]:
    """The protocol's set without the images aligned by the fallback box, when it asks for that
    (``[alignment] exclude_fallback``), checked by its task before any work
    (:meth:`srfacebench.tasks.Task.exclude`)."""
    if not (protocol.exclude_fallback and fallback):
        return protocol, faceset, index
    n_before = len(faceset)
    faceset, kept, task_notes = protocol.task_object.exclude(protocol, faceset, set(fallback))
    notes += task_notes
    notes.append(
        f"{protocol.name}: {n_before - len(faceset)} images without a detected face excluded "
        "([alignment] exclude_fallback), with the pairs or probes that used them"
    )
    return protocol, faceset, index[kept]


def _earlier_item_files(out: Path, written: dict[str, Any]) -> list[str]:
    """Per-item CSVs in ``out`` that this run did not write, as ``load_runs`` would read them for the
    folder's earlier results.json (its recorded files; the built-in ones when it records none)."""
    from .report.runs import item_files

    try:
        earlier = json.loads((out / "results.json").read_text(encoding="utf-8")).get("provenance", {})
    except (OSError, ValueError, AttributeError):
        earlier = {}
    names = {n for n in item_files(earlier) if not n.startswith("results")}
    return sorted(n for n in names if n not in written and (out / n).is_file())


def _verify_cache(
    cache: Path,
    emb_keys: dict[tuple[str, str], str],
    iq_keys: dict[str, str],
    sr_fps: dict[str, Any],
    fr_fps: dict[str, Any],
    notes: list[str],
) -> None:
    """Reuse no cached shard whose model or FR network now behaves differently (see
    :mod:`srfacebench.fingerprint`): such folders are set aside, recomputed, and noted."""
    for (vid, emb), key in emb_keys.items():
        why = verify_cache_folder(cache / "embeddings" / key, {"sr": sr_fps.get(vid), "fr": fr_fps[emb]})
        if why:
            notes.append(f"cached embeddings of {vid} by {emb} not reused ({why}): recomputed")
    for vid, key in iq_keys.items():
        why = verify_cache_folder(cache / "iq" / key, {"sr": sr_fps.get(vid)})
        if why:
            notes.append(f"cached PSNR/SSIM of {vid} not reused ({why}): recomputed")


def _provenance(
    plan: Plan,
    embedders: dict[str, Embedder],
    infos: dict[str, dict[str, Any]],
    align_counts: dict,
    timings: dict,
    written: list[str],
    counts: StreamCounts,
) -> dict[str, Any]:
    cfg = plan.config
    first = next(iter(embedders.values()))
    return {
        "package": "srfacebench",
        "version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": cfg.device,
        "host": platform.node(),
        "cpu_threads": torch.get_num_threads(),
        "config": cfg.to_dict(),
        "plan": plan.summary(),
        "embedder": first.info,  # the first FR network (schema v1 readers)
        "embedders": {n: e.info for n, e in embedders.items()},
        "protocols": [p.to_dict() for p in plan.protocols],
        "models": [{"spec": r.spec, "origin": r.origin} for r in plan.refs],
        "model_infos": {vid: info for vid, info in infos.items()},
        "scales": plan.scales,
        "degradations": {lab: d.describe() for lab, d in plan.degradations.items()},
        "degradation_axes": {lab: degradation_axes(lab) for lab in plan.degradations},
        "data_root": str(plan.data_root.resolve()),
        "data_checksums": plan.checksums,
        "alignment": align_counts,
        "limit": cfg.limit,
        "subset": None
        if cfg.limit is None
        else f"--limit {cfg.limit}: at most {cfg.limit} "
        + " or ".join(dict.fromkeys(f"{LOADERS.get(p.dataset.loader).limit_caps} ({p.name})" for p in plan.protocols)),
        "limit_pairs_per_fold": cfg.limit,
        "batch_size": cfg.batch_size,
        "workers": cfg.workers,
        "world_size": world()[1],
        "work": {
            "clamped_values": counts.clamped,
            "decoded": counts.decoded,
            "degraded": counts.degraded,
            "super_resolved": counts.super_resolved,
            "embedded": counts.embedded,
        },
        "timings_s": timings,
        "files": written,
        "conventions": {
            **_conventions(plan),
            "sr_output": "values within 0.25 outside [0, 1] clamped (counted in work.clamped_values); "
            "beyond that an error",
            "degradation": "each operation's output clamped to [0, 1]; noise seeded per image path",
        },
    }


def _conventions(plan: Plan) -> dict[str, str]:
    """How each task of the run computes its numbers, as the task states it."""
    tasks = [p.task_object for p in plan.protocols] + [intrinsic_task()]
    return {t.name: t.convention for t in tasks if t.convention}


def run(config: RunConfig, plan: Plan | None = None) -> RunResult:
    """Plan (unless given the plan of ``config``), execute, then write sample faces and (if
    ``config.report``) ``report.html``."""
    if plan is None:
        plan = make_plan(config)
    elif plan.config is not config:
        raise ValueError("run(config, plan): the plan was made from another config")
    init_from_env(config.device)
    with _run_folder(plan):
        result, variants, aligned = _execute(plan, None)
        if config.report and world()[0] == 0:
            t0 = time.perf_counter()
            _samples(plan, variants, aligned)
            from .report import build_report

            build_report([config.out], config.out / "report.html", n_boot=config.n_boot)
            result.provenance["timings_s"]["report"] = time.perf_counter() - t0
            result.save(config.out)
    return result


def _samples(plan: Plan, variants: list[Variant], aligned: AlignedSet) -> None:
    """Sample faces of the first pool, with the models the run already loaded and probed."""
    from .samples import write_samples

    pool = plan.pools[0]
    labels = plan.per_protocol[pool.tasks[0][0].name]
    chosen = [v for v in variants if v.degradation in labels]
    write_samples(plan.config.out, aligned.root, aligned.names, pool.paths, chosen, plan.degradations,
                  plan.config.device)  # fmt: skip


def evaluate(
    models: Sequence[Any],
    protocols: Sequence[Any],
    scales: Sequence[int] = (),
    out: str | Path = "srfacebench-run",
    *,
    model_kwargs: dict[str, dict[str, Any]] | None = None,
    degradations: Sequence[str] = (),
    embedders: Sequence[str] | None = None,
    embedder: str | None = None,
    embedder_kwargs: dict[str, Any] | None = None,
    data_root: str | Path | None = None,
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
    limit: int | None = None,
    cache_dir: str | Path | None = None,
    protocols_dir: str | Path | None = None,
    progress: bool = True,
    report: bool = True,
    n_boot: int = 1000,
    lenient: bool = False,
    force: bool = False,
) -> RunResult:
    """Evaluate SR models on face-recognition protocols and write the results to ``out``.

    A convenience over ``run(RunConfig(...))``: the HR and bicubic baselines are always included;
    protocols that read the same folder share one pool (each image aligned, degraded,
    super-resolved and embedded once).

    Args:
        models: model specs (``bicubic``, ``adapters.mymodel``, ``pkg.mod:name``, an entry point),
            or Python objects: a SuperResolver (used at every scale) or a loader
            ``(scale, device) -> SuperResolver``.
        protocols: protocol names, ``.toml`` paths or :class:`Protocol` objects.
        scales: integer down-sampling factors, each meaning the degradation ``bicubic:S``.
        out: output folder (``results.csv``, ``results.json``, per-item CSVs, ``cache/``).
        model_kwargs: per model spec, keyword arguments of its loader, e.g.
            ``{"my.mod": {"weights": "w.pt"}}``.
        degradations: degradation specs (``blur:sigma=2+bicubic:4``; grids with ``{a,b}``).
        embedders: FR networks (default ``["dlib-resnet29"]``); ``embedder`` names a single one.
        embedder_kwargs: keyword arguments of the FR network constructors: ``{name: {...}}``, or,
            with a single network, its arguments directly.
        data_root: folder the protocol datasets are relative to (default ``$SRFACEBENCH_DATA``).
        limit: a quick subset: pairs per fold (verification) or identities (identification).
        report: also write sample faces and ``report.html`` (``n_boot`` bootstrap resamples).
        lenient: run models that fail the soft conformance checks (nondeterministic,
            batch-dependent, editing their input), recording it in the results.
        force: replace another run's results in ``out`` (otherwise a ConfigError; the same plan
            again is a resume).

    Example:
        >>> result = evaluate(["bicubic"], ["lfw-verification"], [4], "out", data_root="data")  # doctest: +SKIP
    """
    names = tuple(embedders) if embedders else ((embedder,) if embedder else ("dlib-resnet29",))
    kwargs = dict(embedder_kwargs or {})
    if kwargs and not set(kwargs) <= set(names):
        if len(names) != 1:
            raise SrfacebenchError("with several FR networks, embedder_kwargs must be {network name: {...}}")
        kwargs = {names[0]: kwargs}
    cfg = RunConfig(
        models=tuple(models), model_kwargs=model_kwargs or {}, protocols=tuple(protocols), out=Path(out),
        degradations=tuple(degradations), scales=tuple(scales), embedders=names, embedder_kwargs=kwargs,
        data_root=data_root, device=device, batch_size=batch_size, workers=workers, limit=limit,
        cache_dir=cache_dir, protocols_dir=protocols_dir, progress=progress, report=report, n_boot=n_boot,
        lenient=lenient, force=force,
    )  # fmt: skip
    return run(cfg)
