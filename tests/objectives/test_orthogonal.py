import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.nn.spectral_norm import apply_spectral_norm
from gankit.objectives.orthogonal import (
    add_orthogonal_gradient_,
    orthogonal_parameters,
    orthogonal_penalty,
    orthogonal_regularization,
    with_orthogonal_regularization,
)


def slow_penalty(weight: torch.Tensor) -> float:
    """sum over pairs of distinct filters i != j of <w_i, w_j>^2 (Brock et al. 2019, eq. 3), with loops."""
    rows = weight.double().reshape(weight.shape[0], -1)
    return sum(float(rows[i] @ rows[j]) ** 2 for i in range(len(rows)) for j in range(len(rows)) if i != j)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 6)  # exempt, as BigGAN's shared embedding
        self.linear = nn.Linear(6, 4)
        self.conv = nn.Conv2d(4, 3, 3)
        self.norm = nn.BatchNorm2d(3)  # rank-1 parameters: exempt


def test_zero_for_filters_that_are_orthogonal_whatever_their_norms():
    q, _ = torch.linalg.qr(torch.randn(18, 18, dtype=torch.float64))
    rows = q[:3] * torch.tensor([[0.5], [2.0], [7.0]], dtype=torch.float64)  # 3 orthogonal filters of 2x3x3
    assert float(orthogonal_penalty(rows.view(3, 2, 3, 3))) == pytest.approx(0.0, abs=1e-20)
    # the convention is the (out x out) Gram of the filters: the (in x in) Gram of these is far from diagonal
    cols = rows.T
    assert float((cols @ cols.T - torch.diag(torch.diagonal(cols @ cols.T))).pow(2).sum()) > 1


def test_equals_the_formula_on_random_weights():
    torch.manual_seed(0)
    for shape in [(4, 6), (3, 4, 3, 3), (7, 2)]:
        w = torch.randn(shape, dtype=torch.float64)
        assert float(orthogonal_penalty(w)) == pytest.approx(slow_penalty(w), rel=1e-12)
    model = Tiny()
    expected = 1e-2 * (slow_penalty(model.linear.weight.detach()) + slow_penalty(model.conv.weight.detach()))
    assert orthogonal_regularization(model, 1e-2).item() == pytest.approx(expected, rel=1e-5)
    names = {id(p) for p in orthogonal_parameters(model)}
    assert names == {id(model.linear.weight), id(model.conv.weight)}


def test_direct_gradient_equals_autograd_of_the_penalty():
    torch.manual_seed(1)
    model = Tiny()
    beta = 3e-3
    orthogonal_regularization(model, beta).backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    assert set(expected) == {"linear.weight", "conv.weight"}
    model.zero_grad(set_to_none=True)
    value = add_orthogonal_gradient_(model, beta)
    assert value == pytest.approx(orthogonal_regularization(model, beta).item(), rel=1e-5)
    for name, p in model.named_parameters():
        if name in expected:
            torch.testing.assert_close(p.grad, expected[name])
        else:
            assert p.grad is None
    # accumulates onto an existing gradient (G's adversarial gradient)
    add_orthogonal_gradient_(model, beta)
    torch.testing.assert_close(model.conv.weight.grad, 2 * expected["conv.weight"])


def test_acts_on_the_raw_weight_under_spectral_norm():
    torch.manual_seed(2)
    model = apply_spectral_norm(Tiny())
    raw = model.conv.parametrizations.weight.original
    assert any(p is raw for p in orthogonal_parameters(model))
    expected = 0.5 * (slow_penalty(raw.detach()) + slow_penalty(model.linear.parametrizations.weight.original.detach()))
    assert orthogonal_regularization(model, 0.5).item() == pytest.approx(expected, rel=1e-5)


def test_bad_input():
    with pytest.raises(GankitError, match="rank >= 2"):
        orthogonal_penalty(torch.randn(3))
    with pytest.raises(GankitError, match="must be >= 0"):
        orthogonal_regularization(Tiny(), -1.0)


class Tied(nn.Module):
    """Two layers that share one weight (tied weights): eq. 3 counts that parameter once."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(5, 3, bias=False)
        self.second = nn.Linear(5, 3, bias=False)
        self.second.weight = self.first.weight


def test_a_shared_weight_is_counted_once_and_beta_zero_is_allowed():
    torch.manual_seed(3)
    model = Tied()
    assert [p is model.first.weight for p in orthogonal_parameters(model)] == [True]
    expected = 0.1 * slow_penalty(model.first.weight.detach())
    assert orthogonal_regularization(model, 0.1).item() == pytest.approx(expected, rel=1e-5)
    assert orthogonal_regularization(model, 0.0).item() == 0.0


def test_with_orthogonal_regularization_adds_the_penalty_to_the_generator_loss():
    torch.manual_seed(4)
    model, loss, stats = Tiny(), torch.tensor(1.5), {"g": torch.tensor(2.0)}
    # beta 0: the loss and the stats unchanged (no "ortho" entry)
    same_loss, same_stats = with_orthogonal_regularization(loss, stats, model, 0.0)
    assert same_loss is loss and same_stats == stats
    penalty = 0.5 * (slow_penalty(model.linear.weight.detach()) + slow_penalty(model.conv.weight.detach()))
    total, new_stats = with_orthogonal_regularization(loss, stats, model, 0.5)
    assert total.item() == pytest.approx(1.5 + penalty, rel=1e-5)
    assert set(new_stats) == {"g", "ortho"} and new_stats["ortho"].item() == pytest.approx(penalty, rel=1e-5)
    assert stats == {"g": torch.tensor(2.0)}  # the caller's dict is not modified
