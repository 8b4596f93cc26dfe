"""Truncated normal draws (Brock et al., ICLR 2019, Sec. 3.1) keep the requested dtype through every redraw, and
the smallest allowed threshold is accepted."""

import torch

from gankit.nn.truncation import MIN_THRESHOLD, truncated_normal


def test_redrawn_values_are_drawn_in_the_requested_dtype():
    z = truncated_normal((4000,), 0.5, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert z.dtype == torch.float64 and float(z.abs().max()) <= 0.5
    # about 62% of the values were redrawn; a float32 redraw would make them exactly float32-representable
    exactly_float32 = (z == z.float().double()).double().mean().item()
    assert exactly_float32 < 0.01


def test_the_minimum_threshold_itself_is_allowed():
    z = truncated_normal((50,), MIN_THRESHOLD, torch.Generator().manual_seed(1))
    assert float(z.abs().max()) <= MIN_THRESHOLD
