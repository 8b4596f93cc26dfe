import math
import time

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.dcgan import DCGANGenerator
from gankit.models.stylegan import StyleGAN2Generator
from gankit.uses.projection import (
    learning_rate_ramp,
    more_like,
    noise_regularization,
    project,
    psnr,
    w_statistics,
)


@pytest.fixture(autouse=True)
def one_thread():
    # tiny networks: one thread avoids oversubscribing the shared CPUs and is faster here
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def style_generator(seed: int = 0, **overrides) -> StyleGAN2Generator:
    """A small StyleGAN2 generator at initialisation, with its toRGB kernels scaled by 0.3 so that images lie in
    [-1, 1] like a trained model's. Inverting it is the same problem as inverting a trained network of this
    architecture (demodulation keeps every layer's activations at unit scale, so w -> image is as non-linear
    at initialisation as after training); what training changes is which images are reachable."""
    torch.manual_seed(seed)
    cfg = dict(z_dim=32, channels=1, resolution=16, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32)
    G = StyleGAN2Generator(**{**cfg, **overrides, "fused_modconv": False}).eval()
    with torch.no_grad():
        for block in G.blocks:
            block.torgb.conv.weight.mul_(0.3)
    return G


def dcgan_generator(seed: int = 0) -> DCGANGenerator:
    """A DCGAN generator at initialisation whose batch-norm statistics were estimated on 2,560 latents (as
    training would), so that eval-mode images have the contrast of training-mode ones."""
    torch.manual_seed(seed)
    G = DCGANGenerator(16, 1, 16, 16)
    for m in G.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average
    with torch.no_grad():
        for _ in range(10):
            G(torch.randn(256, 16))
    return G.eval()


def test_learning_rate_ramp_closed_form():
    assert learning_rate_ramp(0.0) == 0.0
    assert learning_rate_ramp(0.025) == pytest.approx(0.5)  # half-way up the 5% linear warm-up
    assert learning_rate_ramp(0.05) == pytest.approx(1.0)
    assert learning_rate_ramp(0.5) == pytest.approx(1.0)
    assert learning_rate_ramp(1 - 0.125) == pytest.approx(0.5)  # cosine half-way down the last 25%
    assert learning_rate_ramp(1 - 0.25 / 3) == pytest.approx(0.5 - 0.5 * math.cos(math.pi / 3))
    assert learning_rate_ramp(1.0) == pytest.approx(0.0)


