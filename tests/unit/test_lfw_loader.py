"""The LFW pairs loader on synthetic files: structure, limits, and errors naming file:line."""

import pytest

from srfacebench.data.lfw import load_lfw_pairs
from srfacebench.errors import DataError


def test_loads_pairs_folds_and_labels(tiny_data):
    data_root, _ = tiny_data
    fs = load_lfw_pairs(data_root / "tiny", images="imgs")
    assert len(fs.pairs) == 8
    assert fs.pairs.fold.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert fs.pairs.same.tolist() == [True, True, False, False] * 2
    a, b = fs.pairs.a[0], fs.pairs.b[0]
    assert (fs.paths[a], fs.paths[b]) == ("Ann_A/Ann_A_0001.jpg", "Ann_A/Ann_A_0002.jpg")
    assert fs.labels[a] == fs.labels[b]
    assert len(fs.paths) == len(set(fs.paths)) == 8
    assert "pairs.txt" in fs.checksums


def test_limit_keeps_both_halves_of_every_fold(tiny_data):
    data_root, _ = tiny_data
    fs = load_lfw_pairs(data_root / "tiny", images="imgs", limit_per_fold=2)
    assert fs.pairs.same.tolist() == [True, False, True, False]
    assert fs.pairs.fold.tolist() == [0, 0, 1, 1]


def test_malformed_line_names_file_and_line(tiny_data):
    data_root, _ = tiny_data
    pairs = data_root / "tiny" / "pairs.txt"
    lines = pairs.read_text().splitlines()
    lines[3] = "Ann_A\t1\tBob_B"  # a mismatched line with 3 fields
    pairs.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"pairs.txt:4: expected a mismatched pair .*'Ann_A\\t1\\tBob_B'"):
        load_lfw_pairs(data_root / "tiny", images="imgs")


def test_bad_number_and_bad_count(tiny_data):
    data_root, _ = tiny_data
    pairs = data_root / "tiny" / "pairs.txt"
    lines = pairs.read_text().splitlines()
    pairs.write_text("\n".join([*lines[:2], "Bob_B\tx\t2", *lines[3:]]) + "\n")
    with pytest.raises(DataError, match=r"pairs.txt:3: expected an integer, found 'x'"):
        load_lfw_pairs(data_root / "tiny", images="imgs")
    pairs.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataError, match="8 lines, the file has 7"):
        load_lfw_pairs(data_root / "tiny", images="imgs")


def test_missing_images_listed_together(tiny_data):
    data_root, _ = tiny_data
    (data_root / "tiny" / "imgs" / "Ann_A" / "Ann_A_0001.jpg").unlink()
    (data_root / "tiny" / "imgs" / "Dee_D" / "Dee_D_0002.jpg").unlink()
    with pytest.raises(DataError, match=r"2 listed image\(s\) missing:(.|\n)*Ann_A_0001.jpg(.|\n)*Dee_D_0002.jpg"):
        load_lfw_pairs(data_root / "tiny", images="imgs")
