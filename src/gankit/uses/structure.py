"""The structure a generator has learned: latent interpolations, unsupervised latent directions, a 2-D map.

- Interpolation: linear in z; spherical in z (slerp, Shoemake, SIGGRAPH 1985; recommended for GAN latents by
  White, "Sampling generative networks", 2016, Sec. 2.1); linear in w for style generators (Karras et al.,
  CVPR 2019, Sec. 4: paths in W are the ones their perceptual path length measures with lerp).
- SeFa (Shen & Zhou, CVPR 2021, "Closed-form factorization of latent semantics in GANs", Sec. 3.2): with A the
  weight of the first layer that maps the latent code (h = A z + b), the directions n maximising ||A n||^2 under
  ||n|| = 1 are the eigenvectors of A^T A with the largest eigenvalues. We follow the paper's objective (no
  per-column normalisation of A, which their released code adds).
- GANSpace (Harkonen et al., NeurIPS 2020, Sec. 2.1): PCA of sampled latents. For style generators, PCA of
  w = mapping(z) (directions in w, as the paper does for StyleGAN). For z generators, PCA of the first hidden
  activations h = A z + b (as the paper does for BigGAN's first linear layer), transferred back to z by linear
  regression of z on the PCA coordinates. gankit's z generators all begin with a linear layer, so there the
  GANSpace z-directions converge to the SeFa directions as the sample grows (PCA of A z has covariance A A^T,
  whose eigenvectors map back to those of A^T A); tests check it.
- A 2-D map of real and generated feature vectors by PCA or t-SNE (van der Maaten & Hinton, JMLR 2008), both
  from scikit-learn.

Generators from other files plug in through duck-typed hooks: a *style generator* has ``mapping(z) -> w``
(N, w_dim) and ``synthesis(w) -> images``; any generator may define ``sefa_weight() -> A`` (rows: first-layer
outputs, columns: the latent it edits, z or w) and ``first_hidden(z) -> (N, hidden)`` (its first linear layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.dcgan import DCGANGenerator
from gankit.models.mlp import MLPGenerator
from gankit.models.resnet import ResNetGenerator32

METHODS = ("linear", "spherical")
SPACES = ("z", "w")
MAP_METHODS = ("pca", "tsne")


def is_style_generator(generator: nn.Module) -> bool:
    """Whether the generator splits into ``mapping(z) -> w`` and ``synthesis(w) -> x`` (StyleGAN's two networks)."""
    return callable(getattr(generator, "mapping", None)) and callable(getattr(generator, "synthesis", None))


def _check_pair(a: torch.Tensor, b: torch.Tensor, steps: int) -> None:
    if a.shape != b.shape:
        raise GankitError(
            f"interpolation endpoints must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if steps < 2:
        raise GankitError(f"an interpolation needs steps >= 2 (both endpoints); got {steps}")


def lerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """(1 - t) a + t b for t = 0, 1/(steps-1), ..., 1: a (steps, *a.shape) tensor whose ends are a and b."""
    _check_pair(a, b, steps)
    t = torch.linspace(0, 1, steps, dtype=a.dtype, device=a.device).view(-1, *[1] * a.ndim)
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, steps: int, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985): sin((1-t) W) / sin W a + sin(t W) / sin W b, with W the angle
    between a and b (tensors of any shape, treated as flat vectors). On unit vectors the path stays on the unit
    sphere at constant angular speed; for nearly parallel a and b it falls back to :func:`lerp`."""
    _check_pair(a, b, steps)
    flat_a, flat_b = a.flatten().double(), b.flatten().double()
    norms = flat_a.norm() * flat_b.norm()
    if norms == 0:
        raise GankitError("slerp is undefined for a zero vector; use linear interpolation")
    cosine = float((flat_a @ flat_b / norms).clamp(-1, 1))
    omega = math.acos(cosine)
    if math.pi - omega < 1e-6:
        raise GankitError("slerp between opposite vectors is ambiguous (any great circle); pick other endpoints")
    if math.sin(omega) < eps:
        return lerp(a, b, steps)
    t = torch.linspace(0, 1, steps, dtype=torch.float64, device=a.device)[:, None]
    path = (torch.sin((1 - t) * omega) * flat_a + torch.sin(t * omega) * flat_b) / math.sin(omega)
    return path.to(a.dtype).view(steps, *a.shape)


def _device(generator: nn.Module) -> torch.device:
    parameter = next(generator.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _labels(generator: nn.Module, n: int, label: int | None) -> torch.Tensor | None:
    if label is None:
        return None
    classes = getattr(generator, "num_classes", 0)
    if not 0 <= label < classes:
        raise GankitError(f"label {label} is not a class of this generator (it has {classes} classes)")
    return torch.full((n,), label, dtype=torch.long, device=_device(generator))


def _generate(generator: nn.Module, z: torch.Tensor, label: int | None) -> torch.Tensor:
    y = _labels(generator, len(z), label)
    return generator(z) if y is None else generator(z, y)


def _map(generator: nn.Module, z: torch.Tensor, label: int | None) -> torch.Tensor:
    y = _labels(generator, len(z), label)
    return generator.mapping(z) if y is None else generator.mapping(z, y)


@torch.no_grad()
def interpolate(
    generator: nn.Module,
    z0: torch.Tensor,
    z1: torch.Tensor,
    steps: int = 8,
    method: str = "spherical",
    space: str = "z",
    label: int | None = None,
) -> torch.Tensor:
    """Images along a path from z0 to z1 (each (z_dim,)): ``linear`` or ``spherical`` in z, or ``linear`` in
    w = mapping(z) for style generators (``space="w"``); returns (steps, *image_shape) on the CPU."""
    if method not in METHODS:
        raise GankitError(f"unknown interpolation '{method}'; valid: {', '.join(METHODS)}")
    if space not in SPACES:
        raise GankitError(f"unknown latent space '{space}'; valid: {', '.join(SPACES)}")
    z_dim = getattr(generator, "z_dim", None)
    if z0.ndim != 1 or (z_dim is not None and len(z0) != z_dim):
        raise GankitError(f"interpolation endpoints are single latent codes of shape ({z_dim},); got {tuple(z0.shape)}")
    device = _device(generator)
    z0, z1 = z0.to(device), z1.to(device)
    if space == "z":
        path = (slerp if method == "spherical" else lerp)(z0, z1, steps)
        return _generate(generator, path, label).cpu()
    if not is_style_generator(generator):
        raise GankitError(f"{type(generator).__name__} has no mapping/synthesis networks: interpolate in z")
    if method != "linear":
        raise GankitError("interpolation in w is linear (w is not Gaussian); use method=linear with space=w")
    w = _map(generator, torch.stack([z0, z1]), label)
    return generator.synthesis(lerp(w[0], w[1], steps)).cpu()


def _first_layer(generator: nn.Module) -> nn.Module:
    if isinstance(generator, DCGANGenerator):
        return generator.net[0]
    if isinstance(generator, ResNetGenerator32):
        return generator.linear
    if isinstance(generator, MLPGenerator):
        return generator.net[0]
    raise GankitError(
        f"{type(generator).__name__}: unknown first layer; define sefa_weight() and first_hidden(z) on the generator"
    )


@torch.no_grad()
def first_layer_weight(generator: nn.Module) -> torch.Tensor:
    """A (hidden, latent) with the first layer's output h = A z + b flattened: ``Linear.weight`` as it is; the
    DCGAN's ConvTranspose2d(z_dim, C, 4) on a 1x1 input has weight (z_dim, C, 4, 4) and h[c, i, j] =
    sum_z W[z, c, i, j] z, so A = W.flatten(1).T. A generator's own ``sefa_weight()`` takes precedence."""
    hook = getattr(generator, "sefa_weight", None)
    if callable(hook):
        A = torch.as_tensor(hook())
    else:
        layer = _first_layer(generator)
        training = layer.training
        layer.eval()  # reading a spectrally normalised weight in training mode would run a power iteration
        weight = layer.weight.detach()
        layer.train(training)
        A = weight.flatten(1).T if isinstance(layer, nn.ConvTranspose2d) else weight
    if A.ndim != 2:
        raise GankitError(f"sefa_weight() must return a 2-D matrix (outputs, latent); got shape {tuple(A.shape)}")
    return A.detach().double().cpu()


def first_hidden(generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """The first layer's output for latents z, flattened to (N, hidden) (before any normalisation)."""
    hook = getattr(generator, "first_hidden", None)
    if callable(hook):
        return hook(z).flatten(1)
    layer = _first_layer(generator)
    if isinstance(layer, nn.ConvTranspose2d):
        return layer(z[:, :, None, None]).flatten(1)
    return layer(z)


@dataclass(frozen=True)
class Directions:
    """Unit directions (k, dim) in latent ``space`` ("z" or "w"), the importance of each (SeFa: eigenvalue of
    A^T A; GANSpace: variance of the PCA coordinate) and ``scales``, the standard deviation of the latent along
    each direction (what a traversal of +-span moves in units of)."""

    vectors: torch.Tensor
    values: torch.Tensor
    scales: torch.Tensor
    space: str
    method: str


def _sign_fix(vectors: torch.Tensor) -> torch.Tensor:
    """Flip each row so that its largest-magnitude entry is positive (eigenvectors are defined up to sign)."""
    rows = torch.arange(len(vectors))
    signs = torch.sign(vectors[rows, vectors.abs().argmax(1)])
    return vectors * signs[:, None]


def _check_count(k: int, dim: int, what: str) -> None:
    if not 1 <= k <= dim:
        raise GankitError(f"{what}: cannot take k={k} directions in a {dim}-dimensional space; use 1 <= k <= {dim}")


def sefa(generator: nn.Module, k: int = 5) -> Directions:
    """SeFa (Shen & Zhou, CVPR 2021, Sec. 3.2): the top-k eigenvectors of A^T A for the first layer's weight A
    (:func:`first_layer_weight`), largest eigenvalue first. Directions live in w for style generators (A from
    their ``sefa_weight()``), else in z; ``scales`` are 1 for z (unit Gaussian) and the standard deviation of
    w along each direction is not known in closed form, so it is 1 there too (move in raw w units)."""
    A = first_layer_weight(generator)
    _check_count(k, A.shape[1], "SeFa")
    values, vectors = torch.linalg.eigh(A.T @ A)
    order = torch.argsort(values, descending=True)[:k]
    space = "w" if is_style_generator(generator) else "z"
    return Directions(_sign_fix(vectors[:, order].T), values[order], torch.ones(k, dtype=torch.float64), space, "sefa")


@dataclass(frozen=True)
class PCAResult:
    """Principal components (k, d) as rows, the variance along each, and the mean (Pearson 1901; sklearn's PCA)."""

    components: torch.Tensor
    explained_variance: torch.Tensor
    mean: torch.Tensor


EXACT_PCA_LIMIT = 1000


def pca(X: torch.Tensor, k: int, seed: int = 0, exact_limit: int = EXACT_PCA_LIMIT) -> PCAResult:
    """Top-k principal components of the rows of X from the SVD of the centred data; the variance uses n - 1, as
    scikit-learn's ``explained_variance_``; each component's largest entry is made positive.

    The SVD is exact when min(n, d) <= ``exact_limit``; above, it is the randomized SVD of Halko, Martinsson
    & Tropp (SIAM Review 2011, Algorithms 4.4 and 5.1; ``torch.svd_lowrank``, k + 20 columns, 7 power
    iterations, drawn with ``seed``), as scikit-learn's PCA also switches to for large inputs (a 10,000 x 4,096
    DCGAN first layer: seconds instead of minutes)."""
    if X.ndim != 2 or len(X) < 2:
        raise GankitError(f"PCA needs an (n, d) matrix with n >= 2; got {tuple(X.shape)}")
    _check_count(k, min(X.shape), "PCA")
    X = X.double()
    mean = X.mean(0)
    if min(X.shape) <= exact_limit:
        _, singular, Vt = torch.linalg.svd(X - mean, full_matrices=False)
        V = Vt[:k]
    else:
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        _, singular, V_full = torch.svd_lowrank(X - mean, q=min(k + 20, min(X.shape)), niter=7)
        torch.random.set_rng_state(state)
        V = V_full[:, :k].T
    return PCAResult(_sign_fix(V), singular[:k] ** 2 / (len(X) - 1), mean)


@torch.no_grad()
def ganspace(generator: nn.Module, k: int = 5, samples: int = 10000, seed: int = 0) -> Directions:
    """GANSpace (Harkonen et al., NeurIPS 2020, Sec. 2.1) from ``samples`` latents drawn with ``seed``.

    Style generators: PCA of w = mapping(z); the components are the directions in w, the scales the standard
    deviations of the PCA coordinates. z generators: PCA of the first hidden activations y = first_hidden(z)
    with coordinates x = V^T (y - mean); U = argmin sum_j ||U x_j - z_j||^2 (least squares) carries each
    component back to z; the directions are U's columns normalised to unit length, and the scales the
    standard deviation of the z-displacement x_i u_i (||u_i|| times the coordinate's standard deviation).
    """
    z_dim = generator.z_dim
    if samples < 2:
        raise GankitError(f"GANSpace needs samples >= 2; got {samples}")
    device = _device(generator)
    z = torch.randn(samples, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    if is_style_generator(generator):
        w = generator.mapping(z)
        w = (w[:, 0] if w.ndim == 3 else w).double().cpu()
        fit = pca(w, k, seed)
        return Directions(fit.components, fit.explained_variance, fit.explained_variance.sqrt(), "w", "ganspace")
    hidden = first_hidden(generator, z).double().cpu()
    _check_count(k, min(hidden.shape[1], z_dim), "GANSpace")
    fit = pca(hidden, k, seed)
    coordinates = (hidden - fit.mean) @ fit.components.T
    U = torch.linalg.lstsq(coordinates, z.double().cpu()).solution  # (k, z_dim): coordinates -> z
    lengths = U.norm(dim=1)
    scales = lengths * fit.explained_variance.sqrt()
    return Directions(_sign_fix(U / lengths[:, None]), fit.explained_variance, scales, "z", "ganspace")


@torch.no_grad()
def traversal(
    generator: nn.Module,
    directions: Directions,
    z: torch.Tensor | None = None,
    steps: int = 7,
    span: float = 3.0,
    seed: int = 0,
    label: int | None = None,
) -> torch.Tensor:
    """One row of ``steps`` images per direction: the latent of ``z`` (drawn with ``seed`` when None; mapped to w
    for directions in w) moved by alpha * scale * direction for alpha evenly from -span to +span. Returns
    (k * steps, *image_shape) on the CPU, rows in direction order (a grid with nrow=steps)."""
    if steps < 2:
        raise GankitError(f"a traversal row needs steps >= 2; got {steps}")
    device = _device(generator)
    if z is None:
        z = torch.randn(generator.z_dim, generator=torch.Generator().manual_seed(seed))
    z = z.to(device)
    origin = _map(generator, z[None], label)[0] if directions.space == "w" else z
    base = origin[0] if origin.ndim == 2 else origin  # w may be (num_ws, w_dim): edit every layer alike
    if directions.vectors.shape[1] != base.shape[-1]:
        raise GankitError(
            f"directions have {directions.vectors.shape[1]} dimensions but the {directions.space} latent has "
            f"{base.shape[-1]}: compute them for this generator"
        )
    alphas = torch.linspace(-span, span, steps, dtype=torch.float64)
    moves = (alphas[None, :, None] * directions.scales[:, None, None] * directions.vectors[:, None, :]).flatten(0, 1)
    moves = moves.to(device=device, dtype=origin.dtype)
    latents = origin[None] + (moves[:, None, :] if origin.ndim == 2 else moves)
    if directions.space == "w":
        if not is_style_generator(generator):
            raise GankitError("these directions live in w but the generator has no mapping/synthesis networks")
        return generator.synthesis(latents).cpu()
    return _generate(generator, latents, label).cpu()


def feature_map(
    real: torch.Tensor,
    fake: torch.Tensor,
    method: str = "pca",
    seed: int = 0,
    max_points: int = 1000,
    perplexity: float = 30.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """2-D coordinates of real and generated feature vectors, embedded together: scikit-learn's ``PCA`` or
    ``TSNE`` (van der Maaten & Hinton 2008; PCA initialisation, ``seed``). At most ``max_points`` of each set,
    drawn with ``seed``, as t-SNE is quadratic in the number of points."""
    if method not in MAP_METHODS:
        raise GankitError(f"unknown 2-D map '{method}'; valid: {', '.join(MAP_METHODS)}")
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise GankitError(
            f"a feature map needs two (n, d) sets with equal d; got {tuple(real.shape)}, {tuple(fake.shape)}"
        )
    generator = torch.Generator().manual_seed(seed)
    real = real[torch.randperm(len(real), generator=generator)[:max_points]]
    fake = fake[torch.randperm(len(fake), generator=generator)[:max_points]]
    pooled = torch.cat([real, fake]).detach().double().cpu().numpy()
    if len(pooled) < 3:
        raise GankitError(f"a 2-D map needs at least 3 points in all; got {len(pooled)}")
    if method == "pca":
        from sklearn.decomposition import PCA

        coordinates = PCA(n_components=2, random_state=seed).fit_transform(pooled)
    else:
        from sklearn.manifold import TSNE

        perplexity = min(perplexity, len(pooled) - 1.0)
        coordinates = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(pooled)
    coordinates = torch.from_numpy(coordinates)
    return coordinates[: len(real)], coordinates[len(real) :]


def plot_feature_map(real_2d: torch.Tensor, fake_2d: torch.Tensor, path: str | Path, title: str = "") -> Path:
    """Scatter of the 2-D map: real points blue, generated orange; written as a PNG."""
    import matplotlib.pyplot as plt

    from gankit.imaging import figure_to_array, save_image

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(*real_2d.T.numpy(), s=4, c="tab:blue", alpha=0.5, label=f"real ({len(real_2d)})")
    ax.scatter(*fake_2d.T.numpy(), s=4, c="tab:orange", alpha=0.5, label=f"generated ({len(fake_2d)})")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, markerscale=3)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(figure_to_array(fig), path)
    return path
