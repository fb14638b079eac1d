"""Inputs checked for meaning, not only syntax: pairs and identity lists that would silently count
an item twice or contradict themselves are refused with the file and line."""

from __future__ import annotations

import pytest

from srfacebench.data.identity import load_celeba
from srfacebench.data.lfw import parse_pairs_file
from srfacebench.errors import DataError

GOOD = ["1\t2", "Ann_A\t1\t2", "Bob_B\t1\t2", "Ann_A\t1\tBob_B\t2", "Cid_C\t1\tDee_D\t1"]


def _pairs(tmp_path, lines):
    path = tmp_path / "pairs.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_valid_pairs_parse(tmp_path):
    pairs, folds, n = parse_pairs_file(_pairs(tmp_path, GOOD))
    assert (folds, n, len(pairs)) == (1, 2, 4)


@pytest.mark.parametrize(
    ("line", "lineno", "message"),
    [
        ("Bob_B\t2\t2", 3, "pairs an image with itself"),
        ("Cid_C\t1\tCid_C\t2", 5, "mismatched pair of one person"),
        ("Ann_A\t2\t1", 3, "the same pair as line 2"),
        ("Bob_B\t2\tAnn_A\t1", 5, "the same pair as line 4"),
    ],
)
def test_meaningless_pairs_are_refused_with_their_line(tmp_path, line, lineno, message):
    lines = list(GOOD)
    lines[lineno - 1] = line
    with pytest.raises(DataError, match=rf"pairs\.txt:{lineno}: .*{message}"):
        parse_pairs_file(_pairs(tmp_path, lines))


REPEATS = [("000001.jpg 1", "listed again"), ("000001.jpg 2", "listed with '2', line 1 says '1'")]


@pytest.mark.parametrize(("extra", "message"), REPEATS)
def test_a_repeated_image_in_an_identity_list_is_refused(tmp_path, extra, message):
    root = tmp_path / "celeba"
    (root / "img").mkdir(parents=True)
    names = [f"{k:06d}.jpg" for k in range(1, 5)]
    for n in names:
        (root / "img" / n).write_bytes(b"")
    (root / "identity_CelebA.txt").write_text(
        "\n".join(f"{n} {k % 2 + 1}" for k, n in enumerate(names)) + f"\n{extra}\n"
    )
    (root / "list_eval_partition.txt").write_text("\n".join(f"{n} 0" for n in names) + "\n")
    with pytest.raises(DataError, match=rf"identity_CelebA\.txt:5: image 000001\.jpg is {message}"):
        load_celeba(root, split="train", min_images=1)


def test_landmarks_need_no_pkg_resources(monkeypatch):
    """The original face_recognition_models' __init__ imports pkg_resources, which current setuptools
    lacks: importing that package fails. The predictor file is located without importing it."""
    import builtins
    import sys

    from srfacebench.data.landmarks import _predictor_path

    real_import = builtins.__import__

    def no_frm(name, *args, **kwargs):
        if name.split(".")[0] == "face_recognition_models":
            raise ModuleNotFoundError("No module named 'pkg_resources'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "face_recognition_models", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_frm)
    assert _predictor_path().is_file()
