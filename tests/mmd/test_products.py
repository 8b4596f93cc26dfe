import numpy as np
import pytest

from gankit.mmd.products import gram, outer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_symmetric_products_equal_the_general_ones(dtype):
    A = np.random.default_rng(0).standard_normal((300, 70)).astype(dtype)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    G, S = gram(A), outer(A)
    assert G.dtype == dtype and S.dtype == dtype
    np.testing.assert_allclose(G, A.astype(np.float64) @ A.T.astype(np.float64), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(S, A.T.astype(np.float64) @ A.astype(np.float64), rtol=tolerance, atol=tolerance)
    # both triangles are filled: the matrices are exactly symmetric
    assert np.array_equal(G, G.T) and np.array_equal(S, S.T)
