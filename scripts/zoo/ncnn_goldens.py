"""Golden outputs of ncnn models from the ``ncnn`` pip runtime itself (run once; not in CI).

    python -m venv /tmp/gold && /tmp/gold/bin/pip install ncnn numpy
    /tmp/gold/bin/python scripts/zoo/ncnn_goldens.py OUT.npz NAME=PARAM,BIN[,CHANNELS] ...

For each model: a seeded image-like input of 3×12×12 in [0, 1] (smooth waves plus noise), with,
for SRMD (C = 18 or 19), the channels its upstream program appends: the 15 constants of the
bicubic degradation vector (srmd-ncnn-vulkan's ``srmd_preproc.comp``) and, for 19, the noise
level 3/255 (its default), run through ``ncnn.Net`` on the CPU (no Vulkan) with full-precision
options, and its output blob.
Writes ``NAME/input`` and ``NAME/output`` (float32, C×H×W) plus ``NAME/ncnn_version``.
"""

import sys

import ncnn
import numpy as np


def run(param: str, bin_: str, x: np.ndarray) -> np.ndarray:
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = 2
    # full precision, so the golden is the graph's arithmetic and not ncnn's storage tricks
    for flag in (
        "use_fp16_packed",
        "use_fp16_storage",
        "use_fp16_arithmetic",
        "use_bf16_storage",
        "use_int8_inference",
        "use_winograd_convolution",
        "use_sgemm_convolution",
    ):
        if hasattr(net.opt, flag):
            setattr(net.opt, flag, False)
    if net.load_param(param) or net.load_model(bin_):
        raise SystemExit(f"ncnn failed to load {param} / {bin_}")
    inp = next(iter(net.input_names()))
    out = "output" if "output" in net.output_names() else net.output_names()[-1]
    ex = net.create_extractor()
    ex.input(inp, ncnn.Mat(np.ascontiguousarray(x)))
    ret, mat = ex.extract(out)
    if ret:
        raise SystemExit(f"ncnn extract failed ({ret}) for {param}")
    return np.array(mat).astype(np.float32)


# srmd-ncnn-vulkan/src/srmd_preproc.comp: degradation_vector[15]
SRMD_DEGRADATION = [
    -1.12360956e-08,
    -1.36899159e-08,
    1.85637958e-02,
    2.86066886e-08,
    3.35292965e-02,
    8.37272935e-08,
    -2.54424009e-07,
    -3.16234976e-02,
    -1.35169253e-02,
    -1.10466090e-08,
    3.84753793e-02,
    3.79465739e-08,
    -2.44916752e-01,
    -8.02213490e-01,
    -5.40549755e-01,
]


def image_like(seed: int, size: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    chans = []
    for _ in range(3):
        fy, fx, ph = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.3)
        chans.append(0.5 + 0.35 * np.sin(2 * np.pi * (fy * yy + fx * xx) + ph))
    x = np.stack(chans) + rng.normal(0, 0.04, (3, size, size))
    return np.clip(x, 0, 1).astype(np.float32)


def main() -> None:
    out_path, specs = sys.argv[1], sys.argv[2:]
    arrays = {}
    for k, spec in enumerate(specs):
        name, _, files = spec.partition("=")
        parts = files.split(",")
        param, bin_ = parts[0], parts[1]
        channels = int(parts[2]) if len(parts) > 2 else 3
        x = image_like(1000 + k)
        if channels in (18, 19):
            extra = SRMD_DEGRADATION + ([3 / 255] if channels == 19 else [])
            x = np.concatenate([x, np.broadcast_to(np.float32(extra)[:, None, None], (len(extra), 12, 12))])
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = run(param, bin_, x)
        arrays[f"{name}/input"] = x
        arrays[f"{name}/output"] = y
        print(name, x.shape, "->", y.shape, float(y.min()), float(y.max()))
    arrays["ncnn_version"] = np.array(ncnn.__version__)
    np.savez_compressed(out_path, **arrays)


if __name__ == "__main__":
    main()
