import math

import pytest
import torch
from scipy import stats

from gankit.errors import GankitError
from gankit.nn.truncation import MIN_THRESHOLD, truncated_normal


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


def test_a_value_exactly_at_the_threshold_is_kept_in_the_first_draw():
    """The truncation interval is closed (only |value| > threshold is redrawn): with the threshold set to the
    largest |value| of the first draw, nothing is redrawn and the draw is returned as it is."""
    plain = torch.randn(50, generator=torch.Generator().manual_seed(4))
    threshold = float(plain.abs().max())
    assert torch.equal(truncated_normal((50,), threshold, torch.Generator().manual_seed(4)), plain)


def test_a_redrawn_value_exactly_at_the_threshold_is_kept():
    """The same for a redraw: replaying the generator's stream (n values, then the redraw of the c values beyond
    the threshold), pick the threshold equal to |a redrawn value| that leaves exactly c values beyond it; that
    redrawn value is kept, so the result holds a value of magnitude exactly the threshold."""
    n = 8
    for seed in range(100):
        g = torch.Generator().manual_seed(seed)
        first = torch.randn(n, generator=g).abs()
        state = g.get_state()
        found = None
        for c in range(1, n):
            g.set_state(state)
            redraw = torch.randn(c, generator=g).abs()
            fits = [float(a) for a in redraw if int((first > a).sum()) == c and a >= MIN_THRESHOLD]
            if fits:
                found = (c, fits[0])
                break
        if found:
            break
    assert found is not None
    threshold = found[1]
    z = truncated_normal((n,), threshold, torch.Generator().manual_seed(seed))
    assert float(z.abs().max()) == threshold and bool((z.abs() <= threshold).all())


def test_draws_are_on_the_generators_device_not_the_default_device():
    """With a CPU generator the values are drawn on the CPU even where the default device is another one (here
    ``meta``), first draw and redraws alike: the same values as without that default."""
    expected = truncated_normal((40,), 0.7, torch.Generator().manual_seed(2))
    with torch.device("meta"):
        z = truncated_normal((40,), 0.7, torch.Generator().manual_seed(2))
    assert z.device == torch.device("cpu") and torch.equal(z, expected)
