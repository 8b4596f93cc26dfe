import math

import pytest
import torch

from gankit.data.toy import grid_centers, ring_centers, sample_mixture
from gankit.metrics.modes import mode_coverage


def test_the_data_itself_covers_every_mode():
    centers = grid_centers()
    samples, _ = sample_mixture(centers, 0.05, 2500, torch.Generator().manual_seed(0))
    result = mode_coverage(samples, centers, 0.05)
    assert result.modes == 25 and result.modes_covered == 25
    # P(|N(0, I_2)| <= 3) = 1 - exp(-9/2) = 0.98889 (chi distribution with 2 degrees of freedom)
    assert result.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert result.reverse_kl < 0.02


def test_collapse_to_one_mode():
    centers = ring_centers(8, 1.0)
    samples = centers[3].repeat(100, 1)
    result = mode_coverage(samples, centers, 0.01)
    assert result.modes_covered == 1
    assert result.high_quality == 1.0
    assert result.reverse_kl == pytest.approx(math.log(8), rel=1e-12)
    assert result.counts[3] == 100


def test_two_modes_half_and_half_and_far_samples():
    centers = ring_centers(8, 1.0)
    samples = torch.cat([centers[0].repeat(30, 1), centers[4].repeat(30, 1), torch.full((40, 2), 5.0)])
    result = mode_coverage(samples, centers, 0.01, min_count=20)
    assert result.modes_covered == 2
    assert result.high_quality == pytest.approx(0.6)
    assert result.reverse_kl == pytest.approx(math.log(4), rel=1e-12)  # sum 0.5 log(0.5 * 8)


def test_min_count_threshold():
    centers = ring_centers(8, 1.0)
    samples = torch.cat([centers[0].repeat(19, 1), centers[1].repeat(20, 1)])
    assert mode_coverage(samples, centers, 0.01, min_count=20).modes_covered == 1


def test_nothing_near_any_mode():
    result = mode_coverage(torch.full((10, 2), 9.0), ring_centers(8, 1.0), 0.01)
    assert result.modes_covered == 0 and result.high_quality == 0 and result.reverse_kl == math.inf
