"""The uint8 quantisation (gankit.imaging) for every input (Hypothesis): every byte survives
uint8 -> [-1, 1] -> uint8, and [-1, 1] -> uint8 -> [-1, 1] moves a value by at most half a level."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gankit.imaging import from_uint8, to_uint8

FAST = settings(max_examples=40, deadline=None, derandomize=True)


@FAST
@given(arrays(np.uint8, st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5))))
def test_bytes_round_trip_exactly(images):
    images = torch.from_numpy(images)
    back = to_uint8(from_uint8(images))
    assert back.dtype == torch.uint8 and torch.equal(back, images)


@FAST
@given(arrays(np.float32, st.integers(1, 64), elements=st.floats(-1, 1, width=32)))
def test_values_in_range_move_by_at_most_half_a_level(values):
    x = torch.from_numpy(values)
    error = (from_uint8(to_uint8(x)) - x).abs().max().item()
    assert error <= 0.5 / 127.5 + 1e-6


def test_all_256_levels_and_the_ends():
    levels = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_uint8(from_uint8(levels)), levels)
    assert to_uint8(torch.tensor([-5.0, -1.0, 1.0, 7.0])).tolist() == [0, 0, 255, 255]


def test_from_uint8_never_changes_its_input_even_when_it_is_already_float():
    levels = torch.arange(256, dtype=torch.uint8)
    as_float = levels.float()
    kept = as_float.clone()
    out = from_uint8(as_float)
    assert torch.equal(as_float, kept)  # an in-place division of a float32 input would change the caller's tensor
    assert torch.equal(out, from_uint8(levels)) and out[0] == -1 and out[-1] == 1
