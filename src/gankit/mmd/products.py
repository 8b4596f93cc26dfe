"""Inner-product matrices of a matrix with itself on the CPU, at half the cost of a general product.

A Gram matrix A A^T (or A^T A) is symmetric, so the BLAS routine ``syrk`` (symmetric rank-k update,
BLAS level 3) computes one triangle of it: half the multiply-adds of the general product ``gemm``.
PyTorch's ``A @ A.T`` calls ``gemm``; numpy's ``matmul`` recognises a product of an array with its own
transpose (one buffer, transposed strides) and calls ``syrk``, then mirrors the triangle; scipy's BLAS wrapper
calls ``syrk`` and leaves the other triangle alone. The functions
take and return C-contiguous float32 or float64 numpy arrays (``Tensor.numpy()`` of a contiguous CPU
tensor shares its memory). The callers accumulate float32 products in float64 (FID moments) or
evaluate kernels in float64 (KID).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas


def lower_gram(A: np.ndarray) -> np.ndarray:
    """The lower triangle (diagonal included) of A A^T (n, n) for A (n, d), by one ``syrk`` and without
    mirroring it: the strict upper triangle is left at zero. A C-contiguous A is the Fortran-ordered A^T that
    BLAS reads without a copy, and the Fortran upper triangle it fills is the C-ordered lower one."""
    syrk = blas.dsyrk if A.dtype == np.float64 else blas.ssyrk
    return syrk(1.0, A.T, trans=1).T


def outer(A: np.ndarray) -> np.ndarray:
    """A^T A = sum_i a_i a_i^T (d, d) for A (n, d), by one ``syrk`` (n d^2 multiply-adds)."""
    return A.T @ A
