import math

import pytest
import torch
from scipy import stats

from gankit.errors import GankitError
from gankit.nn.truncation import truncated_normal


@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.0])
def test_no_value_beyond_threshold_and_distribution_is_the_truncated_normal(threshold):
    z = truncated_normal((20_000,), threshold, torch.Generator().manual_seed(0))
    assert z.abs().max() <= threshold
    result = stats.kstest(z.numpy(), stats.truncnorm(-threshold, threshold).cdf)
    assert result.pvalue > 0.01
    # the test has power: the same count of clipped normals is rejected
    clipped = torch.randn(20_000, generator=torch.Generator().manual_seed(0)).clamp(-threshold, threshold)
    assert stats.kstest(clipped.numpy(), stats.truncnorm(-threshold, threshold).cdf).pvalue < 1e-6


def test_seeded_shape_dtype_and_no_truncation():
    a = truncated_normal((4, 7), 0.8, torch.Generator().manual_seed(3))
    b = truncated_normal((4, 7), 0.8, torch.Generator().manual_seed(3))
    assert a.shape == (4, 7) and a.dtype == torch.float32 and torch.equal(a, b)
    plain = truncated_normal((4, 7), None, torch.Generator().manual_seed(3))
    assert torch.equal(plain, torch.randn(4, 7, generator=torch.Generator().manual_seed(3)))
    assert torch.equal(
        truncated_normal((3,), math.inf, torch.Generator().manual_seed(1)),
        torch.randn(3, generator=torch.Generator().manual_seed(1)),
    )


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan")])
def test_bad_threshold(threshold):
    with pytest.raises(GankitError, match="truncation threshold"):
        truncated_normal((3,), threshold)
