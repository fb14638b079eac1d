"""The torch exact kNN (the GPU path without faiss-gpu) against faiss-cpu, on CPU tensors."""

import numpy as np
import pytest

from srfacebench.metrics.identification import knn_leave_one_out, knn_torch
from srfacebench.metrics.knn import exact_search


@pytest.mark.parametrize("chunk", [7, 4096])
def test_same_neighbours_as_faiss(chunk):
    e = np.random.default_rng(1).normal(size=(500, 32)).astype(np.float32)
    d_ref, i_ref = exact_search(e, e, 12)
    d, i = knn_torch(e, e, 12, "cpu", chunk=chunk)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(d, d_ref, atol=1e-5, rtol=1e-5)


def test_by_hand():
    g = np.array([[0.0], [1.0], [3.0], [7.0]])
    d, i = knn_torch(g, np.array([[2.9]]), 2)
    assert i.tolist() == [[2, 1]] and d == pytest.approx(np.array([[0.01, 3.61]]))


def test_leave_one_out_on_cpu_is_unchanged():
    e = np.random.default_rng(2).normal(size=(60, 8))
    _, i = knn_leave_one_out(e, 5)
    _, i_torch = knn_torch(e, e, 6)
    np.testing.assert_array_equal(i, i_torch[:, 1:])  # the nearest is each image itself
