import math

import numpy as np
import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.stylegan import StyleGAN2Generator
from gankit.objectives.path_length import path_length_penalty, path_length_terms

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


class TanhLabelledGenerator(LinearStyleGenerator):
    """mapping: w = M z + e_y (a label embedding); synthesis: image = tanh(A vec(ws)), so J_ws = diag(1 - image^2) A
    depends on w and hence on the label. Records the noise modes it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.E = torch.randn(3, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        self.modes = []

    def mapping(self, z, y=None):
        return (z @ self.M.T + self.E[y])[:, None].expand(-1, L, -1)

    def synthesis(self, ws, noise_mode="random"):
        self.modes.append(noise_mode)
        return torch.tanh(ws.reshape(len(ws), L * D) @ self.A.T).reshape(-1, C, H, W)


def test_labels_and_noise_mode_reach_the_generator_and_lengths_follow_the_nonlinear_jacobian():
    G = TanhLabelledGenerator()
    z, labels = torch.randn(5, D, dtype=torch.float64) * 0.3, torch.tensor([0, 2, 1, 2, 0])
    penalty, new_mean, lengths = path_length_penalty(
        G, z, labels, 0.3, torch.Generator().manual_seed(2), decay=0.2, noise_mode="const"
    )
    assert G.modes == ["const"]
    A = G.A.detach().numpy()
    ws = (z @ G.M.detach().T + G.E[labels]).numpy()
    images = np.tanh(np.tile(ws, (1, L)) @ A.T)  # vec(ws) repeats w for each of the L layers
    y = torch.randn(5, C, H, W, generator=torch.Generator().manual_seed(2), dtype=torch.float64).numpy()
    g = ((y.reshape(5, -1) / math.sqrt(H * W)) * (1 - images**2)) @ A
    expected = np.sqrt((g.reshape(5, L, D) ** 2).sum(2).mean(1))
    np.testing.assert_allclose(lengths.detach().numpy(), expected, rtol=1e-10)
    # the running mean in the lengths' dtype: 0.3 is not a float32 number
    assert new_mean.dtype == torch.float64
    assert new_mean.item() == pytest.approx(0.3 + 0.2 * (expected.mean() - 0.3), rel=1e-13)
    assert penalty.item() == pytest.approx(((expected - new_mean.item()) ** 2).mean(), rel=1e-10)


def test_terms_default_decay_and_the_batch_mean_hook():
    G = LinearStyleGenerator()
    ws = G.mapping(torch.randn(4, D, dtype=torch.float64))
    images = G.synthesis(ws)
    directions = torch.randn(4, C, H, W, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    _, new_mean, lengths = path_length_terms(images, ws, 0.25, directions)
    m = lengths.detach().mean().item()
    assert new_mean.item() == pytest.approx(0.25 + 0.01 * (m - 0.25), rel=1e-13)  # decay 0.01, as the paper
    # batch_mean maps the batch mean (e.g. to its mean over processes) before the update
    _, hooked, _ = path_length_terms(images, ws, 0.25, directions, 0.5, batch_mean=lambda mean: mean + 1.0)
    assert hooked.item() == pytest.approx(0.25 + 0.5 * (m + 1.0 - 0.25), rel=1e-13)


class MappingOnly(nn.Module):
    def mapping(self, z, y=None):
        return z


@pytest.mark.parametrize("decay", [0.0, -0.1, 1.5])
def test_decay_outside_zero_one_is_an_error(decay):
    G = LinearStyleGenerator()
    with pytest.raises(GankitError, match=rf"^the path length decay must lie in \(0, 1\], got {decay}$"):
        path_length_penalty(G, torch.randn(2, D, dtype=torch.float64), None, 0.0, torch.Generator(), decay)


def test_decay_one_replaces_the_mean_and_a_partial_generator_is_an_error():
    G = LinearStyleGenerator()
    _, new_mean, lengths = path_length_penalty(
        G, torch.randn(3, D, dtype=torch.float64), None, 5.0, torch.Generator(), decay=1.0
    )
    assert new_mean.item() == pytest.approx(lengths.mean().item(), rel=1e-13)
    with pytest.raises(GankitError, match="a mapping and a synthesis network .*; got MappingOnly$"):
        path_length_penalty(MappingOnly(), torch.randn(2, 2), None, 0.0, torch.Generator())