def test_noise_regularization_closed_form():
    ones = torch.ones(2, 1, 16, 16)
    # scales 16 and 8; each contributes mean(1 * 1)^2 twice (both axes)
    torch.testing.assert_close(noise_regularization([ones]), torch.full((2,), 4.0))
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]).remainder(2).float() * 2 - 1
    checker = checker.expand(1, 1, 16, 16)
    # at 16: neighbours always differ (product -1, squared 1) on both axes; 2x2 pooling gives 0 at 8
    torch.testing.assert_close(noise_regularization([checker, 2 * ones[:1, :, :8, :8]]), torch.tensor([2.0 + 32.0]))
    white = torch.randn(3, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    assert noise_regularization([white]).max() < 0.05


def test_psnr_of_a_known_error():
    a = torch.zeros(2, 1, 4, 4)
    torch.testing.assert_close(psnr(a + 0.2, a), torch.full((2,), 20.0))  # 0.1 in [0, 1] -> MSE 0.01


def test_projection_in_w_recovers_a_style_generators_own_samples():
    G = style_generator()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        ws = G.mapping(torch.randn(4, 32, generator=g))
        targets = G.synthesis(ws, noise_mode="const")
        start = G.synthesis(w_statistics(G, 2000, torch.Generator())[0][:, None].expand(4, G.num_ws, -1), "const")
    assert targets.abs().max() < 1
    assert psnr(start, targets).max() < 25  # the starting point w_avg is far from every target
    began = time.perf_counter()
    result = project(G, targets, steps=200, space="w", w_avg_samples=2000, generator=torch.Generator().manual_seed(1))
    seconds = time.perf_counter() - began
    print(f"w projection, 200 steps: PSNR {result.psnr.tolist()} dB in {seconds:.1f} s")
    assert (result.psnr >= 30).all(), result.psnr
    assert result.latents.shape == (4, 32) and result.ws.shape == (4, G.num_ws, 32) and result.steps == 200
    with torch.no_grad():
        torch.testing.assert_close(G.synthesis(result.ws, noise=result.noise), result.images)
    for maps in result.noise:  # re-normalised after every step
        torch.testing.assert_close(maps.mean(dim=(1, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
        torch.testing.assert_close(maps.square().mean(dim=(1, 2, 3)), torch.ones(4), atol=1e-4, rtol=0)


def test_w_projection_starts_from_the_mean_w():
    G = style_generator()
    targets = torch.rand(3, 1, 16, 16) * 2 - 1
    result = project(G, targets, steps=1, lr=0.0, w_avg_samples=300, generator=torch.Generator().manual_seed(4))
    mean = w_statistics(G, 300, torch.Generator().manual_seed(4))[0]
    torch.testing.assert_close(result.latents, mean.expand(3, -1))
    result = project(G, targets, steps=1, lr=0.0, space="w+", w_avg_samples=300, generator=torch.Generator())
    torch.testing.assert_close(result.latents, w_statistics(G, 300, torch.Generator())[0][:, None].expand(3, 6, -1))


def test_projection_in_z_recovers_a_dcgan_generators_own_samples():
    G = dcgan_generator()
    with torch.no_grad():
        targets = G(torch.randn(4, 16, generator=torch.Generator().manual_seed(5)))
        others = G(torch.randn(4, 16, generator=torch.Generator().manual_seed(6)))
    assert psnr(others, targets).max() < 25
    result = project(G, targets, steps=200, space="z", generator=torch.Generator().manual_seed(1))
    assert (result.psnr >= 30).all(), result.psnr
    assert result.latents.shape == (4, 16) and result.ws is None and result.noise is None
    with torch.no_grad():
        torch.testing.assert_close(G(result.latents), result.images)


def test_w_plus_and_z_spaces_of_a_style_generator_and_feature_distance():
    G = style_generator()
    with torch.no_grad():
        targets = G(torch.randn(2, 32, generator=torch.Generator().manual_seed(2)), noise_mode="const")
    conv = nn.Conv2d(1, 4, 3)
    feature_fn = lambda x: conv(x).flatten(1)  # noqa: E731
    for space, shape in (("w+", (2, G.num_ws, 32)), ("z", (2, 32))):
        result = project(G, targets, steps=20, space=space, feature_fn=feature_fn, w_avg_samples=500)
        assert result.latents.shape == shape and result.space == space
        with torch.no_grad():
            expected = (feature_fn(result.images) - feature_fn(targets)).norm(dim=1)
        torch.testing.assert_close(result.feature_distance, expected)


def test_projection_is_reproducible_leaves_the_generator_and_the_global_rng_alone():
    G = style_generator()
    G.train()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    targets = torch.rand(2, 1, 16, 16) * 2 - 1
    state = torch.get_rng_state()
    a = project(G, targets, steps=5, w_avg_samples=200, generator=torch.Generator().manual_seed(3))
    b = project(G, targets, steps=5, w_avg_samples=200, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.latents, b.latents) and torch.equal(a.images, b.images)
    assert G.training and all(p.requires_grad for p in G.parameters())
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())


def test_uint8_targets_are_scaled_and_bad_targets_are_refused():
    G = style_generator()
    result = project(G, torch.full((1, 1, 16, 16), 255, dtype=torch.uint8), steps=2, w_avg_samples=100)
    assert result.images.shape == (1, 1, 16, 16)
    with pytest.raises(GankitError, match=r"\(1, 16, 16\)"):
        project(G, torch.zeros(1, 3, 16, 16), steps=2)
    with pytest.raises(GankitError, match=r"\(1, 16, 16\).*resize"):
        project(G, torch.zeros(1, 1, 28, 28), steps=2)
    with pytest.raises(GankitError, match=r"\[-1, 1\]"):
        project(G, torch.full((1, 1, 16, 16), 3.0), steps=2)
    with pytest.raises(GankitError, match="valid: w, w\\+, z"):
        project(G, torch.zeros(1, 1, 16, 16), space="s")
    with pytest.raises(GankitError, match="use z"):
        project(dcgan_generator(), torch.zeros(1, 1, 16, 16), space="w")
    with pytest.raises(GankitError, match="one label per target"):
        project(style_generator(num_classes=3), torch.zeros(2, 1, 16, 16), steps=2)


def test_more_like_samples_near_w_and_mixes_fine_layers():
    G = style_generator()
    w = G.mapping(torch.randn(1, 32))[0, 0]
    images, latents = more_like(G, w, 6, radius=0.0, generator=torch.Generator().manual_seed(0))
    assert images.shape == (6, 1, 16, 16) and latents.shape == (6, G.num_ws, 32)
    with torch.no_grad():
        x = G.synthesis(w.expand(1, G.num_ws, -1), noise_mode="const")
    torch.testing.assert_close(images, x.expand(6, -1, -1, -1))
    images, latents = more_like(G, w, 6, radius=0.0, mix_fine_from=4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(latents[:, :4], w.expand(6, 4, -1))
    assert (latents[:, 4:] - w).abs().amin(dim=(1, 2)).max() > 0 and (latents[0, 4:] != latents[1, 4:]).any()
    _, sigma, _ = w_statistics(G, 10_000, torch.Generator().manual_seed(0))
    _, latents = more_like(G, w, 400, radius=0.5, generator=torch.Generator().manual_seed(1))
    steps = (latents[:, 0] - w) / sigma
    assert steps.std().item() == pytest.approx(0.5, rel=0.05)
    assert torch.equal(latents[:, 0], latents[:, -1])  # one perturbation of w for all layers


def test_more_like_for_a_z_generator_and_its_randomness():
    G = dcgan_generator()
    z = torch.randn(16)
    state = torch.get_rng_state()
    images, zs = more_like(G, z, 300, radius=0.3, generator=torch.Generator().manual_seed(2))
    assert torch.equal(torch.get_rng_state(), state)
    assert (zs - z).std().item() == pytest.approx(0.3, rel=0.05)
    again, _ = more_like(G, z, 300, radius=0.3, generator=torch.Generator().manual_seed(2))
    assert torch.equal(images, again)
    with pytest.raises(GankitError, match="StyleGAN2"):
        more_like(G, z, 2, mix_fine_from=2)
    with pytest.raises(GankitError, match=r"\(16,\)"):
        more_like(G, torch.randn(8), 2)
