"""Any ncnn model from its files: ``--model ncnn --model-args param=M.param,bin=M.bin[,scale=4]``.

The graph is read by :mod:`srfacebench.zoo.ncnn` into a torch module (no ncnn runtime needed).
Options: ``scale`` (checked against what the network does; measured when omitted), ``name`` (in
results), ``input_scale`` (255 for networks fed 0..255), ``pad`` and ``pad_mode`` (pre-padding of
the LR image, cropped from the output, as the ncnn-vulkan programs do: ``reflect``, ``replicate``
or ``zeros``). The network must take 3 channels; models needing extra input channels (SRMD) are in
the zoo (``zoo:srmd-x4``). Its ``ModelInfo`` carries the SHA-256 of both files.
"""

from __future__ import annotations

from pathlib import Path

from srfacebench.errors import ModelError

__all__ = ["load"]


def load(
    run_scale: int,
    device: str = "cpu",
    param: str = "",
    bin: str = "",
    scale: int = 0,
    name: str = "",
    input_scale: float = 1.0,
    pad: int = 0,
    pad_mode: str = "reflect",
):  # type: ignore[no-untyped-def]
    from srfacebench.zoo.models import file_model
    from srfacebench.zoo.ncnn import NcnnGraph

    if not param or not bin:
        raise ModelError("ncnn: give both files: --model ncnn --model-args param=M.param,bin=M.bin")
    files = [Path(param).expanduser(), Path(bin).expanduser()]
    net = NcnnGraph(*files)
    return file_model("ncnn", files, net, run_scale, scale, name, input_scale, pad, pad_mode, device)
