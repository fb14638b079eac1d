"""Template adapter: copy this file, fill in ``load``, run ``srfacebench run --model srfacebench.adapters.template``.

An adapter is a module that defines either

* ``load(scale: int, device: str, **kwargs) -> SuperResolver`` for one model, or
* ``MODELS: dict[str, callable]`` for a zoo, each value with the signature of ``load``
  (``--model pkg.mod`` runs them all, ``--model pkg.mod:name`` one).

A SuperResolver is anything with ``info: srfacebench.ModelInfo`` and ``__call__(lr) -> sr`` where
``lr`` is a float32 tensor B×3×h×w, RGB in [0, 1], on ``device``, and ``sr`` is B×3×(s·h)×(s·w) in
[0, 1]. Check yours with ``srfacebench.testing.check_resolver(model, scale)``.

Installed packages can register adapters with an entry point::

    [project.entry-points."srfacebench.models"]
    mymodel = "mypkg.srfacebench_adapter"     # a module as above, or a load-like callable

This template is a real (if poor) model: nearest-neighbour up-scaling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srfacebench.resolver import ModelInfo


class NearestUpscaler:
    def __init__(self, scale: int, device: str = "cpu") -> None:
        self.scale = scale
        self.device = device
        # Fill in citation, licence and the SHA-256 of your weights file (cache keys depend on it).
        self.info = ModelInfo(name="nearest", scales=(), citation="", licence="BSD-3-Clause", weights_sha256=None)

    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        return F.interpolate(lr, scale_factor=self.scale, mode="nearest")


def load(scale: int, device: str = "cpu", **kwargs: object) -> NearestUpscaler:
    return NearestUpscaler(scale, device)
