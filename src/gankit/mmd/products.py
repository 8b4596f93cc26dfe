"""Inner-product matrices of a matrix with itself on the CPU, at half the cost of a general product.

A Gram matrix A A^T (or A^T A) is symmetric, so the BLAS routine ``syrk`` (symmetric rank-k update,
BLAS level 3) computes one triangle of it: half the multiply-adds of the general product ``gemm``.
PyTorch's ``A @ A.T`` calls ``gemm``; numpy's ``matmul`` recognises a product of an array with its own
transpose (one buffer, transposed strides) and calls ``syrk``, then mirrors the triangle (KID's within-sample
products rely on this too). The function takes and returns C-contiguous float32 or float64 numpy arrays
(``Tensor.numpy()`` of a contiguous CPU tensor shares its memory); FID accumulates its float32 products in
float64.
"""

from __future__ import annotations

import numpy as np


def outer(A: np.ndarray) -> np.ndarray:
    """A^T A = sum_i a_i a_i^T (d, d) for A (n, d), by one ``syrk`` (n d^2 multiply-adds)."""
    return A.T @ A
