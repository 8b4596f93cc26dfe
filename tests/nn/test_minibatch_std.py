import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.nn.minibatch_std import MinibatchStdDev, minibatch_stddev


def explicit_minibatch_std(x: np.ndarray, group_size: int, num_features: int) -> np.ndarray:
    """Karras et al. 2018 Sec. 3 by loops: groups {m, m + M, m + 2M, ...}, population std over the group,
    averaged over the channels of each of the F channel slices and over all positions."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    m = n // g
    extra = np.zeros((n, num_features, h, w))
    for k in range(m):
        members = [k + j * m for j in range(g)]
        for f in range(num_features):
            chans = slice(f * c // num_features, (f + 1) * c // num_features)
            value = np.std(x[members][:, chans], axis=0).mean()
            for i in members:
                extra[i, f] = value
    return np.concatenate([x, extra], axis=1)


@pytest.mark.parametrize(("n", "group_size", "num_features"), [(8, 4, 1), (8, 4, 2), (6, 2, 3), (3, 4, 1)])
def test_matches_the_explicit_formula(n, group_size, num_features):
    x = torch.randn(n, 6, 3, 5, generator=torch.Generator().manual_seed(n))
    out = minibatch_stddev(x, group_size, num_features)
    assert out.shape == (n, 6 + num_features, 3, 5)
    ref = explicit_minibatch_std(x.double().numpy(), group_size, num_features)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-5)


def test_module_and_gradient_flow():
    x = torch.randn(4, 2, 2, 2, requires_grad=True)
    MinibatchStdDev(4, 1)(x)[:, 2].sum().backward()
    assert x.grad.abs().sum() > 0


def test_identical_samples_give_zero_std():
    x = torch.randn(1, 3, 4, 4).expand(4, -1, -1, -1)
    assert minibatch_stddev(x)[:, 3].abs().max() < 1e-3


def test_batch_not_divisible_is_a_gankit_error():
    with pytest.raises(GankitError, match="multiple of 4"):
        minibatch_stddev(torch.randn(6, 2, 2, 2), 4)
    with pytest.raises(GankitError, match="feature slices"):
        minibatch_stddev(torch.randn(4, 3, 2, 2), 4, 2)
