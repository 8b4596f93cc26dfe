import argparse
import math

import torch

from gankit.experiments import two_sample


def test_blob_covariance_is_the_rotated_stretch():
    generator = torch.Generator().manual_seed(0)
    points = two_sample.blobs(60_000, 4.0, generator, grid=1)
    covariance = torch.cov(points.T)
    c, s = math.cos(math.pi / 4), math.sin(math.pi / 4)
    R = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    expected = R @ torch.diag(torch.tensor([4.0, 1.0], dtype=torch.float64)) @ R.T
    torch.testing.assert_close(covariance, expected, atol=0.08, rtol=0)


def test_optimized_kernel_detects_stretched_blobs(tmp_path):
    args = argparse.Namespace(out=str(tmp_path), n=200, repetitions=4, permutations=100, stretches="1,8")
    result = two_sample.run(args)
    stretched = next(r for r in result["rows"] if r["stretch"] == 8.0)
    assert stretched["optimized"] >= 0.75
    assert stretched["median_optimized_bandwidth"] < 5  # the blob scale, not the grid scale (~10)
    assert (tmp_path / "two_sample.png").is_file()
