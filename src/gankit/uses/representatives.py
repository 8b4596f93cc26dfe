"""Most representative points and modes of a set of feature vectors (a data set's or a generator's samples).

- Kernel herding (Chen, Welling & Smola, UAI 2010, Sec. 4 and eq. 5 with the empirical distribution as p):
  each step adds the point x maximising mu(x) - (1 / (T + 1)) sum_t k(x, x_t), where mu(x) = mean_j k(x, x_j)
  is the kernel mean of the full set. For a kernel with constant diagonal (every radial kernel) this is
  exactly the greedy minimisation of the biased MMD^2 (Gretton et al., JMLR 2012, eq. 5) between the
  selected points and the full set; we minimise that objective exactly, k(x, x) included.
- k-medoids by the alternate (Voronoi-iteration) algorithm (Park & Jun, Expert Syst. Appl. 2009): assign
  every point to its nearest medoid, move each medoid to the member with the least summed Euclidean
  distance to its cluster, repeat until nothing changes; seeded by k-means++ (Arthur & Vassilvitskii,
  SODA 2007), best of a few restarts. Written here (scikit-learn-extra is not a dependency).
- Modes as density peaks (Rodriguez & Laio, Science 2014, "Clustering by fast search and find of density
  peaks"): the Gaussian kernel density rho_i at every point, delta_i = the distance to the nearest point of
  higher density, and the modes are the points with the largest gamma = rho * delta.

Every selection is scored by the biased MMD^2 of the selected set to the full set with a Gaussian kernel
whose bandwidth comes from the median heuristic (:mod:`gankit.mmd.kernels`). The kernel mean mu is
computed once, block by block, so the score of any subset costs O(k n) rather than the O(n^2) of
:func:`gankit.mmd.estimators.mmd2`, which it equals (tests check this).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.errors import GankitError
from gankit.mmd.kernels import GaussianKernel, Kernel, median_heuristic, squared_distances

METHODS = ("herding", "kmedoids")


def _check_features(features: torch.Tensor, minimum: int = 2) -> torch.Tensor:
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise GankitError(f"representatives need an (n, d) tensor of features; got {shape}: flatten images first")
    if len(features) < minimum:
        raise GankitError(f"representatives need at least {minimum} feature vectors; got {len(features)}")
    if not features.is_floating_point() or not torch.isfinite(features).all():
        raise GankitError("features must be finite floating-point values; check the feature extractor's output")
    return features.detach().double()


def _check_k(k: int, n: int) -> None:
    if not 1 <= k <= n:
        raise GankitError(f"cannot select k={k} points out of {n}; use 1 <= k <= {n}")


def default_kernel(features: torch.Tensor, seed: int = 0, max_points: int = 2000) -> GaussianKernel:
    """A Gaussian kernel whose bandwidth is the median pairwise distance (Gretton et al. 2012, Sec. 8) of at
    most ``max_points`` points drawn with ``seed``."""
    features = _check_features(features)
    order = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))
    bandwidth = median_heuristic(features[order[:max_points]])
    if bandwidth <= 0:
        raise GankitError("the features have a median pairwise distance of 0 (mostly identical points); pass a kernel")
    return GaussianKernel((bandwidth,))


@dataclass
class MeanEmbedding:
    """The kernel mean of a finite set: mu_i = mean_j k(x_i, x_j) for every point, and their mean mu_bar.

    For a multiset S of the points with multiplicities c (summing to k), the biased MMD^2 to the full set is
    (1/k^2) sum_{s,s'} c_s c_s' k(x_s, x_s') - (2/k) sum_s c_s mu_s + mu_bar (Gretton et al. 2012, eq. 5).
    """

    features: torch.Tensor
    kernel: Kernel
    mean_map: torch.Tensor
    mean_total: float

    @classmethod
    def build(cls, features: torch.Tensor, kernel: Kernel | None = None, block_size: int = 1024) -> MeanEmbedding:
        """Compute mu for every point, ``block_size`` rows at a time (O(block_size * n) memory)."""
        features = _check_features(features)
        kernel = kernel or default_kernel(features)
        mean_map = torch.cat([kernel(block, features).mean(1) for block in features.split(block_size)])
        return cls(features, kernel, mean_map, float(mean_map.mean()))

    def mmd2(self, indices: torch.Tensor | Sequence[int]) -> float:
        """Biased MMD^2 between the points at ``indices`` (repeats count as often as they appear) and all points."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        if indices.ndim != 1 or len(indices) == 0:
            raise GankitError("an MMD score needs a non-empty 1-D list of point indices")
        chosen = self.features[indices]
        within = float(self.kernel(chosen, chosen).mean())
        return max(within - 2 * float(self.mean_map[indices].mean()) + self.mean_total, 0.0)


@dataclass(frozen=True)
class Selection:
    """Indices of the selected points (in selection order for herding) and their biased MMD^2 to the full set."""

    indices: torch.Tensor
    mmd2: float


def kernel_herding(
    features: torch.Tensor | MeanEmbedding, k: int, distinct: bool = True, kernel: Kernel | None = None
) -> Selection:
    """Kernel herding on the empirical distribution (Chen, Welling & Smola, UAI 2010, Sec. 4): k points chosen one
    at a time, each minimising the biased MMD^2 of the points chosen so far to the full set.

    ``distinct=False`` is Chen et al.'s herding, in which a point may be chosen again; then, for every T,
    MMD^2(first T points) <= sigma^2 / T, the expected MMD^2 of T points drawn with replacement, where
    sigma^2 = mean_i k(x_i, x_i) - mu_bar (by induction: the greedy choice is no worse than the average over
    a random next point). ``distinct=True`` (the default) never picks a point twice, as representatives
    should be; it carries no such guarantee but in practice scores far below random subsets.
    The selections are nested: the first j of k points are the selection for j.
    """
    embedding = features if isinstance(features, MeanEmbedding) else MeanEmbedding.build(features, kernel)
    n = len(embedding.features)
    _check_k(k, n)
    X, mu = embedding.features, embedding.mean_map
    self_similarity = embedding.kernel.paired(X, X)  # k(x, x), constant for radial kernels
    similarity_sum = torch.zeros(n, dtype=X.dtype)  # sum over chosen s of k(x, x_s)
    chosen: list[int] = []
    for t in range(k):
        # MMD^2(S + x) - const = (2 sum_s k(x, s) + k(x, x)) / (t + 1)^2 - 2 mu(x) / (t + 1)
        objective = (2 * similarity_sum + self_similarity) / (t + 1) ** 2 - 2 * mu / (t + 1)
        if distinct and chosen:
            objective[chosen] = math.inf
        best = int(objective.argmin())
        chosen.append(best)
        similarity_sum += embedding.kernel(X, X[best : best + 1])[:, 0]
    indices = torch.tensor(chosen, dtype=torch.long)
    return Selection(indices, embedding.mmd2(indices))


def _pairwise_distances(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    return squared_distances(A, B).sqrt()


def _kmeans_plus_plus(X: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    first = int(torch.randint(len(X), (1,), generator=generator))
    centres = [first]
    nearest = squared_distances(X, X[first : first + 1])[:, 0]
    for _ in range(1, k):
        total = float(nearest.sum())
        if total <= 0:  # every point coincides with a centre: take any unused point
            unused = torch.ones(len(X), dtype=torch.bool)
            unused[centres] = False
            nxt = int(unused.nonzero()[0])
        else:
            nxt = int(torch.multinomial(nearest / total, 1, generator=generator))
        centres.append(nxt)
        nearest = torch.minimum(nearest, squared_distances(X, X[nxt : nxt + 1])[:, 0])
    return torch.tensor(centres, dtype=torch.long)


def _alternate(D: torch.Tensor, medoids: torch.Tensor, max_iter: int) -> tuple[torch.Tensor, float]:
    k = len(medoids)
    for _ in range(max_iter):
        assignment = D[:, medoids].argmin(1)
        # for every point, the summed distance to the members of its own cluster
        sums = (D @ torch.nn.functional.one_hot(assignment, k).to(D.dtype)).gather(1, assignment[:, None])[:, 0]
        updated = medoids.clone()
        for c in range(k):
            members = (assignment == c).nonzero()[:, 0]
            if len(members):
                updated[c] = members[sums[members].argmin()]
        if torch.equal(updated, medoids):
            break
        medoids = updated
    return medoids, float(D[:, medoids].min(1).values.sum())


MAX_KMEDOIDS_POINTS = 5000


def k_medoids(
    features: torch.Tensor | MeanEmbedding, k: int, seed: int = 0, restarts: int = 3, max_iter: int = 100
) -> Selection:
    """k medoids by the alternate algorithm (Park & Jun 2009, Sec. 3, with k-means++ seeding, Arthur &
    Vassilvitskii 2007): the k points minimising the summed Euclidean distance of every point to its nearest
    medoid, to a local optimum; the best of ``restarts`` seeds. Scored by the biased MMD^2 with the
    embedding's kernel (median-heuristic Gaussian unless an embedding is passed). Holds the n x n distance
    matrix, so n is limited to ``MAX_KMEDOIDS_POINTS``."""
    embedding = features if isinstance(features, MeanEmbedding) else MeanEmbedding.build(features)
    X = embedding.features
    _check_k(k, len(X))
    if len(X) > MAX_KMEDOIDS_POINTS:
        raise GankitError(
            f"k-medoids holds the n x n distance matrix; n={len(X)} > {MAX_KMEDOIDS_POINTS}: subsample the features"
        )
    if restarts < 1:
        raise GankitError(f"k-medoids needs restarts >= 1; got {restarts}")
    D = _pairwise_distances(X, X)
    generator = torch.Generator().manual_seed(seed)
    best: tuple[torch.Tensor, float] | None = None
    for _ in range(restarts):
        medoids, cost = _alternate(D, _kmeans_plus_plus(X, k, generator), max_iter)
        if best is None or cost < best[1]:
            best = (medoids, cost)
    indices = best[0]
    return Selection(indices, embedding.mmd2(indices))


def select(features: torch.Tensor | MeanEmbedding, k: int, method: str = "herding", seed: int = 0) -> Selection:
    """k representatives by ``herding`` (:func:`kernel_herding`, distinct) or ``kmedoids`` (:func:`k_medoids`)."""
    if method == "herding":
        return kernel_herding(features, k)
    if method == "kmedoids":
        return k_medoids(features, k, seed=seed)
    raise GankitError(f"unknown representatives method '{method}'; valid: {', '.join(METHODS)}")


def random_mmd2(embedding: MeanEmbedding, k: int, repeats: int = 10, seed: int = 0) -> torch.Tensor:
    """Biased MMD^2 of ``repeats`` uniformly random k-subsets (without replacement) to the full set."""
    n = len(embedding.features)
    _check_k(k, n)
    generator = torch.Generator().manual_seed(seed)
    values = [embedding.mmd2(torch.randperm(n, generator=generator)[:k]) for _ in range(repeats)]
    return torch.tensor(values, dtype=torch.float64)


def mmd_curve(
    features: torch.Tensor,
    ks: Sequence[int] = tuple(range(1, 65)),
    method: str = "herding",
    repeats: int = 10,
    seed: int = 0,
    kernel: Kernel | None = None,
) -> list[dict[str, float]]:
    """For every k in ``ks``: the MMD (square root of the biased MMD^2) of k representatives to the full set,
    and the mean and standard deviation over ``repeats`` seeds of the MMD of k random points.

    Herding runs once to max(ks) (its selections are nested); k-medoids runs once per k.
    """
    if method not in METHODS:
        raise GankitError(f"unknown representatives method '{method}'; valid: {', '.join(METHODS)}")
    if repeats < 2:
        raise GankitError(f"the random baseline needs repeats >= 2 for a standard deviation; got {repeats}")
    ks = sorted({int(k) for k in ks})
    embedding = MeanEmbedding.build(features, kernel)
    for k in ks:
        _check_k(k, len(embedding.features))
    herded = kernel_herding(embedding, ks[-1]).indices if method == "herding" else None
    rows = []
    for k in ks:
        chosen = herded[:k] if herded is not None else k_medoids(embedding, k, seed=seed).indices
        random = random_mmd2(embedding, k, repeats, seed=seed + k).sqrt()
        rows.append(
            {
                "k": k,
                "mmd": math.sqrt(embedding.mmd2(chosen)),
                "random_mmd_mean": float(random.mean()),
                "random_mmd_std": float(random.std()),
            }
        )
    return rows


@dataclass(frozen=True)
class DensityPeaks:
    """Modes ``indices`` (most prominent first) and, for every point, the density ``rho`` and the distance
    ``delta`` to the nearest point of higher density (Rodriguez & Laio 2014)."""

    indices: torch.Tensor
    rho: torch.Tensor
    delta: torch.Tensor
    bandwidth: float


def density_cutoff(features: torch.Tensor, fraction: float = 0.02, max_points: int = 2000, seed: int = 0) -> float:
    """Rodriguez & Laio's cutoff distance d_c: the ``fraction`` quantile of the pairwise distances, so that a
    point has on average about ``fraction`` of the set within d_c (they suggest 1 to 2 %)."""
    features = _check_features(features)
    if not 0 < fraction < 1:
        raise GankitError(f"the density cutoff fraction must lie in (0, 1); got {fraction}")
    order = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))
    Z = features[order[:max_points]]
    d = _pairwise_distances(Z, Z)
    upper = d[torch.triu_indices(len(Z), len(Z), offset=1).unbind()]
    return float(torch.quantile(upper, fraction))


def density_peaks(
    features: torch.Tensor, count: int = 16, cutoff: float | None = None, block_size: int = 1024
) -> DensityPeaks:
    """The ``count`` modes of the features as density peaks (Rodriguez & Laio, Science 2014): rho_i =
    sum_j exp(-d_ij^2 / d_c^2) (their Gaussian kernel; a Gaussian kernel density estimate with bandwidth
    d_c / sqrt(2)), delta_i = min over {j: rho_j > rho_i} of d_ij (the largest distance for the densest point),
    modes = the largest gamma_i = rho_i * delta_i. ``cutoff`` d_c defaults to :func:`density_cutoff`."""
    X = _check_features(features)
    n = len(X)
    _check_k(count, n)
    d_c = cutoff if cutoff is not None else density_cutoff(X)
    if d_c <= 0:
        raise GankitError(f"the density cutoff must be > 0; got {d_c}: the features have many identical points")
    kernel = GaussianKernel((d_c / math.sqrt(2),))
    rho = torch.cat([kernel(block, X).sum(1) for block in X.split(block_size)])
    # ties in density are broken by index, so exactly one point (the densest) has no denser neighbour
    order = torch.empty(n, dtype=torch.long)
    order[torch.argsort(rho, descending=True, stable=True)] = torch.arange(n)
    delta = torch.empty(n, dtype=X.dtype)
    for start in range(0, n, block_size):
        d = _pairwise_distances(X[start : start + block_size], X)
        denser = order[None, :] < order[start : start + block_size, None]
        nearest_denser = d.masked_fill(~denser, math.inf).min(1).values
        delta[start : start + block_size] = torch.where(denser.any(1), nearest_denser, d.max(1).values)
    gamma = rho * delta
    indices = torch.argsort(gamma, descending=True, stable=True)[:count]
    return DensityPeaks(indices, rho, delta, d_c / math.sqrt(2))


def plot_mmd_curve(rows: list[dict[str, float]], path: str | Path, label: str = "herding") -> Path:
    """Log-log plot of the representatives' MMD against k, with random subsets' mean +- one standard deviation."""
    import matplotlib.pyplot as plt

    from gankit.imaging import figure_to_array, save_image

    k = [r["k"] for r in rows]
    mean = torch.tensor([r["random_mmd_mean"] for r in rows])
    std = torch.tensor([r["random_mmd_std"] for r in rows])
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    ax.plot(k, [r["mmd"] for r in rows], marker="o", ms=3, label=label)
    ax.plot(k, mean.numpy(), color="C1", label="random points (mean)")
    ax.fill_between(k, (mean - std).clamp_min(1e-12).numpy(), (mean + std).numpy(), color="C1", alpha=0.25)
    ax.set(xscale="log", yscale="log", xlabel="k", ylabel="MMD to the full set (biased)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(figure_to_array(fig), path)
    return path
