"""Any TensorFlow.js layers model from its files: ``--model tfjs --model-args model=DIR/model.json``.

Read by :mod:`srfacebench.zoo.tfjs` into a torch module (no TF.js runtime needed); the weight
shards are read from beside ``model.json``. Options as for ``--model ncnn``: ``scale``, ``name``,
``input_scale`` (255 for UpscalerJS's slim and medium models, whose inputRange is [0, 255]),
``pad``, ``pad_mode``. Its ``ModelInfo`` carries the SHA-256 of model.json and every shard.
"""

from __future__ import annotations

import json
from pathlib import Path

from srfacebench.errors import ModelError

__all__ = ["load"]


def load(
    run_scale: int,
    device: str = "cpu",
    model: str = "",
    scale: int = 0,
    name: str = "",
    input_scale: float = 1.0,
    pad: int = 0,
    pad_mode: str = "reflect",
):  # type: ignore[no-untyped-def]
    from srfacebench.zoo.models import file_model
    from srfacebench.zoo.tfjs import TfjsLayersModel

    if not model:
        raise ModelError("tfjs: give the model file: --model tfjs --model-args model=DIR/model.json")
    path = Path(model).expanduser()
    net = TfjsLayersModel(path)
    manifest = json.loads(path.read_text(encoding="utf-8")).get("weightsManifest", [])
    files = [path] + [path.parent / p for g in manifest for p in g.get("paths", [])]
    return file_model("tfjs", files, net, run_scale, scale, name, input_scale, pad, pad_mode, device)
