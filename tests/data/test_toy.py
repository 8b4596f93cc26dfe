import math

import numpy as np
import pytest
import torch
from scipy import stats

from gankit.data.toy import grid_centers, ring_centers, sample_mixture, sample_spiral


def test_ring_centres_closed_form():
    centers = ring_centers(8, 2.0)
    for k, (x, y) in enumerate(centers.tolist()):
        assert x == pytest.approx(2.0 * math.cos(2 * math.pi * k / 8), abs=1e-6)
        assert y == pytest.approx(2.0 * math.sin(2 * math.pi * k / 8), abs=1e-6)


def test_grid_centres_are_the_veegan_grid():
    expected = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in grid_centers().tolist()} == expected


def test_mixture_components_have_the_requested_std_and_equal_weights():
    centers = ring_centers(8, 1.0)
    points, modes = sample_mixture(centers, 0.01, 40_000, torch.Generator().manual_seed(0))
    residual = (points - centers[modes]).numpy()
    # per-coordinate std of 40k N(0, 0.01^2) draws: relative standard error ~ 1/sqrt(2n) = 0.35%
    assert residual.std(axis=0) == pytest.approx([0.01, 0.01], rel=0.02)
    counts = np.bincount(modes.numpy(), minlength=8)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_spiral_is_seeded_and_bounded():
    a = sample_spiral(1000, torch.Generator().manual_seed(1), std=0.0)
    b = sample_spiral(1000, torch.Generator().manual_seed(1), std=0.0)
    assert torch.equal(a, b)
    assert a.norm(dim=1).max() <= 2.0 + 1e-5
