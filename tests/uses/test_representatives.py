import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.neighbors import KernelDensity

from gankit.errors import GankitError
from gankit.mmd.estimators import mmd2
from gankit.mmd.kernels import GaussianKernel
from gankit.uses.representatives import (
    MeanEmbedding,
    density_peaks,
    k_medoids,
    kernel_herding,
    mmd_curve,
    random_mmd2,
    select,
)

CENTRES = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [5.0, 20.0]], dtype=torch.float64)


def mixture(n=500, std=0.5, seed=0):
    """n points from five well-separated Gaussians, equal weights; returns points and component labels."""
    labels = torch.arange(n) % len(CENTRES)
    noise = torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return CENTRES[labels] + std * noise, labels


def test_subset_score_equals_the_biased_mmd_estimator():
    X = torch.randn(60, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kernel = GaussianKernel((0.7, 2.0))
    embedding = MeanEmbedding.build(X, kernel, block_size=7)
    for subset in ([3, 17], [0, 5, 9, 33, 59], [4, 4, 8]):
        expected = mmd2(X[subset], X, kernel, "biased").item()
        assert embedding.mmd2(subset) == pytest.approx(expected, rel=1e-10, abs=1e-14)
    # one point: k(s, s) - 2 mean_j k(s, x_j) + mean_ij k(x_i, x_j)
    single = kernel.diagonal() - 2 * kernel(X[7:8], X).mean() + kernel(X, X).mean()
    assert embedding.mmd2([7]) == pytest.approx(float(single), rel=1e-10)


@pytest.mark.parametrize("distinct", [True, False])
def test_every_herding_step_is_the_greedy_minimiser_of_the_biased_mmd(distinct):
    X = torch.randn(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    kernel = GaussianKernel((1.3,))
    chosen = kernel_herding(X, 6, distinct=distinct, kernel=kernel).indices.tolist()
    for t in range(1, len(chosen)):
        candidates = [i for i in range(len(X)) if not (distinct and i in chosen[:t])]
        scores = [mmd2(X[[*chosen[:t], i]], X, kernel, "biased").item() for i in candidates]
        assert chosen[t] == candidates[int(np.argmin(scores))]


def test_herding_with_repeats_stays_below_the_iid_rate_for_every_k():
    """Guaranteed: MMD^2(first T) <= sigma^2 / T, the expected MMD^2 of T points drawn with replacement."""
    X, _ = mixture()
    embedding = MeanEmbedding.build(X)
    sigma2 = float(embedding.kernel.paired(X, X).mean()) - embedding.mean_total
    path = kernel_herding(embedding, 64, distinct=False).indices
    ratios = [embedding.mmd2(path[:t]) / (sigma2 / t) for t in range(1, 65)]
    assert max(ratios) <= 1 + 1e-9
    # and it is much better than that rate once every mode has a point
    assert max(ratios[8:]) < 0.25


def test_distinct_herding_beats_random_subsets_and_falls_with_k():
    X, _ = mixture(seed=3)
    embedding = MeanEmbedding.build(X)
    path = kernel_herding(embedding, 64).indices
    assert len(set(path.tolist())) == 64
    values = [embedding.mmd2(path[:k]) for k in (1, 4, 16, 64)]
    assert values == sorted(values, reverse=True)
    for k in (1, 2, 5, 10, 32, 64):
        assert embedding.mmd2(path[:k]) < float(random_mmd2(embedding, k, repeats=20, seed=k).mean())


@pytest.mark.parametrize("method", ["herding", "kmedoids"])
def test_as_many_representatives_as_modes_hit_every_mode_once(method):
    X, labels = mixture(seed=4)
    chosen = select(X, len(CENTRES), method).indices
    assert sorted(labels[chosen].tolist()) == list(range(len(CENTRES)))


def test_k_medoids_finds_the_exhaustive_optimum_on_a_small_set():
    X, _ = mixture(n=15, std=1.5, seed=5)
    D = torch.cdist(X, X)
    best = min(itertools.combinations(range(len(X)), 3), key=lambda c: float(D[:, list(c)].min(1).values.sum()))
    assert sorted(k_medoids(X, 3, restarts=5).indices.tolist()) == sorted(best)


def test_k_medoids_returns_a_fixed_point_of_the_alternate_algorithm():
    X = torch.randn(80, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    medoids = k_medoids(X, 6, restarts=1).indices
    D = torch.cdist(X, X)
    assignment = D[:, medoids].argmin(1)
    for c, medoid in enumerate(medoids.tolist()):
        members = (assignment == c).nonzero()[:, 0].tolist()
        costs = {m: float(D[m, members].sum()) for m in members}
        assert costs[medoid] == pytest.approx(min(costs.values()), rel=1e-12)


@pytest.mark.parametrize("method", ["herding", "kmedoids"])
def test_mmd_curve_rows_lie_below_random_points(method):
    X, _ = mixture(n=300, seed=7)
    ks = (1, 3, 5, 8, 16)
    rows = mmd_curve(X, ks=ks, method=method, repeats=8)
    assert [r["k"] for r in rows] == list(ks)
    embedding = MeanEmbedding.build(X)
    first = rows[0]["mmd"]
    assert first == pytest.approx(math.sqrt(embedding.mmd2(kernel_herding(embedding, 1).indices)))
    assert all(r["mmd"] < r["random_mmd_mean"] for r in rows)
    assert all(r["random_mmd_std"] > 0 for r in rows)


def test_density_peaks_match_a_kernel_density_estimate_and_the_definition():
    X = torch.randn(70, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    peaks = density_peaks(X, count=5, cutoff=0.9, block_size=16)
    kde = KernelDensity(bandwidth=0.9 / math.sqrt(2)).fit(X.numpy()).score_samples(X.numpy())
    log_ratio = peaks.rho.log().numpy() - kde
    assert np.ptp(log_ratio) < 1e-9
    D = torch.cdist(X, X)
    for i in range(len(X)):
        denser = [j for j in range(len(X)) if peaks.rho[j] > peaks.rho[i]]
        expected = D[i, denser].min() if denser else D[i].max()
        assert float(peaks.delta[i]) == pytest.approx(float(expected), rel=1e-10)
    gamma = (peaks.rho * peaks.delta).numpy()
    assert peaks.indices.tolist() == np.argsort(-gamma, kind="stable")[:5].tolist()


def test_density_peaks_of_a_mixture_are_its_centres():
    X, labels = mixture(seed=9)
    peaks = density_peaks(X, count=len(CENTRES))
    assert sorted(labels[peaks.indices].tolist()) == list(range(len(CENTRES)))
    distance_to_own_centre = (X[peaks.indices] - CENTRES[labels[peaks.indices]]).norm(dim=1)
    assert distance_to_own_centre.max() < 0.5


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda X: kernel_herding(X[0], 2), "(n, d) tensor"),
        (lambda X: kernel_herding(X, 0), "k=0"),
        (lambda X: k_medoids(X, 11), "k=11"),
        (lambda X: select(X, 2, "kmeans"), "unknown representatives method"),
        (lambda X: mmd_curve(X, ks=(1, 2), repeats=1), "repeats >= 2"),
        (lambda X: kernel_herding(X.masked_fill(X > 1, math.nan), 2), "finite"),
        (lambda X: density_peaks(X, count=20), "k=20"),
    ],
)
def test_bad_input_is_a_one_line_error(call, message):
    X = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(GankitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(X)
