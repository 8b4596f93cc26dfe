"""Inpainting: masks, Yeh et al.'s context weights against a slow loop, Poisson blending, latent search
recovering a generator's own sample, the Gaussian fills and the blur/sharpness measures."""

from __future__ import annotations

import pytest
import torch

from gankit.baselines import Gaussian
from gankit.data.images import load_digits
from gankit.errors import GankitError
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.mlp import MLPDiscriminator
from gankit.uses import inpainting as ip


@pytest.fixture
def one_thread():
    # tiny convolutions on a shared 2-core machine run ~20x faster on one thread
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_masks_hide_what_they_say():
    centre = ip.make_mask("centre", (3, 8, 8), fraction=0.5)
    assert centre.shape == (3, 8, 8) and not centre[:, 2:6, 2:6].any() and int((~centre).sum()) == 3 * 16
    bottom = ip.make_mask("half", (1, 8, 8), side="bottom")
    assert bottom[:, :4].all() and not bottom[:, 4:].any()
    masks = ip.make_mask("random", (3, 8, 8), fraction=0.25, count=5, generator=torch.Generator().manual_seed(0))
    assert masks.shape == (5, 3, 8, 8) and all(int((~m[0]).sum()) == 16 for m in masks)
    assert torch.equal(masks[:, 0], masks[:, 2]) and not torch.equal(masks[0], masks[1])


def test_bad_masks_are_one_line_errors():
    with pytest.raises(GankitError, match="hides nothing"):
        ip.check_mask(torch.ones(1, 4, 4, dtype=torch.bool), (1, 4, 4))
    with pytest.raises(GankitError, match="hides everything"):
        ip.check_mask(torch.zeros(1, 4, 4, dtype=torch.bool), (1, 4, 4))
    everything_in_one = torch.ones(3, 1, 4, 4, dtype=torch.bool)
    everything_in_one[0, 0, 0, 0] = False
    everything_in_one[1] = False
    everything_in_one[2, 0, 1, 1] = False
    with pytest.raises(GankitError, match="hides everything for image 1"):
        ip.check_mask(everything_in_one, (1, 4, 4))
    with pytest.raises(GankitError, match="unknown mask"):
        ip.make_mask("circle", (1, 4, 4))
    with pytest.raises(GankitError, match="does not fit"):
        ip.check_mask(torch.ones(1, 5, 5, dtype=torch.bool), (1, 4, 4))


@pytest.mark.parametrize("window", [3, 7])
def test_context_weights_equal_the_paper_formula(window):
    visible = ip.make_mask("random", (1, 9, 11), fraction=0.3, generator=torch.Generator().manual_seed(1))
    weights = ip.context_weights(visible, window)
    m, r = visible[0], window // 2
    for i in range(9):
        for j in range(11):
            if not m[i, j]:
                assert weights[0, i, j] == 0
                continue
            block = m[max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1]
            assert float(weights[0, i, j]) == pytest.approx(float((~block).sum()) / block.numel(), abs=1e-6)


