import pytest
import torch

from gankit.errors import GankitError
from gankit.nn.noise import NoiseInjection


def test_zero_strength_makes_the_output_independent_of_the_noise_draws():
    layer = NoiseInjection(4, 8)
    x = torch.randn(3, 4, 8, 8)
    torch.manual_seed(0)
    a = layer(x, "random")
    torch.manual_seed(1)
    b = layer(x, "random")
    assert torch.equal(a, x) and torch.equal(b, x)
    assert torch.equal(layer(x, noise=torch.randn(3, 1, 8, 8)), x)


def test_random_noise_is_one_global_draw_per_pixel_scaled_per_channel():
    layer = NoiseInjection(3, 5)
    with torch.no_grad():
        layer.strength.copy_(torch.tensor([0.5, -1.0, 2.0]))
    x = torch.randn(2, 3, 5, 5)
    torch.manual_seed(7)
    out = layer(x, "random")
    torch.manual_seed(7)
    noise = torch.randn(2, 1, 5, 5)
    torch.testing.assert_close(out, x + noise * torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1))
    torch.manual_seed(8)
    assert not torch.allclose(layer(x, "random"), out)


def test_const_mode_is_reproducible_and_none_adds_nothing():
    layer = NoiseInjection(2, 4)
    with torch.no_grad():
        layer.strength.fill_(1.0)
    x = torch.zeros(3, 2, 4, 4)
    a, b = layer(x, "const"), layer(x, "const")
    assert torch.equal(a, b)
    torch.testing.assert_close(a, layer.noise_const.expand(3, 2, 4, 4))
    assert torch.equal(layer(x, "none"), x)
    assert "noise_const" in layer.state_dict()


def test_bad_mode_or_noise_shape_is_a_gankit_error():
    layer = NoiseInjection(2, 4)
    with pytest.raises(GankitError, match="random, const, none"):
        layer(torch.zeros(1, 2, 4, 4), "fixed")
    with pytest.raises(GankitError, match=r"\(N or 1, 1, 4, 4\)"):
        layer(torch.zeros(1, 2, 4, 4), noise=torch.zeros(1, 1, 8, 8))
