"""VEEGAN / PacGAN mode statistics (Srivastava et al., NeurIPS 2017, Sec. 5.1; Lin et al., NeurIPS 2018,
Sec. 5) at their boundaries: a sample at exactly three standard deviations is high quality, a mode needs 20
high-quality samples by default, a mode with one sample counts in the reverse KL, empty modes keep their place."""

import math

import pytest
import torch

from gankit.metrics.modes import mode_coverage

CENTERS = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def test_three_standard_deviations_is_inside_and_twenty_samples_cover_a_mode():
    samples = torch.cat([torch.zeros(19, 2), torch.tensor([[0.0, 3.0]]), torch.full((5, 2), 5.0)])
    result = mode_coverage(samples, CENTERS, std=1.0)
    assert result.counts == (20, 0, 0)  # the point at distance exactly 3 sigma counts; (5, 5) is too far
    assert result.modes_covered == 1 and result.high_quality == pytest.approx(20 / 25)
    assert mode_coverage(samples[1:], CENTERS, std=1.0).modes_covered == 0  # 19 samples: not covered


def test_a_mode_with_one_sample_enters_the_reverse_kl_and_empty_last_modes_are_counted():
    samples = torch.cat([torch.zeros(3, 2), torch.tensor([[10.0, 0.0]])])
    result = mode_coverage(samples, CENTERS, std=1.0, min_count=1)
    assert result.counts == (3, 1, 0) and result.modes == 3 and result.modes_covered == 2
    p = torch.tensor([0.75, 0.25], dtype=torch.float64)
    assert result.reverse_kl == pytest.approx(float((p * (3 * p).log()).sum()), rel=1e-12)
    assert result.as_dict()["counts"] == (3, 1, 0)
    assert math.isinf(mode_coverage(torch.full((4, 2), 50.0), CENTERS, std=1.0).reverse_kl)
