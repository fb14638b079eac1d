"""dlib's serialisation primitives, on bytes written by hand from the format's definition."""

import pytest

from srfacebench.embedders.dlib_format import DlibFormatError, _Reader


def reader(b: bytes) -> _Reader:
    return _Reader(b, "test.dat")


def test_integers():
    r = reader(bytes([0x01, 0x96, 0x02, 0x00, 0x01, 0x81, 0x1C, 0x00]))
    assert r.int() == 150  # 1 byte
    assert r.int() == 256  # 2 bytes little-endian
    assert r.int() == -28  # sign bit 0x80
    assert r.int() == 0  # zero bytes


def test_float_is_mantissa_then_exponent():
    # 0.04 as dlib writes it: mantissa 0xa3d70a (3 bytes), exponent -28.
    r = reader(bytes([0x03, 0x0A, 0xD7, 0xA3, 0x81, 0x1C]))
    assert r.float() == pytest.approx(0xA3D70A * 2.0**-28)
    assert r.pos == 6


def test_string_bool_and_tensor():
    import struct

    data = bytes([0x01, 0x05]) + b"relu_" + b"10"
    data += bytes([0x01, 0x02]) + bytes([0x01, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]) + struct.pack("<2f", 1.5, -2)
    r = reader(data)
    assert r.string() == "relu_"
    assert r.bool() is True and r.bool() is False
    dims, arr = r.tensor()
    assert dims == (2, 1, 1, 1)
    assert arr.tolist() == [1.5, -2.0]


def test_errors_name_the_file_and_offset():
    with pytest.raises(DlibFormatError, match=r"test.dat: byte 0: bad integer control byte"):
        reader(bytes([0x7F])).int()
    with pytest.raises(DlibFormatError, match="runs past the end"):
        reader(bytes([0x01, 0x02, 0x01, 0x09, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01])).tensor()
    with pytest.raises(DlibFormatError, match="expected a bool"):
        reader(b"x").bool()
