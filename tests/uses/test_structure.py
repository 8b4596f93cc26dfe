import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation, Slerp
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits
from torch import nn

from gankit.errors import GankitError
from gankit.models.dcgan import DCGANGenerator
from gankit.models.mlp import MLPGenerator
from gankit.models.resnet import ResNetGenerator32
from gankit.nn.spectral_norm import apply_spectral_norm
from gankit.uses.structure import (
    Directions,
    feature_map,
    first_hidden,
    first_layer_weight,
    ganspace,
    interpolate,
    lerp,
    pca,
    plot_feature_map,
    sefa,
    slerp,
    traversal,
)


class ToyStyleGenerator(nn.Module):
    """A two-network generator in the StyleGAN layout: z (4) -> w (6) through a nonlinear mapping, w -> 1x3x4."""

    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.map_layer = nn.Linear(4, 6)
        self.affine = nn.Linear(6, 12)

    def mapping(self, z):
        return torch.tanh(self.map_layer(z)) * torch.tensor([3.0, 2.0, 1.5, 1.0, 0.5, 0.2])

    def synthesis(self, w):
        return self.affine(w).view(-1, 1, 3, 4)

    def forward(self, z):
        return self.synthesis(self.mapping(z))

    def sefa_weight(self):
        return self.affine.weight


def as64(x):
    return x.detach().double() if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x)).double()


def same_up_to_sign(A, B, atol):
    A, B = as64(A), as64(B)
    signs = torch.sign((A * B).sum(1))
    return torch.allclose(A, B * signs[:, None], atol=atol)


def unit(v):
    return v / v.norm()


def test_lerp_and_slerp_end_at_the_endpoints():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, generator=g), torch.randn(5, generator=g)
    for path in (lerp(a, b, 6), slerp(a, b, 6)):
        assert path.shape == (6, 5)
        assert torch.allclose(path[0], a, atol=1e-6) and torch.allclose(path[-1], b, atol=1e-6)
    assert torch.allclose(lerp(a, b, 5)[2], (a + b) / 2)


def test_slerp_of_unit_vectors_stays_on_the_sphere_at_constant_angular_speed():
    g = torch.Generator().manual_seed(1)
    a, b = (
        unit(torch.randn(7, dtype=torch.float64, generator=g)),
        unit(torch.randn(7, dtype=torch.float64, generator=g)),
    )
    path = slerp(a, b, 9)
    assert torch.allclose(path.norm(dim=1), torch.ones(9, dtype=torch.float64), atol=1e-12)
    omega = math.acos(float(a @ b))
    angles = torch.arccos((path @ a).clamp(-1, 1))
    assert torch.allclose(angles, torch.linspace(0, omega, 9, dtype=torch.float64), atol=1e-7)
    # and it lies in the plane of a and b
    residual = path - (path @ a)[:, None] * a
    other = unit(b - (b @ a) * a)
    assert torch.allclose(residual, (residual @ other)[:, None] * other, atol=1e-12)


def test_slerp_equals_scipy_quaternion_slerp():
    """Unit quaternions with a positive dot product are 4-vectors on which scipy's rotation slerp is ours."""
    q0 = unit(torch.tensor([0.2, -0.4, 0.5, 0.7], dtype=torch.float64))
    q1 = unit(torch.tensor([0.6, 0.1, -0.3, 0.7], dtype=torch.float64))
    assert float(q0 @ q1) > 0
    times = np.linspace(0, 1, 5)
    expected = Slerp([0, 1], Rotation.from_quat(np.stack([q0.numpy(), q1.numpy()])))(times).as_quat()
    assert same_up_to_sign(slerp(q0, q1, 5), expected, atol=1e-9)


def test_slerp_refuses_opposite_vectors_and_falls_back_to_lerp_for_parallel_ones():
    a = torch.tensor([1.0, 2.0, 3.0])
    with pytest.raises(GankitError, match="opposite"):
        slerp(a, -a, 4)
    assert torch.allclose(slerp(a, 2 * a, 4), lerp(a, 2 * a, 4))


def test_interpolation_images_are_the_generator_on_the_latent_path():
    G = MLPGenerator(3, 2, width=8, depth=2).eval()
    g = torch.Generator().manual_seed(2)
    z0, z1 = torch.randn(3, generator=g), torch.randn(3, generator=g)
    for method, path in (("linear", lerp(z0, z1, 5)), ("spherical", slerp(z0, z1, 5))):
        assert torch.allclose(interpolate(G, z0, z1, 5, method=method), G(path), atol=1e-6)


