"""Inner-product matrices on the CPU through BLAS, for estimators that need no gradients.

A Gram matrix A A^T is symmetric, so the BLAS routine ``syrk`` (symmetric rank-k update, BLAS level 3)
computes only its upper triangle: half the multiply-adds of the general product ``gemm``. PyTorch does
not expose ``syrk``; scipy's BLAS wrappers do, and they read a C-ordered (n, d) array as the
Fortran-ordered (d, n) matrix A^T without a copy. The results are float32 or float64 like the input;
the callers accumulate float32 blocks in float64 (FID moments) or evaluate kernels in float64 (KID).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.blas as blas
import torch

_SYRK = {np.dtype(np.float32): blas.ssyrk, np.dtype(np.float64): blas.dsyrk}


def _array(A: torch.Tensor) -> np.ndarray:
    array = A.detach().cpu().numpy()
    if array.dtype not in _SYRK:
        array = array.astype(np.float32)
    return np.ascontiguousarray(array)


def gram_lower(A: torch.Tensor) -> torch.Tensor:
    """(n, n) tensor whose lower triangle (diagonal included) holds A A^T for A (n, d); the strict upper
    triangle is 0. One ``syrk`` call: n^2 d multiply-adds instead of the 2 n^2 d of ``A @ A.T``."""
    array = _array(A)
    # syrk(trans=1) on the Fortran (d, n) view A^T gives (A^T)^T A^T = A A^T in its upper triangle,
    # Fortran-ordered; its transpose is the C-ordered lower triangle.
    upper = _SYRK[array.dtype](1.0, array.T, trans=1)
    return torch.from_numpy(upper.T)


def outer_lower(A: torch.Tensor) -> torch.Tensor:
    """(d, d) tensor whose lower triangle holds A^T A = sum_i a_i a_i^T for A (n, d); the strict upper
    triangle is 0 (one ``syrk`` call, n d^2 multiply-adds)."""
    array = _array(A)
    upper = _SYRK[array.dtype](1.0, array.T, trans=0)
    return torch.from_numpy(upper.T)


def symmetrize_lower(L: torch.Tensor) -> torch.Tensor:
    """The full symmetric matrix from its lower triangle L: L + L^T - diag(L)."""
    return L + L.T - torch.diag(L.diagonal())
