"""Dataset loaders: what a protocol's ``[dataset] loader`` names, each a small object.

A loader declares the ``[dataset]`` options it accepts (and which of them are paths that must stay
inside the data root), what it provides (``pairs`` for verification, ``labels`` for identity
tasks) and what ``--limit`` caps, and reads a :class:`~srfacebench.data.faceset.FaceSet`. Built-ins:
``lfw-pairs``, ``celeba``, ``identity-folder``; a third-party loader is a module path
(``loader = "pkg.module"``, the module's ``LOADER``) or an entry point in the group
``srfacebench.loaders``. Heavy readers are imported only when a set is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ProtocolError
from ..plugins import PluginRegistry
from .faceset import FaceSet

__all__ = ["LOADERS", "DatasetLoader", "subset_identities"]


DISTRACTORS_PER_IDENTITY = 10  # what --limit n keeps of a set's distractors: the first 10·n


def subset_identities(fs: FaceSet, n: int) -> FaceSet:
    """The first ``n`` identities (in the set's order) and their images, and the first
    ``DISTRACTORS_PER_IDENTITY · n`` distractors (images labelled < 0)."""
    keep_ids = [x for x in dict.fromkeys(int(x) for x in fs.labels) if x >= 0][:n]
    remap = {old: new for new, old in enumerate(keep_ids)} | {-1: -1}
    distractors = [i for i, lab in enumerate(fs.labels) if lab < 0][: DISTRACTORS_PER_IDENTITY * n]
    rows = sorted([i for i, lab in enumerate(fs.labels) if lab >= 0 and int(lab) in remap] + distractors)
    return FaceSet(
        fs.name,
        fs.root,
        [fs.paths[i] for i in rows],
        np.array([remap[int(fs.labels[i])] for i in rows], dtype=np.int64),
        [fs.identities[i] for i in keep_ids],
        None,
        fs.checksums,
    )


class DatasetLoader:
    """Base class: set the class attributes and implement :meth:`read`."""

    name: ClassVar[str] = ""
    options: ClassVar[frozenset[str]] = frozenset()  # [dataset] keys besides name, loader, root, checksums
    path_options: ClassVar[frozenset[str]] = frozenset()  # options that are paths inside the data root
    provides: ClassVar[frozenset[str]] = frozenset({"labels"})
    limit_caps: ClassVar[str] = "identities"

    def read(self, root: Path, name: str, limit: int | None, options: dict[str, Any]) -> FaceSet:
        raise NotImplementedError

    def load(self, root: Path, name: str, limit: int | None, options: dict[str, Any]) -> FaceSet:
        """:meth:`read`, then (for labelled loaders that do not cap themselves) the first ``limit``
        identities."""
        fs = self.read(root, name, limit, options)
        if limit is not None and self.limit_caps.startswith("identities"):
            fs = subset_identities(fs, limit)
        return fs


class _LfwPairs(DatasetLoader):
    name = "lfw-pairs"
    options = frozenset({"images", "pairs"})
    path_options = frozenset({"images", "pairs"})
    provides = frozenset({"pairs"})
    limit_caps = "pairs per fold"

    def read(self, root: Path, name: str, limit: int | None, options: dict[str, Any]) -> FaceSet:
        from .lfw import load_lfw_pairs

        return load_lfw_pairs(
            root, pairs_file=options.get("pairs", "pairs.txt"), images=options.get("images", "lfw-deepfunneled"),
            limit_per_fold=limit, name=name,
        )  # fmt: skip


class _CelebA(DatasetLoader):
    name = "celeba"
    options = frozenset(
        {"images", "identities_file", "partition_file", "split", "images_per_identity", "min_images", "max_images"}
    )
    path_options = frozenset({"images", "identities_file", "partition_file"})

    def read(self, root: Path, name: str, limit: int | None, options: dict[str, Any]) -> FaceSet:
        from .identity import load_celeba

        return load_celeba(root, name=name, **options)


class _IdentityFolder(DatasetLoader):
    name = "identity-folder"
    options = frozenset(
        {"images", "images_per_identity", "min_images", "max_images", "distractors", "distractor_max_images",
         "distractor_limit"}
    )  # fmt: skip
    path_options = frozenset({"images", "distractors"})
    limit_caps = f"identities (and {DISTRACTORS_PER_IDENTITY} distractors per identity)"

    def read(self, root: Path, name: str, limit: int | None, options: dict[str, Any]) -> FaceSet:
        from .identity import load_identity_folder

        return load_identity_folder(root, name=name, **options)


LFW_PAIRS, CELEBA, IDENTITY_FOLDER = _LfwPairs(), _CelebA(), _IdentityFolder()


def _check_loader(obj: Any, name: str) -> DatasetLoader:
    if not callable(getattr(obj, "load", None)) or not isinstance(getattr(obj, "provides", None), frozenset | set):
        raise ProtocolError(f"dataset loader {name!r} is not a DatasetLoader (subclass srfacebench.data.loaders)")
    return obj


LOADERS: PluginRegistry[DatasetLoader] = PluginRegistry(
    "dataset loader",
    "srfacebench.loaders",
    {
        "lfw-pairs": "srfacebench.data.loaders:LFW_PAIRS",
        "celeba": "srfacebench.data.loaders:CELEBA",
        "identity-folder": "srfacebench.data.loaders:IDENTITY_FOLDER",
    },
    ProtocolError,
    "LOADER",
    _check_loader,
)
