import numpy as np
import pytest

from gankit.mmd.products import outer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outer_equals_the_float64_general_product(dtype):
    A = np.random.default_rng(0).standard_normal((300, 70)).astype(dtype)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    S = outer(A)
    assert S.dtype == dtype
    np.testing.assert_allclose(S, A.T.astype(np.float64) @ A.astype(np.float64), rtol=tolerance, atol=tolerance)
    assert np.array_equal(S, S.T)  # numpy mirrors A^T A: exactly symmetric
