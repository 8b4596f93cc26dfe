"""Inner-product matrices of a matrix with itself on the CPU, at half the cost of a general product.

A Gram matrix A A^T (or A^T A) is symmetric, so the BLAS routine ``syrk`` (symmetric rank-k update,
BLAS level 3) computes one triangle of it: half the multiply-adds of the general product ``gemm``.
PyTorch's ``A @ A.T`` calls ``gemm``; numpy's ``matmul`` recognises a product of an array with its own
transpose (one buffer, transposed strides) and calls ``syrk``, then mirrors the triangle. The functions
take and return C-contiguous float32 or float64 numpy arrays (``Tensor.numpy()`` of a contiguous CPU
tensor shares its memory). The callers accumulate float32 products in float64 (FID moments) or
evaluate kernels in float64 (KID).
"""

from __future__ import annotations

import numpy as np


def gram(A: np.ndarray) -> np.ndarray:
    """A A^T (n, n) for A (n, d), by one ``syrk`` (n^2 d multiply-adds instead of 2 n^2 d)."""
    return A @ A.T


def outer(A: np.ndarray) -> np.ndarray:
    """A^T A = sum_i a_i a_i^T (d, d) for A (n, d), by one ``syrk`` (n d^2 multiply-adds)."""
    return A.T @ A
