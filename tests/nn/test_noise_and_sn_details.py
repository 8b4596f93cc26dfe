"""Details of StyleGAN's noise inputs (Karras et al., CVPR 2019, Sec. 3.2) and of spectral normalisation's power
iteration count (Miyato et al., ICLR 2018, Algorithm 1: one iteration per forward pass by default)."""

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.nn.noise import NoiseInjection
from gankit.nn.spectral_norm import apply_spectral_norm


def test_const_map_is_one_single_channel_map_of_the_layer_resolution():
    layer = NoiseInjection(3, 5)
    assert layer.noise_const.shape == (1, 1, 5, 5)
    with torch.no_grad():
        layer.strength.copy_(torch.tensor([1.0, 2.0, -1.0]))
    out = layer(torch.zeros(2, 3, 5, 5), mode="const")
    for c, s in enumerate([1.0, 2.0, -1.0]):
        torch.testing.assert_close(out[:, c], s * layer.noise_const[0, 0].expand(2, 5, 5))


def test_random_is_the_default_and_draws_in_the_input_dtype():
    layer = NoiseInjection(2, 4).double()
    with torch.no_grad():
        layer.strength.fill_(1.0)
    x = torch.zeros(3, 2, 4, 4, dtype=torch.float64)
    torch.manual_seed(0)
    first = layer(x)
    torch.manual_seed(0)
    again = layer(x, mode="random")
    assert torch.equal(first, again) and first.dtype == torch.float64
    assert not torch.equal(first, layer(x))  # fresh draws
    assert (first == first.float().double()).double().mean().item() < 0.01  # drawn in float64, not float32


def test_a_noise_map_with_several_channels_is_refused_and_the_message_gives_height_and_width():
    layer = NoiseInjection(2, 4)
    with pytest.raises(GankitError, match=r"\(N or 1, 1, 4, 6\)"):
        layer(torch.zeros(1, 2, 4, 6), noise=torch.zeros(1, 2, 4, 6))


@pytest.mark.parametrize("iterations", [None, 3])
def test_power_iterations_per_forward_pass(iterations):
    net = nn.Sequential(nn.Linear(4, 3), nn.Conv2d(2, 2, 3))
    apply_spectral_norm(net) if iterations is None else apply_spectral_norm(net, iterations)
    for layer in (net[0], net[1]):
        (parametrization,) = layer.parametrizations.weight
        assert parametrization.n_power_iterations == (iterations or 1)
