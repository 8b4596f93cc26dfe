"""BigGAN's orthogonal regularisation of the generator's weights (Brock et al., ICLR 2019, Sec. 3.1, eq. 3).

    R_beta(W) = beta * || W^T W (.) (1 - I) ||_F^2

penalises the pairwise inner products between filters while leaving their norms free (the classic
orthogonal regulariser, eq. 2, also pins the diagonal to 1). Convention, as in BigGAN-PyTorch's
``utils.ortho``: each weight is viewed as a matrix W of shape (out, in * kh * kw), one row per output
filter, and the Gram matrix is the (out x out) W W^T of the filters, which is the paper's W^T W
written for a weight stored (in, out). The penalty is summed over every parameter of rank >= 2
except embedding tables (BigGAN-PyTorch exempts G's shared class embedding: "it makes no sense").

Two ways to use it:

- :func:`orthogonal_regularization` returns the differentiable penalty to add to G's loss;
- :func:`add_orthogonal_gradient_` adds its exact gradient, 4 beta (W W^T (.) (1 - I)) W, straight to
  ``.grad`` after G's backward pass, without a second graph (as BigGAN-PyTorch does). Note that
  BigGAN-PyTorch adds 2 beta (...) W, which is the gradient of beta / 2 * ||.||^2: its ``--G_ortho 1e-4``
  equals beta = 5e-5 in eq. 3. Here beta means eq. 3's beta in both functions.

Weights under a spectral-norm parametrisation are regularised through their raw parameter (the
``original`` tensor), as in BigGAN-PyTorch, whose spectral norm also keeps the raw weight as the parameter.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from gankit.errors import GankitError


def _off_diagonal_gram(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    w = weight.flatten(1)
    gram = w @ w.T
    return w, gram - torch.diag_embed(torch.diagonal(gram))


def orthogonal_penalty(weight: torch.Tensor) -> torch.Tensor:
    """||W W^T (.) (1 - I)||_F^2 for one weight viewed as (out, in * kh * kw): eq. 3 without beta."""
    if weight.ndim < 2:
        raise GankitError(f"orthogonal regularisation needs a weight of rank >= 2, got shape {tuple(weight.shape)}")
    return _off_diagonal_gram(weight)[1].pow(2).sum()


def orthogonal_parameters(module: nn.Module) -> Iterator[nn.Parameter]:
    """The parameters eq. 3 applies to: rank >= 2, trainable, not the weight of an ``nn.Embedding``."""
    seen: set[int] = set()
    for layer in module.modules():
        if isinstance(layer, nn.Embedding):
            continue
        for parameter in layer.parameters(recurse=False):
            if parameter.ndim >= 2 and parameter.requires_grad and id(parameter) not in seen:
                seen.add(id(parameter))
                yield parameter


def _check_beta(beta: float) -> None:
    if not beta >= 0:
        raise GankitError(f"orthogonal regularisation strength must be >= 0 (BigGAN uses 1e-4), got {beta}")


def orthogonal_regularization(module: nn.Module, beta: float) -> torch.Tensor:
    """beta * sum over :func:`orthogonal_parameters` of ||W W^T (.) (1 - I)||_F^2 (Brock et al. 2019, eq. 3),
    differentiable: add it to G's loss."""
    _check_beta(beta)
    total = torch.zeros(())
    for parameter in orthogonal_parameters(module):
        total = total.to(parameter.device) + orthogonal_penalty(parameter)
    return beta * total


def with_orthogonal_regularization(
    loss: torch.Tensor, stats: dict[str, torch.Tensor], G: nn.Module, beta: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """G's ``loss`` plus :func:`orthogonal_regularization` of G when ``beta`` > 0 (``objective.ortho``, BigGAN's
    G regulariser), with the penalty in ``stats`` under ``ortho``; unchanged when ``beta`` is 0."""
    if beta <= 0:
        return loss, stats
    penalty = orthogonal_regularization(G, beta)
    return loss + penalty, {**stats, "ortho": penalty}


@torch.no_grad()
def add_orthogonal_gradient_(module: nn.Module, beta: float) -> float:
    """Add the gradient of :func:`orthogonal_regularization`, 4 beta (W W^T (.) (1 - I)) W, to each
    parameter's ``.grad`` (created if missing); returns the penalty's value. Call it after G's backward
    and before its optimizer step (BigGAN-PyTorch ``utils.ortho``, with eq. 3's beta)."""
    _check_beta(beta)
    value = 0.0
    for parameter in orthogonal_parameters(module):
        w, off = _off_diagonal_gram(parameter.detach())
        value += float(off.pow(2).sum())
        step = (4 * beta) * (off @ w)
        if parameter.grad is None:
            parameter.grad = step.view_as(parameter).clone()
        else:
            parameter.grad.add_(step.view_as(parameter))
    return beta * value
