import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.precision_recall import inside_fraction, knn_radii, precision_recall


def points(n, d, seed, shift=0.0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


def naive(real, fake, k=3):
    """Kynkaanniemi et al. 2019, eq. 1-3, one pair at a time."""

    def radius(a, i):
        return sorted(float((a[i] - a[j]).norm()) for j in range(len(a)) if j != i)[k - 1]

    def inside(q, a):
        radii = [radius(a, i) for i in range(len(a))]
        return sum(any(float((x - a[i]).norm()) <= radii[i] for i in range(len(a))) for x in q) / len(q)

    return {"precision": inside(fake, real), "recall": inside(real, fake)}


def test_equals_the_naive_definition():
    real, fake = points(40, 3, 0), points(35, 3, 1, shift=0.7)
    assert precision_recall(real, fake) == pytest.approx(naive(real, fake), abs=1e-12)


def test_limits():
    real = points(200, 4, 2)
    assert precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}
    assert precision_recall(real, points(200, 4, 3, shift=50.0)) == {"precision": 0.0, "recall": 0.0}
    # a generator that covers only half of the data: precision stays high, recall drops
    half = real[real[:, 0] > 0]
    result = precision_recall(real, half)
    assert result["precision"] == 1.0 and result["recall"] < 0.75


def test_blocked_radii_and_too_few_samples():
    x = points(50, 2, 4)
    torch.testing.assert_close(knn_radii(x, block=7), knn_radii(x, block=1000))
    with pytest.raises(GankitError, match="more than 3 samples"):
        precision_recall(points(3, 2, 5), points(10, 2, 6))


def test_a_query_exactly_on_a_ball_boundary_is_inside():
    # eq. 1 of Kynkaanniemi et al. 2019: f(phi, Phi) = 1 if ||phi - phi'|| <= ||phi' - NN_k(phi')|| for some phi'
    centers = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    on_boundary = torch.tensor([[3.0, 4.0]], dtype=torch.float64)  # distance exactly 5
    assert inside_fraction(on_boundary, centers, torch.tensor([5.0], dtype=torch.float64)) == 1.0
    assert inside_fraction(on_boundary, centers, torch.tensor([4.999], dtype=torch.float64)) == 0.0


def test_blocked_inside_fraction_counts_every_block():
    real, fake = points(30, 3, 7), points(23, 3, 8, shift=0.5)
    radii = knn_radii(real)
    expected = naive(real, fake)["precision"]
    assert 0.0 < expected < 1.0
    for block in (4, 23, 1000):
        assert inside_fraction(fake, real, radii, block=block) == pytest.approx(expected, abs=1e-12)


def test_k_is_the_neighbour_rank_and_defaults_to_three():
    x = points(12, 2, 9)
    pairwise = torch.cdist(x, x)
    for k in (1, 3, 5):
        # the k-th smallest distance to another point (index k in the sorted row, index 0 is the point itself)
        expected = torch.tensor([sorted(row.tolist())[k] for row in pairwise], dtype=torch.float64)
        torch.testing.assert_close(knn_radii(x, k), expected)
    torch.testing.assert_close(knn_radii(x), knn_radii(x, 3))
    real, fake = points(40, 3, 10), points(35, 3, 11, shift=0.7)
    assert precision_recall(real, fake, k=5) == pytest.approx(naive(real, fake, k=5), abs=1e-12)
    assert precision_recall(real, fake, k=1) == pytest.approx(naive(real, fake, k=1), abs=1e-12)
