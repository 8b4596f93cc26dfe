import math

import pytest
import torch

from gankit.errors import GankitError
from gankit.models.base import count_parameters
from gankit.models.stylegan import (
    MixingDraws,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    channels_at,
    normalize_2nd_moment,
)
from gankit.nn.equalized import EqualizedLinear

SMALL = dict(z_dim=16, channels=1, resolution=16, w_dim=12, mapping_layers=3, channel_base=128, channel_max=16)


def small_generator(seed: int = 0, **overrides) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    return StyleGAN2Generator(**{**SMALL, **overrides})


def set_noise_strengths(G: StyleGAN2Generator, value: float) -> None:
    with torch.no_grad():
        for layer in G.noise_layers():
            layer.strength.fill_(value)


def g_parameter_count(z, w, layers, channels, res, base, cmax, classes=0):
    """StyleGAN2 generator layer table: mapping FCs; per block (modulated convs: affine w->cin (+ bias), kernel,
    per-channel noise strength, bias; toRGB: affine, 1x1 kernel, bias); the 4x4 constant."""
    dims = [z + (w if classes else 0)] + [w] * layers
    total = sum(dims[i] * dims[i + 1] + dims[i + 1] for i in range(layers)) + (classes * w + w if classes else 0)
    cin = 0
    for k in range(2, int(math.log2(res)) + 1):
        c = min(base // 2**k, cmax)
        convs = [(c, c)] if k == 2 else [(cin, c), (c, c)]
        total += 16 * c if k == 2 else 0
        for a, b in convs:
            total += (w * a + a) + b * a * 9 + b + b
        total += (w * c + c) + channels * c + channels
        cin = c
    return total


def d_parameter_count(channels, res, base, cmax, out=1, residual=True):
    """StyleGAN2 residual D: fromRGB; blocks (3x3 conv, 3x3 down conv, 1x1 skip without bias unless "orig");
    epilogue (3x3 conv on C + 1 mbstd channels, FC 16C -> C, output FC)."""
    c = lambda r: min(base // r, cmax)  # noqa: E731
    total = channels * c(res) + c(res)
    r = res
    while r > 4:
        a, b = c(r), c(r // 2)
        total += (a * a * 9 + a) + (a * b * 9 + b) + (a * b if residual else 0)
        r //= 2
    c4 = c(4)
    return total + ((c4 + 1) * c4 * 9 + c4) + (16 * c4 * c4 + c4) + (c4 * out + out)


@pytest.mark.parametrize("resolution", [4, 8, 16, 32])
def test_generator_shapes_num_ws_and_parameter_count(resolution):
    G = small_generator(resolution=resolution)
    assert G.num_ws == 2 * int(math.log2(resolution)) - 2
    assert G.w_dim == 12 and G.out_shape == (1, resolution, resolution)
    assert G(torch.randn(4, 16)).shape == (4, 1, resolution, resolution)
    assert G.mapping(torch.randn(3, 16)).shape == (3, G.num_ws, 12)
    assert len(G.noise_layers()) == G.num_ws - 1
    assert count_parameters(G) == g_parameter_count(16, 12, 3, 1, resolution, 128, 16)


def test_paper_sized_parameter_counts_match_the_layer_tables():
    G = StyleGAN2Generator(512, 3, 256, channel_base=16384)
    D = StyleGAN2Discriminator(3, 256, channel_base=16384)
    assert count_parameters(G) == g_parameter_count(512, 512, 8, 3, 256, 16384, 512)
    assert count_parameters(D) == d_parameter_count(3, 256, 16384, 512)
    assert [channels_at(r, 16384, 512) for r in (4, 32, 64, 128, 256)] == [512, 512, 256, 128, 64]


@pytest.mark.parametrize(("resolution", "out"), [(8, 1), (16, 1), (32, 3)])
def test_discriminator_shapes_and_parameter_count(resolution, out):
    D = StyleGAN2Discriminator(3, resolution, channel_base=256, channel_max=32, out_features=out)
    y = D(torch.randn(8, 3, resolution, resolution))
    assert y.shape == ((8,) if out == 1 else (8, out))
    assert count_parameters(D) == d_parameter_count(3, resolution, 256, 32, out)


def test_residual_block_sums_shortcut_and_main_path_scaled_by_one_over_sqrt2():
    block = StyleGAN2Discriminator(3, 16, channel_base=256, channel_max=32).blocks[0]
    x = torch.randn(4, 16, 16, 16)
    torch.testing.assert_close(block(x), (block.skip(x) + block.conv1(block.conv0(x))) / math.sqrt(2))


def test_plain_discriminator_drops_the_shortcuts():
    D = StyleGAN2Discriminator(3, 16, channel_base=256, channel_max=32, residual=False)
    assert count_parameters(D) == d_parameter_count(3, 16, 256, 32, residual=False)
    block = D.blocks[0]
    x = torch.randn(4, 16, 16, 16)
    torch.testing.assert_close(block(x), block.conv1(block.conv0(x)))
    assert D(torch.randn(4, 3, 16, 16)).shape == (4,)


def test_mapping_layers_use_the_lr_multiplier_and_synthesis_layers_do_not():
    G = small_generator()
    mapping = [m for m in G.mapping_network.layers if isinstance(m, EqualizedLinear)]
    assert len(mapping) == 3
    for layer in mapping:
        assert layer.lr_multiplier == 0.01
        torch.testing.assert_close(layer.effective_weight(), layer.weight * 0.01 / math.sqrt(layer.in_features))
    affines = [m for m in G.blocks.modules() if isinstance(m, EqualizedLinear)]
    assert affines and all(m.lr_multiplier == 1.0 for m in affines)
    # an Adam step moves the mapping's effective weights 100x less than the synthesis affines' (per unit fan-in)
    opt = torch.optim.Adam(G.parameters(), lr=0.01, eps=1e-12)
    before = {id(m): m.effective_weight().detach().clone() for m in mapping + affines}
    G(torch.randn(4, 16), noise_mode="none").square().mean().backward()
    opt.step()
    for m in mapping + affines:
        step = (m.effective_weight().detach() - before[id(m)]).abs().max().item()
        assert step == pytest.approx(0.01 * m.lr_multiplier / math.sqrt(m.in_features), rel=1e-2)


def test_mapping_normalises_z_and_broadcasts_one_w_per_layer():
    G = small_generator()
    z = torch.randn(5, 16)
    ws = G.mapping(z)
    torch.testing.assert_close(G.mapping(3 * z), ws, rtol=1e-4, atol=1e-5)  # 2nd-moment normalisation
    w = G.mapping_network.layers(z / z.square().mean(1, keepdim=True).sqrt())
    torch.testing.assert_close(ws, w[:, None].expand(-1, G.num_ws, -1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(normalize_2nd_moment(z).square().mean(1), torch.ones(5), rtol=1e-5, atol=1e-5)


def test_w_avg_is_an_ema_updated_in_training_mode_only():
    G = small_generator()
    z = torch.randn(6, 16)
    w = G.mapping(z)[:, 0].mean(0)
    G.train()
    G(z, noise_mode="none")
    torch.testing.assert_close(G.w_avg, 0.005 * w, rtol=1e-4, atol=1e-7)
    G(z, noise_mode="none")
    torch.testing.assert_close(G.w_avg, 0.995 * 0.005 * w + 0.005 * w, rtol=1e-4, atol=1e-7)
    before = G.w_avg.clone()
    G.eval()
    G(z)
    assert torch.equal(G.w_avg, before)
    assert "mapping_network.w_avg" in G.state_dict()


def trained_w_avg(G: StyleGAN2Generator) -> None:
    G.train()
    for _ in range(20):
        G.mapping(torch.randn(64, G.z_dim), update_w_avg=True)
    G.eval()


def test_psi_zero_gives_the_image_of_w_avg_for_every_z_and_psi_one_leaves_w_unchanged():
    G = small_generator()
    set_noise_strengths(G, 0.3)
    trained_w_avg(G)
    z = torch.randn(4, 16)
    images = G(z, psi=0.0, noise_mode="const")
    assert (images - images[:1]).abs().max() < 1e-5
    w_avg_image = G.synthesis(G.w_avg.expand(1, G.num_ws, -1), noise_mode="const")
    torch.testing.assert_close(images, w_avg_image.expand_as(images), rtol=1e-4, atol=1e-5)
    assert (G(z, noise_mode="const") - images).abs().max() > 1e-2  # psi = 1: images differ
    torch.testing.assert_close(G.mapping(z, psi=1.0), G.mapping(z))
    w = G.mapping_network.layers(normalize_2nd_moment(z))
    assert torch.equal(G.mapping(z, psi=1.0), w[:, None].expand(-1, G.num_ws, -1))


def test_truncation_interpolates_towards_w_avg_below_the_cutoff():
    G = small_generator()
    trained_w_avg(G)
    z = torch.randn(3, 16)
    ws, wt = G.mapping(z), G.mapping(z, psi=0.7, cutoff=2)
    torch.testing.assert_close(wt[:, :2], G.w_avg + 0.7 * (ws[:, :2] - G.w_avg))
    torch.testing.assert_close(wt[:, 2:], ws[:, 2:])


def test_psi_outside_the_unit_interval_warns():
    G = small_generator()
    with pytest.warns(UserWarning, match="outside"):
        G.mapping(torch.randn(2, 16), psi=1.5)


def test_style_mixing_takes_layers_below_the_crossover_from_the_first_w():
    G = small_generator()
    a, b = G.mapping(torch.randn(3, 16)), G.mapping(torch.randn(3, 16))
    for k in range(G.num_ws + 1):
        mixed = G.mix_styles(a, b, k)
        assert torch.equal(mixed[:, :k], a[:, :k]) and torch.equal(mixed[:, k:], b[:, k:])
    with pytest.raises(GankitError, match="crossover"):
        G.mix_styles(a, b, G.num_ws + 1)


def test_every_style_index_reaches_the_image_and_the_last_one_only_the_finest_torgb():
    G = small_generator()
    ws = G.mapping(torch.randn(2, 16))
    base = G.synthesis(ws, noise_mode="none")
    for layer in range(G.num_ws):
        changed = ws.clone()
        changed[:, layer] += 1.0
        diff = (G.synthesis(changed, noise_mode="none") - base).abs()
        assert diff.max() > 1e-4, f"w_{layer} is not used"
    # the last w only feeds the last toRGB, a 1x1 convolution: changing it changes the image but not the
    # sum of the coarser toRGB outputs, so the difference equals the difference of that toRGB output alone
    changed = ws.clone()
    changed[:, -1] *= -1
    with torch.no_grad():
        h = img = None
        w_index = 0
        for block in G.blocks:  # the features entering the last toRGB
            n = len(block.convs)
            h, img = block(h, img, ws[:, w_index : w_index + n + 1], "none", [None] * n)
            w_index += n
        torgb = G.blocks[-1].torgb
        expected = torgb(h, changed[:, -1]) - torgb(h, ws[:, -1])
    torch.testing.assert_close(G.synthesis(changed, noise_mode="none") - base, expected, rtol=1e-4, atol=1e-5)


def test_mapping_with_mixing_uses_one_crossover_and_the_given_generator():
    G = small_generator()
    z = torch.randn(4, 16)
    ws = G.mapping(z)
    mixed = G.mapping_with_mixing(z, mixing_prob=1.0, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    u = torch.rand(2, generator=g)
    crossover = 1 + int(u[0] * (G.num_ws - 1))
    other = G.mapping(torch.randn(z.shape, generator=g))
    torch.testing.assert_close(mixed, G.mix_styles(ws, other, crossover))
    assert 1 <= crossover < G.num_ws
    torch.testing.assert_close(G.mapping_with_mixing(z, mixing_prob=0.0), ws)


def test_mixing_draws_pick_the_crossover_and_whether_to_mix():
    G = small_generator()
    z, z2 = torch.randn(3, 16), torch.randn(3, 16)
    ws, other = G.mapping(z), G.mapping(z2)
    for u, crossover in [(0.0, 1), (0.999, G.num_ws - 1)]:
        mixed = G.mapping_with_mixing(z, mixing_prob=0.9, draws=MixingDraws(u, 0.5, z2))
        torch.testing.assert_close(mixed, G.mix_styles(ws, other, crossover))
        assert torch.equal(mixed[:, :crossover], ws[:, :crossover])
        assert torch.equal(mixed[:, crossover:], other[:, crossover:])
    torch.testing.assert_close(G.mapping_with_mixing(z, mixing_prob=0.9, draws=MixingDraws(0.3, 0.95, z2)), ws)
    with pytest.raises(GankitError, match="second latent"):
        G.mapping_with_mixing(z, mixing_prob=0.9, draws=MixingDraws(0.3, 0.1, z2[:2]))


def test_noise_strength_zero_makes_images_independent_of_noise_and_const_mode_reproducible():
    G = small_generator()
    ws = G.mapping(torch.randn(3, 16))
    torch.manual_seed(1)
    a = G.synthesis(ws, "random")
    torch.manual_seed(2)
    b = G.synthesis(ws, "random")
    torch.testing.assert_close(a, b)  # strengths start at 0
    set_noise_strengths(G, 0.5)
    torch.manual_seed(1)
    a = G.synthesis(ws, "random")
    torch.manual_seed(2)
    assert (G.synthesis(ws, "random") - a).abs().max() > 1e-3
    assert torch.equal(G.synthesis(ws, "const"), G.synthesis(ws, "const"))
    explicit = [layer.noise_const for layer in G.noise_layers()]
    torch.testing.assert_close(G.synthesis(ws, noise=explicit), G.synthesis(ws, "const"))
    assert (G.synthesis(ws, "none") - G.synthesis(ws, "const")).abs().max() > 1e-3


def test_checkpoint_round_trip_keeps_w_avg_and_const_noise():
    G = small_generator(seed=0)
    set_noise_strengths(G, 0.5)
    trained_w_avg(G)
    H = small_generator(seed=1)
    H.load_state_dict(G.state_dict())
    H.eval()
    z = torch.randn(2, 16)
    assert torch.equal(H.w_avg, G.w_avg)
    torch.testing.assert_close(H(z, psi=0.5, noise_mode="const"), G(z, psi=0.5, noise_mode="const"))


@pytest.mark.parametrize("fused", [True, False])
def test_every_parameter_gets_a_gradient(fused):
    G = small_generator(fused_modconv=fused)
    D = StyleGAN2Discriminator(1, 16, channel_base=128, channel_max=16)
    D(G(torch.randn(4, 16))).mean().backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_fused_and_unfused_generators_compute_the_same_images():
    G, H = small_generator(fused_modconv=True), small_generator(fused_modconv=False)
    H.load_state_dict(G.state_dict())
    set_noise_strengths(G, 0.2)
    set_noise_strengths(H, 0.2)
    z = torch.randn(3, 16)
    torch.testing.assert_close(G(z, noise_mode="const"), H(z, noise_mode="const"), rtol=1e-4, atol=1e-5)


def test_conditional_models():
    G = small_generator(num_classes=3)
    z = torch.randn(3, 16)
    a, b = G(z, torch.tensor([0, 1, 2]), noise_mode="none"), G(z, torch.tensor([1, 1, 1]), noise_mode="none")
    assert (a[0] - b[0]).abs().max() > 1e-4 and torch.allclose(a[1], b[1])
    assert count_parameters(G) == g_parameter_count(16, 12, 3, 1, 16, 128, 16, classes=3)
    with pytest.raises(GankitError, match="pass labels"):
        G(z)
    with pytest.raises(GankitError, match=r"\[0, 2\]"):
        G(z, torch.tensor([0, 1, 3]))
    D = StyleGAN2Discriminator(1, 16, channel_base=128, channel_max=16, num_classes=3)
    x = torch.randn(4, 1, 16, 16)
    assert D(x, torch.tensor([0, 1, 2, 0])).shape == (4,)
    with pytest.raises(GankitError, match="d_out=1"):
        StyleGAN2Discriminator(1, 16, num_classes=3, out_features=4)


def test_bad_input_is_a_gankit_error():
    with pytest.raises(GankitError, match="data.resolution=32"):
        StyleGAN2Generator(16, 1, 28)
    with pytest.raises(GankitError, match="data.resolution=32"):
        StyleGAN2Discriminator(1, 28)
    G = small_generator()
    with pytest.raises(GankitError, match=r"\(N, 16\)"):
        G(torch.randn(2, 8))
    with pytest.raises(GankitError, match="noise_mode"):
        G(torch.randn(2, 16), noise_mode="fixed")
    with pytest.raises(GankitError, match="ws must have shape"):
        G.synthesis(torch.randn(2, 3, 12))
    with pytest.raises(GankitError, match="noise inputs"):
        G.synthesis(G.mapping(torch.randn(2, 16)), noise=[None])
    D = StyleGAN2Discriminator(1, 16, channel_base=128, channel_max=16)
    with pytest.raises(GankitError, match="multiple of 4"):
        D(torch.randn(6, 1, 16, 16))
    with pytest.raises(GankitError, match=r"\(N, 1, 16, 16\)"):
        D(torch.randn(4, 3, 16, 16))
