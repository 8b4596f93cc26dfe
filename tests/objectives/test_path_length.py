import math

import numpy as np
import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.stylegan import StyleGAN2Generator
from gankit.objectives.path_length import path_length_penalty

L, D, C, H, W = 3, 4, 2, 3, 5  # num_ws, w_dim, image channels and size


class LinearStyleGenerator(nn.Module):
    """mapping: z -> w = M z broadcast to L layers; synthesis: image = A vec(ws), so J_ws = A exactly."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.M = nn.Parameter(torch.randn(D, D, generator=g, dtype=torch.float64))
        self.A = nn.Parameter(torch.randn(C * H * W, L * D, generator=g, dtype=torch.float64))

    def mapping(self, z, y=None):
        return (z @ self.M.T)[:, None].expand(-1, L, -1)

    def synthesis(self, ws, noise_mode="random"):
        return (ws.reshape(len(ws), L * D) @ self.A.T).reshape(-1, C, H, W)


def closed_form_lengths(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """||J^T y|| with J = A: g = A^T vec(y) / sqrt(H W), reshaped to (L, D); sqrt(mean_l ||g_l||^2)."""
    g = (y.reshape(len(y), -1) / math.sqrt(H * W)) @ A
    return np.sqrt((g.reshape(len(y), L, D) ** 2).sum(2).mean(1))


def test_lengths_penalty_and_running_mean_match_the_definition():
    G = LinearStyleGenerator()
    z = torch.randn(6, D, dtype=torch.float64)
    penalty, new_mean, lengths = path_length_penalty(G, z, None, 0.5, torch.Generator().manual_seed(7), decay=0.1)
    y = torch.randn(6, C, H, W, generator=torch.Generator().manual_seed(7), dtype=torch.float64).numpy()
    expected = closed_form_lengths(G.A.detach().numpy(), y)
    np.testing.assert_allclose(lengths.detach().numpy(), expected, rtol=1e-10)
    a = 0.5 + 0.1 * (expected.mean() - 0.5)
    assert new_mean.item() == pytest.approx(a, rel=1e-10)
    assert penalty.item() == pytest.approx(((expected - a) ** 2).mean(), rel=1e-10)


def test_penalty_gradient_wrt_the_generator_matches_the_closed_form():
    G = LinearStyleGenerator()
    z = torch.randn(5, D, dtype=torch.float64)
    penalty, new_mean, _ = path_length_penalty(G, z, None, 0.3, torch.Generator().manual_seed(1))
    penalty.backward()
    y = torch.randn(5, C, H, W, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    A = G.A.detach().clone().requires_grad_(True)
    g = (y.reshape(5, -1) / math.sqrt(H * W)) @ A
    lengths = g.reshape(5, L, D).square().sum(2).mean(1).sqrt()
    ((lengths - new_mean).square().mean()).backward()
    torch.testing.assert_close(G.A.grad, A.grad)
    assert G.M.grad is None or G.M.grad.abs().max() == 0  # a linear synthesis: lengths do not depend on w


def test_directions_come_from_the_given_generator_not_the_global_one():
    G = LinearStyleGenerator()
    z = torch.randn(4, D, dtype=torch.float64)
    state = torch.get_rng_state()
    a = path_length_penalty(G, z, None, 0.0, torch.Generator().manual_seed(3))[2]
    assert torch.equal(torch.get_rng_state(), state)
    b = path_length_penalty(G, z, None, 0.0, torch.Generator().manual_seed(3))[2]
    c = path_length_penalty(G, z, None, 0.0, torch.Generator().manual_seed(4))[2]
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_works_on_the_stylegan2_generator_and_backpropagates():
    torch.manual_seed(0)
    G = StyleGAN2Generator(8, 1, 8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8)
    penalty, new_mean, lengths = path_length_penalty(G, torch.randn(4, 8), None, 0.0, torch.Generator(), 0.01)
    assert lengths.shape == (4,) and (lengths > 0).all()
    assert new_mean.item() == pytest.approx(0.01 * lengths.mean().item(), rel=1e-5)
    penalty.backward()
    assert G.blocks[-1].convs[-1].conv.weight.grad.abs().sum() > 0


def test_needs_a_style_generator():
    with pytest.raises(GankitError, match="stylegan2"):
        path_length_penalty(nn.Linear(2, 2), torch.randn(2, 2), None, 0.0, torch.Generator())
