"""Style groups against the paper's layout, the mixing grid cell by cell, and the noise figures against renders with
explicit noise maps and with the layers' strengths zeroed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.models.stylegan import StyleGAN2Generator
from gankit.uses.latent_structure import (
    mix_group,
    mixing_grid,
    noise_draws,
    noise_maps,
    pixel_std,
    resolution_groups,
    style_groups,
)


def tiny(resolution: int = 16, seed: int = 0) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    G = StyleGAN2Generator(
        z_dim=8, channels=1, resolution=resolution, w_dim=8, mapping_layers=1, channel_base=64, channel_max=8
    ).eval()
    with torch.no_grad():
        for layer in G.noise_layers():
            layer.strength.normal_()
        G.mapping_network.w_avg.normal_()
    return G


def test_groups_follow_the_paper_at_1024_and_split_levels_below():
    # StyleGAN Fig. 3 / its generate_figures.py: coarse styles 0-3 (4^2-8^2), middle 4-7 (16^2-32^2), fine 8-17.
    G = StyleGAN2Generator(
        z_dim=4, channels=1, resolution=1024, w_dim=4, mapping_layers=1, channel_base=1024, channel_max=1
    )
    assert style_groups(G) == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": list(range(8, 18))}
    assert resolution_groups(32) == {"coarse": [4, 8], "middle": [16], "fine": [32]}
    assert style_groups(tiny(32)) == {"coarse": [0, 1, 2, 3], "middle": [4, 5], "fine": [6, 7]}
    with pytest.raises(GankitError, match="at least 16x16"):
        resolution_groups(8)


def test_mixing_grid_cells_are_a_with_the_rows_group_from_b():
    G = tiny()
    g = torch.Generator().manual_seed(1)
    ws_a = G.mapping(torch.randn(3, 8, generator=g))
    ws_b = G.mapping(torch.randn(3, 8, generator=g))
    groups = ["coarse", "middle", "fine"]
    grid = mixing_grid(G, ws_a, ws_b, groups)
    assert grid.shape == (16, 1, 16, 16)
    indices = style_groups(G)
    with torch.no_grad():
        assert torch.allclose(grid[1:4], G.synthesis(ws_a, "const"), atol=1e-5)
        for i, group in enumerate(groups):
            row = grid[(i + 1) * 4 : (i + 2) * 4]
            assert torch.allclose(row[0], G.synthesis(ws_b[i : i + 1], "const")[0], atol=1e-5)
            for j in range(3):
                explicit = torch.stack([ws_b[i, k] if k in indices[group] else ws_a[j, k] for k in range(G.num_ws)])
                assert torch.allclose(row[1 + j], G.synthesis(explicit[None], "const")[0], atol=1e-5)
    # a cell ignores B's styles outside its group
    other = ws_b.clone()
    other[:, [k for k in range(G.num_ws) if k not in indices["fine"]]] += 5
    changed = mixing_grid(G, ws_a, other, groups)
    assert torch.allclose(changed[13:16], grid[13:16], atol=1e-5)
    assert not torch.allclose(changed[5:8], grid[5:8], atol=1e-3)


def test_mix_group_takes_exactly_the_indices():
    a, b = torch.zeros(2, 6, 3), torch.ones(2, 6, 3)
    mixed = mix_group(a, b, [1, 4])
    assert mixed[:, [1, 4]].eq(1).all() and mixed[:, [0, 2, 3, 5]].eq(0).all()


def test_noise_draws_equal_renders_with_explicit_maps_and_pixel_std_is_the_sample_std():
    G = tiny()
    ws = G.mapping(torch.randn(1, 8, generator=torch.Generator().manual_seed(2)))[0]
    images = noise_draws(G, ws, 5, torch.Generator().manual_seed(3))
    maps = noise_maps(G, 5, torch.Generator().manual_seed(3))
    with torch.no_grad():
        for i in range(5):
            one = G.synthesis(ws[None], noise=[m[i : i + 1] for m in maps])
            assert torch.allclose(images[i], one[0], atol=1e-5)
    expected = np.std(images.double().numpy(), axis=0, ddof=1).mean(axis=0)
    assert np.allclose(pixel_std(images).numpy(), expected)
    assert float(pixel_std(images).mean()) > 1e-4  # the noise does change the image


def test_zero_strengths_make_images_independent_of_the_noise():
    G = tiny()
    with torch.no_grad():
        for layer in G.noise_layers():
            layer.strength.zero_()
    ws = G.mapping(torch.randn(1, 8))[0]
    assert float(pixel_std(noise_draws(G, ws, 4, torch.Generator().manual_seed(0))).max()) == 0.0


@pytest.mark.parametrize("off", [("fine",), ("coarse",), ("coarse", "fine")])
def test_noise_off_equals_zero_strength_in_those_layers(off):
    G = tiny()
    ws = G.mapping(torch.randn(1, 8, generator=torch.Generator().manual_seed(4)))[0]
    switched = noise_draws(G, ws, 3, torch.Generator().manual_seed(5), off)
    silent = {"fine": {16}, "coarse": {4, 8}}
    resolutions = set().union(*(silent[o] for o in off))
    with torch.no_grad():
        for layer in G.noise_layers():
            if layer.resolution in resolutions:
                layer.strength.zero_()
    reference = noise_draws(G, ws, 3, torch.Generator().manual_seed(5))
    assert torch.allclose(switched, reference, atol=1e-5)


def test_style_only_helpers_refuse_other_generators():
    from gankit.models.dcgan import DCGANGenerator

    G = DCGANGenerator(z_dim=8, channels=1, resolution=8, width=8)
    with pytest.raises(GankitError, match="StyleGAN2 generator"):
        noise_maps(G, 1, torch.Generator())