def test_poisson_blend_keeps_truth_under_its_own_gradients_and_removes_offsets():
    truth = torch.rand(2, 2, 10, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    visible = ip.make_mask("centre", (2, 10, 10), fraction=0.6)
    torch.testing.assert_close(ip.poisson_blend(truth, truth, visible), truth)
    shifted = truth + 0.7  # same gradients, different level: blending must restore the level from the border
    torch.testing.assert_close(ip.poisson_blend(shifted, truth, visible), truth)
    noisy = truth + 0.1 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    blended = ip.poisson_blend(noisy, truth, visible)
    assert torch.equal(blended[visible.expand_as(truth)], truth[visible.expand_as(truth)])
    assert not torch.allclose(blended, truth)


def small_generator(seed: int) -> DCGANGenerator:
    """A random-init 8x8 DCGAN with N(0, 0.2) weights: DCGAN's own N(0, 0.02) start gives nearly constant
    images in eval mode (std 5e-4 over z), which any fill would match; these vary (hidden-half MSE
    between two samples ~0.14) and depend non-linearly on z."""
    torch.manual_seed(seed)
    generator = DCGANGenerator(4, 1, 8, width=16)
    for module in generator.modules():
        if isinstance(module, torch.nn.ConvTranspose2d):
            torch.nn.init.normal_(module.weight, 0.0, 0.2)
    return generator.eval()


@pytest.mark.parametrize("weighted", [False, True])
def test_latent_search_recovers_the_generators_own_sample(one_thread, weighted):
    generator = small_generator(0)
    discriminator = DCGANDiscriminator(1, 8, width=8).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        truth, other = generator(generator.sample_latent(8, g)), generator(generator.sample_latent(8, g))
    visible = ip.make_mask("half", (1, 8, 8))
    chance = float(ip.masked_mse(other, truth, visible).mean())
    result = ip.fill_latent(
        generator,
        truth,
        visible,
        discriminator=discriminator,
        weighted=weighted,
        steps=150,
        lr=0.05,
        restarts=2,
        rng=torch.Generator().manual_seed(2),
        blend="paste",
    )
    recovered = ip.masked_mse(result.generated, truth, visible)
    assert chance > 0.05
    assert float(recovered.max()) < 1e-3 * chance  # the hidden half, never seen, is recovered
    assert torch.equal(result.completed[visible.expand_as(truth)], truth[visible.expand_as(truth)])
    assert generator.training is False and all(p.requires_grad for p in generator.parameters())


def test_latent_search_refuses_mismatches():
    generator = small_generator(0)
    visible = ip.make_mask("half", (1, 16, 16))
    with pytest.raises(GankitError, match="do not match the generator"):
        ip.fill_latent(generator, torch.zeros(2, 1, 16, 16), visible, steps=1)
    with pytest.raises(GankitError, match="feature vectors, not a logit"):
        ip.fill_latent(
            generator,
            torch.zeros(2, 1, 8, 8),
            ip.make_mask("half", (1, 8, 8)),
            discriminator=MLPDiscriminator(64, out_features=16),
            steps=1,
        )


def test_measures_of_error_and_sharpness():
    ramp = torch.arange(8.0).repeat(1, 1, 8, 1) / 10  # slope 0.1 along x
    region = torch.zeros(1, 8, 8, dtype=torch.bool)
    region[:, :7, :7] = True
    assert float(ip.gradient_magnitude(ramp, region)) == pytest.approx(0.1)
    assert float(ip.laplacian_variance(torch.full((1, 1, 8, 8), 0.3))) == 0
    visible = ip.make_mask("centre", (1, 8, 8))
    truth = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    guess = truth + 0.5 * (~visible)
    assert torch.allclose(ip.masked_mse(guess, truth, visible), torch.tensor([0.25, 0.25]))
    blurred = torch.nn.functional.avg_pool2d(truth, 3, 1, 1, count_include_pad=False)
    rows = {r["method"]: r for r in ip.compare_fills(truth, visible, {"truth": truth, "blur": blurred})}
    assert rows["truth"]["gradient_ratio"] == pytest.approx(1) and rows["truth"]["mse"] == 0
    assert rows["blur"]["gradient_ratio"] < 0.8 and rows["blur"]["laplacian_ratio"] < 0.5


def test_conditional_mean_has_lower_error_and_is_blurrier_than_a_conditional_sample():
    # the lecture's point on real digits: E||mean - x||^2 < E||sample - x||^2 (about half of it for a
    # Gaussian), but the mean is smoother than real images and than the samples
    images, _ = load_digits(8)
    model = Gaussian().fit(images[:1500])
    test = images[1500:1700]
    visible = ip.make_mask("half", (1, 8, 8), side="bottom")
    fills = {
        "mean": ip.fill_gaussian(model, test, visible),
        "sample": ip.fill_gaussian(model, test, visible, sample=True, rng=torch.Generator().manual_seed(0)),
    }
    rows = {r["method"]: r for r in ip.compare_fills(test, visible, fills)}
    assert rows["mean"]["mse"] < 0.7 * rows["sample"]["mse"]
    assert rows["mean"]["gradient_ratio"] < rows["sample"]["gradient_ratio"]
    assert rows["mean"]["gradient_ratio"] < 0.9
    figure = ip.inpainting_figure(test, visible, fills, count=4, scale=1)
    assert figure.shape == (2 + 4 * 10, 2 + 4 * 10, 1)
    enlarged = ip.inpainting_figure(test, visible, fills, count=4)  # 4 x 8 px enlarged x16 to reach 512 px
    assert enlarged.shape == (2 + 4 * 130, 2 + 4 * 130, 1)
