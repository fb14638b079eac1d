"""Fine-tunes of zoo models that srfacebench ships (pure data).

Each was made by ``srfacebench train --init zoo:<base>`` on this project's machines (the command,
data, steps, wall time, losses and automatic loss weights are in ``docs/reference_models.md``);
the weights live in ``srfacebench/reference_models/weights/<name>-x<scale>.safetensors``, pinned
here by SHA-256. This table is kept out of the zoo's code digest: adding a fine-tune does not
change the identity (and so the caches) of the published models.
"""

from __future__ import annotations

# The licence chain of every shipped fine-tune: its base's weights, srfacebench's changes (MIT),
# and the training data's terms.
LICENCE = (
    "weights: {base}, fine-tuned by srfacebench (MIT) on the CelebA train split — CelebA's terms allow "
    "non-commercial research use only, so these weights inherit that restriction"
)

# name -> (base zoo entry, SHA-256 of the shipped weights, what it is)
FINETUNED: dict[str, tuple[str, str, str]] = {
    "upscalerjs-thick-x8-ft-vanilla": (
        "upscalerjs-thick-x8",
        "0ef4705ba87474a75da0e69168d5255dac51d7aaf27eef6a476531feae2bc9de",
        "fine-tuned by srfacebench on MSE alone (the paper's vanilla branch): 240 steps of 16 CelebA train chips, "
        "MATLAB-bicubic x8 LR",
    ),
    "upscalerjs-thick-x8-ft-fr": (
        "upscalerjs-thick-x8",
        "17069dc1dafed1b315617721965dc4455a9630762adf74e8d10dcc5868fc56fb",
        "fine-tuned by srfacebench on MSE + FR loss (dlib-resnet29 frozen, BatchNorm in train mode; the paper's "
        "method): the same 240 steps and batches as -ft-vanilla",
    ),
    "upscalerjs-medium-x4-ft-vanilla": (
        "upscalerjs-medium-x4",
        "7233dedfa00eed700747fe00004a705f22d3d17745ac00a202e44b29730675ed",
        "fine-tuned by srfacebench on MSE alone (the paper's vanilla branch): 480 steps of 16 CelebA train chips, "
        "MATLAB-bicubic x4 LR",
    ),
    "upscalerjs-medium-x4-ft-fr": (
        "upscalerjs-medium-x4",
        "3d255f2ddcacb8a6587f3b0a97e7555891ef86f0144db45b754d2c29fde395b9",
        "fine-tuned by srfacebench on MSE + FR loss (dlib-resnet29 frozen, BatchNorm in train mode; the paper's "
        "method): the same 480 steps and batches as -ft-vanilla",
    ),
    "upscalerjs-medium-x4-realistic-ft-vanilla": (
        "upscalerjs-medium-x4",
        "e38a64a901b62465489596555268469b1dee6ac637aee36bfe89a27c1b5c2da4",
        "fine-tuned by srfacebench on MSE alone (the paper's vanilla branch): 480 steps of 16 CelebA train chips, "
        "realistic:4 LR (blur sigma 2, MATLAB-bicubic x4, noise sigma 8, JPEG q 60)",
    ),
    "upscalerjs-medium-x4-realistic-ft-fr": (
        "upscalerjs-medium-x4",
        "c3d6e8bae1869e05f8b68b0fb1a9fa7776ee0c5f88d6a8cf7dc2d1799d32714b",
        "fine-tuned by srfacebench on MSE + FR loss (dlib-resnet29 frozen, BatchNorm in train mode; the paper's "
        "method) for realistic:4 LR: the same 480 steps and batches as -realistic-ft-vanilla",
    ),
}
