import numpy as np
import pytest

from gankit.mmd.products import lower_gram, outer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_symmetric_products_equal_the_general_ones(dtype):
    A = np.random.default_rng(0).standard_normal((300, 70)).astype(dtype)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    L, S = lower_gram(A), outer(A)
    assert L.dtype == dtype and S.dtype == dtype and L.flags["C_CONTIGUOUS"]
    exact = A.astype(np.float64) @ A.T.astype(np.float64)
    np.testing.assert_allclose(np.tril(L), np.tril(exact), rtol=tolerance, atol=tolerance)
    assert not np.triu(L, 1).any()  # the upper triangle is not computed (nor mirrored)
    np.testing.assert_allclose(S, A.T.astype(np.float64) @ A.astype(np.float64), rtol=tolerance, atol=tolerance)
    assert np.array_equal(S, S.T)  # numpy mirrors A^T A: exactly symmetric