def test_interpolation_in_w_is_linear_in_the_mapped_codes():
    G = ToyStyleGenerator()
    z0, z1 = torch.randn(2, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        w = G.mapping(torch.stack([z0, z1]))
        expected = G.synthesis(torch.stack([w[0] + t * (w[1] - w[0]) for t in torch.linspace(0, 1, 6)]))
        in_z = G(lerp(z0, z1, 6))
    images = interpolate(G, z0, z1, 6, method="linear", space="w")
    assert torch.allclose(images, expected, atol=1e-6)
    assert not torch.allclose(images[1:-1], in_z[1:-1], atol=1e-3)
    with pytest.raises(GankitError, match="linear"):
        interpolate(G, z0, z1, 6, method="spherical", space="w")
    with pytest.raises(GankitError, match="interpolate in z"):
        interpolate(MLPGenerator(4, 2), z0, z1, space="w")


GENERATORS = {
    "mlp": lambda: MLPGenerator(6, 2, width=16, depth=2),
    "dcgan": lambda: DCGANGenerator(6, 1, 8, width=4),
    "resnet": lambda: ResNetGenerator32(z_dim=6, channels=1, width=4),
    "dcgan-sn": lambda: apply_spectral_norm(DCGANGenerator(6, 1, 8, width=4)),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_first_layer_weight_is_the_jacobian_of_the_first_hidden_layer(name):
    G = GENERATORS[name]().eval()
    A = first_layer_weight(G)
    jacobian = torch.autograd.functional.jacobian(lambda z: first_hidden(G, z[None])[0], torch.zeros(6))
    assert A.shape == jacobian.shape
    assert torch.allclose(A, jacobian.double(), atol=1e-6)


@pytest.mark.parametrize("name", GENERATORS)
def test_sefa_directions_are_the_top_eigenvectors_of_a_transpose_a(name):
    G = GENERATORS[name]().eval()
    A = torch.autograd.functional.jacobian(lambda z: first_hidden(G, z[None])[0], torch.zeros(6)).double().numpy()
    values, vectors = np.linalg.eigh(A.T @ A)
    top = np.argsort(values)[::-1][:3]
    directions = sefa(G, k=3)
    assert directions.space == "z"
    assert np.allclose(directions.values.numpy(), values[top], rtol=1e-6)
    assert same_up_to_sign(directions.vectors, vectors[:, top].T, atol=1e-6)


def test_sefa_uses_the_generator_hook_and_edits_w_for_style_generators():
    G = ToyStyleGenerator()
    A = G.affine.weight.detach().double().numpy()
    _, vectors = np.linalg.eigh(A.T @ A)
    directions = sefa(G, k=4)
    assert directions.space == "w" and directions.vectors.shape == (4, 6)
    assert same_up_to_sign(directions.vectors, vectors[:, ::-1][:, :4].T, atol=1e-8)


def test_pca_equals_scikit_learn():
    X = torch.randn(200, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * torch.tensor(
        [5.0, 3.0, 2.0, 1.0, 0.5], dtype=torch.float64
    )
    ours, theirs = pca(X, 3), PCA(3).fit(X.numpy())
    assert same_up_to_sign(ours.components, theirs.components_, atol=1e-10)
    assert np.allclose(ours.explained_variance.numpy(), theirs.explained_variance_, rtol=1e-10)
    assert np.allclose(ours.mean.numpy(), theirs.mean_)


def test_pca_of_large_inputs_is_randomized_yet_matches_the_exact_components():
    g = torch.Generator().manual_seed(12)
    basis, _ = torch.linalg.qr(torch.randn(200, 200, dtype=torch.float64, generator=g))
    spectrum = 0.8 ** torch.arange(200, dtype=torch.float64)
    X = torch.randn(300, 200, dtype=torch.float64, generator=g) * spectrum @ basis.T + 3.0
    ours = pca(X, 4, exact_limit=100)
    _, singular, Vt = torch.linalg.svd(X - X.mean(0), full_matrices=False)
    assert same_up_to_sign(ours.components, Vt[:4], atol=1e-6)
    assert torch.allclose(ours.explained_variance, singular[:4] ** 2 / 299, rtol=1e-8)


def test_ganspace_in_w_is_scikit_learn_pca_of_mapped_samples():
    G = ToyStyleGenerator()
    directions = ganspace(G, k=3, samples=500, seed=5)
    z = torch.randn(500, 4, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        reference = PCA(3).fit(G.mapping(z).double().numpy())
    assert directions.space == "w"
    assert same_up_to_sign(directions.vectors, reference.components_, atol=1e-8)
    assert np.allclose(directions.scales.numpy() ** 2, reference.explained_variance_, rtol=1e-8)


def test_ganspace_in_z_regresses_scikit_learn_components_back_to_z():
    G = DCGANGenerator(6, 1, 8, width=4).eval()
    directions = ganspace(G, k=3, samples=400, seed=6)
    z = torch.randn(400, 6, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        hidden = first_hidden(G, z).double().numpy()
    reference = PCA(3).fit(hidden)
    coordinates = reference.transform(hidden)
    U = np.linalg.lstsq(coordinates, z.double().numpy(), rcond=None)[0]
    lengths = np.linalg.norm(U, axis=1)
    assert same_up_to_sign(directions.vectors, U / lengths[:, None], atol=1e-8)
    assert np.allclose(directions.scales.numpy(), lengths * np.sqrt(reference.explained_variance_), rtol=1e-8)


def test_ganspace_on_a_linear_first_layer_converges_to_sefa():
    G = MLPGenerator(4, 2, width=10, depth=1)
    q_out, _ = torch.linalg.qr(torch.randn(10, 4, generator=torch.Generator().manual_seed(7)))
    q_in, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(8)))
    with torch.no_grad():
        G.net[0].weight.copy_(q_out @ torch.diag(torch.tensor([4.0, 2.0, 1.0, 0.5])) @ q_in.T)
    cosines = (ganspace(G, k=3, samples=20000).vectors * sefa(G, k=3).vectors).sum(1).abs()
    assert cosines.min() > 0.995


def test_traversal_rows_move_the_latent_along_each_direction():
    G = MLPGenerator(4, 3, width=8, depth=1).eval()
    vectors = torch.eye(4, dtype=torch.float64)[:2]
    directions = Directions(vectors, torch.ones(2), torch.tensor([1.0, 0.5], dtype=torch.float64), "z", "test")
    z = torch.randn(4, generator=torch.Generator().manual_seed(9))
    images = traversal(G, directions, z, steps=5, span=2.0)
    assert images.shape == (10, 3)
    with torch.no_grad():
        for row in range(2):
            for col, alpha in enumerate(torch.linspace(-2, 2, 5)):
                latent = z + alpha * directions.scales[row].float() * vectors[row].float()
                assert torch.allclose(images[row * 5 + col], G(latent[None])[0], atol=1e-6)


def test_traversal_in_w_edits_the_mapped_code():
    G = ToyStyleGenerator()
    directions = sefa(G, k=2)
    z = torch.randn(4, generator=torch.Generator().manual_seed(10))
    images = traversal(G, directions, z, steps=3, span=1.0)
    with torch.no_grad():
        w = G.mapping(z[None])[0]
        expected = G.synthesis((w + directions.vectors[1].float())[None])[0]
    assert torch.allclose(images[5], expected, atol=1e-6)
    with pytest.raises(GankitError, match="dimensions"):
        traversal(MLPGenerator(5, 2), Directions(torch.eye(6)[:1], torch.ones(1), torch.ones(1), "z", "x"))


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_feature_map_embeds_both_sets_and_plots_them(method, tmp_path):
    g = torch.Generator().manual_seed(11)
    real, fake = torch.randn(60, 5, generator=g), torch.randn(40, 5, generator=g) + 4
    with threadpool_limits(1):  # OpenMP threads spinning on a shared 2-core machine make t-SNE 30x slower
        real_2d, fake_2d = feature_map(real, fake, method=method, max_points=50)
    assert real_2d.shape == (50, 2) and fake_2d.shape == (40, 2)
    if method == "pca":  # the first component separates the two shifted clouds
        assert (real_2d[:, 0].mean() - fake_2d[:, 0].mean()).abs() > 5
    path = plot_feature_map(real_2d, fake_2d, tmp_path / "map.png", "test")
    with Image.open(path) as image:
        assert image.size == (500, 500)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sefa(MLPGenerator(3, 2), k=4), "k=4"),
        (lambda: sefa(nn.Linear(3, 3)), "unknown first layer"),
        (lambda: interpolate(MLPGenerator(3, 2), torch.zeros(4), torch.ones(4)), r"shape \(3,\)"),
        (lambda: interpolate(MLPGenerator(3, 2), torch.ones(3), torch.ones(3), method="cubic"), "unknown interp"),
        (lambda: lerp(torch.zeros(3), torch.zeros(4), 3), "same shape"),
        (lambda: slerp(torch.zeros(3), torch.ones(3), 3), "zero vector"),
        (lambda: feature_map(torch.zeros(5, 2), torch.zeros(5, 3)), "equal d"),
        (lambda: feature_map(torch.zeros(5, 2), torch.zeros(5, 2), method="umap"), "unknown 2-D map"),
        (lambda: interpolate(MLPGenerator(3, 2), torch.ones(3), -torch.ones(3), method="linear", label=1), "label 1"),
    ],
)
def test_bad_input_is_a_one_line_error(call, message):
    with pytest.raises(GankitError, match=message):
        call()
