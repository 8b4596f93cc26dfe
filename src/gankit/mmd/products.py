"""Inner-product matrices of a matrix with itself on the CPU, at half the cost of a general product.

A Gram matrix A A^T (or A^T A) is symmetric, so the BLAS routine ``syrk`` (symmetric rank-k update,
BLAS level 3) computes one triangle of it: half the multiply-adds of the general product ``gemm``.
PyTorch's ``A @ A.T`` calls ``gemm``; numpy's ``matmul`` recognises a product of an array with its own
transpose (one buffer, transposed strides) and calls ``syrk``, then mirrors the triangle. These
functions hand float32 or float64 CPU tensors to numpy without a copy and return tensors sharing
numpy's result. The callers accumulate float32 products in float64 (FID moments) or evaluate kernels
in float64 (KID).
"""

from __future__ import annotations

import numpy as np
import torch


def _array(A: torch.Tensor) -> np.ndarray:
    array = A.detach().cpu().numpy()
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float32)
    return np.ascontiguousarray(array)


def gram(A: torch.Tensor) -> torch.Tensor:
    """A A^T (n, n) for A (n, d), by one ``syrk`` (n^2 d multiply-adds instead of 2 n^2 d)."""
    array = _array(A)
    return torch.from_numpy(array @ array.T)


def outer(A: torch.Tensor) -> torch.Tensor:
    """A^T A = sum_i a_i a_i^T (d, d) for A (n, d), by one ``syrk`` (n d^2 multiply-adds)."""
    array = _array(A)
    return torch.from_numpy(array.T @ array)
