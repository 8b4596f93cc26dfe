"""StyleGAN's latent structure as pictures: style mixing by layer group and the effect of the noise inputs.

- Layer groups (Karras et al., CVPR 2019, "A style-based generator architecture for GANs", Sec. 3.1 and Fig. 3):
  styles of the 4^2 - 8^2 layers are "coarse" (pose, shape), 16^2 - 32^2 "middle", 64^2 - 1024^2 "fine"
  (colour scheme, micro-structure). Style index i drives the layers at resolution 2^(i // 2 + 2) (two styles
  per resolution in the paper's and gankit's "w+" layout). Generators below 64x64 have no "fine" resolutions
  in the paper's sense; there the last level is "fine", the one before "middle" and the others "coarse":
  4-8 / 16 / 32 at 32x32, 4 / 8 / 16 at 16x16.
- Style mixing grid (Fig. 3): images of sources A across the top, sources B down the side; every other cell
  takes the styles of one group from its row's B and the rest from its column's A.
- Noise (Sec. 3.2, Fig. 4 and 5): one w rendered with several noise draws, the per-pixel standard deviation
  over many draws, and the noise switched off in the coarse or the fine layers ("coarse" noise: the coarse and
  middle groups, 4^2 - 32^2 in the paper; "fine" noise: 64^2 - 1024^2).
"""

from __future__ import annotations

import math

import torch

from gankit.errors import GankitError
from gankit.models.stylegan import StyleGAN2Generator

GROUPS = ("coarse", "middle", "fine")


def resolution_groups(resolution: int) -> dict[str, list[int]]:
    """The resolutions of the coarse, middle and fine groups of a generator of side ``resolution`` (module text):
    the paper's 4-8 / 16-32 / 64+ from 64x64 up; below, fine = the last level, middle = the one before, coarse =
    the others. Needs ``resolution >= 16``."""
    if resolution < 16 or 2 ** int(math.log2(resolution)) != resolution:
        raise GankitError(
            f"coarse / middle / fine groups need a power-of-two generator of at least 16x16, got {resolution}"
        )
    levels = [2**k for k in range(2, int(math.log2(resolution)) + 1)]
    if resolution >= 64:
        return {
            "coarse": [r for r in levels if r <= 8],
            "middle": [r for r in levels if 16 <= r <= 32],
            "fine": [r for r in levels if r >= 64],
        }
    return {"coarse": levels[:-2], "middle": levels[-2:-1], "fine": levels[-1:]}


def style_resolution(index: int) -> int:
    """The resolution of the layers that style ``index`` modulates: 2^(index // 2 + 2)."""
    return 2 ** (index // 2 + 2)


def style_groups(G: StyleGAN2Generator) -> dict[str, list[int]]:
    """The style indices (of ``G.num_ws``) of each group, e.g. 0-3 / 4-5 / 6-7 at 32x32, 0-3 / 4-7 / 8-17 at
    1024x1024 (the paper's ``col_styles``)."""
    groups = resolution_groups(G.resolution)
    return {name: [i for i in range(G.num_ws) if style_resolution(i) in res] for name, res in groups.items()}


def _check_style(G: object) -> StyleGAN2Generator:
    if not isinstance(G, StyleGAN2Generator):
        raise GankitError(f"this needs a StyleGAN2 generator (mapping + synthesis); got {type(G).__name__}")
    return G


def mix_group(ws_a: torch.Tensor, ws_b: torch.Tensor, indices: list[int]) -> torch.Tensor:
    """``ws_a`` (N, num_ws, w_dim) with the styles at ``indices`` taken from ``ws_b`` (StyleGAN Sec. 3.1)."""
    if ws_a.shape != ws_b.shape or ws_a.ndim != 3:
        raise GankitError(
            f"style mixing needs two ws of one shape (N, L, D); got {tuple(ws_a.shape)}, {tuple(ws_b.shape)}"
        )
    mixed = ws_a.clone()
    mixed[:, indices] = ws_b[:, indices]
    return mixed


@torch.no_grad()
def mixing_grid(
    G: StyleGAN2Generator,
    ws_a: torch.Tensor,
    ws_b: torch.Tensor,
    row_groups: list[str],
    noise_mode: str = "const",
) -> torch.Tensor:
    """The style-mixing figure of StyleGAN Fig. 3 as (len(ws_b) + 1) x (len(ws_a) + 1) images, row by row: the top
    row is a blank corner then the images of ``ws_a`` (sources A); each further row i starts with the image of
    ``ws_b[i]`` (source B) and continues with every A taking B's styles of group ``row_groups[i]``.

    Args:
        G: a StyleGAN2 generator.
        ws_a, ws_b: (N_A, num_ws, w_dim) and (N_B, num_ws, w_dim) styles.
        row_groups: one of "coarse", "middle", "fine" per row (per source B).
        noise_mode: the noise of every image ("const": the same noise in every cell).
    """
    G = _check_style(G)
    if len(row_groups) != len(ws_b):
        raise GankitError(f"give one group per source B: {len(ws_b)} sources, {len(row_groups)} groups")
    groups = style_groups(G)
    unknown = [g for g in row_groups if g not in groups]
    if unknown:
        raise GankitError(f"unknown layer group '{unknown[0]}'; valid: {', '.join(GROUPS)}")
    device = G.w_avg.device
    ws_a, ws_b = ws_a.to(device), ws_b.to(device)
    top = G.synthesis(ws_a, noise_mode)
    side = G.synthesis(ws_b, noise_mode)
    rows = [torch.cat([torch.full_like(top[:1], -1.0), top])]
    for i, group in enumerate(row_groups):
        mixed = mix_group(ws_a, ws_b[i : i + 1].expand_as(ws_a), groups[group])
        rows.append(torch.cat([side[i : i + 1], G.synthesis(mixed, noise_mode)]))
    return torch.cat(rows).cpu()


def noise_maps(
    G: StyleGAN2Generator, n: int, generator: torch.Generator, off: tuple[str, ...] = ()
) -> list[torch.Tensor]:
    """One N(0, 1) draw (n, 1, r, r) per noise input of ``G`` from ``generator``; the inputs of the noise groups
    in ``off`` ("coarse": 4^2 - 32^2 in the paper, "fine": 64^2 and up; module text) get zero maps."""
    G = _check_style(G)
    groups = resolution_groups(G.resolution)
    silent = set()
    for name in off:
        if name not in ("coarse", "fine"):
            raise GankitError(f"unknown noise group '{name}'; valid: coarse, fine")
        silent |= set(groups["fine"]) if name == "fine" else set(groups["coarse"]) | set(groups["middle"])
    device = G.w_avg.device
    maps = []
    for layer in G.noise_layers():
        r = layer.resolution
        draw = torch.randn(n, 1, r, r, generator=generator, device=generator.device).to(device)
        maps.append(torch.zeros_like(draw) if r in silent else draw)
    return maps


@torch.no_grad()
def noise_draws(
    G: StyleGAN2Generator, ws: torch.Tensor, draws: int, generator: torch.Generator, off: tuple[str, ...] = ()
) -> torch.Tensor:
    """The image of one style code ``ws`` (num_ws, w_dim) under ``draws`` independent noise draws (StyleGAN Fig. 4),
    with the noise of the groups in ``off`` switched off (Fig. 5): (draws, C, R, R) on the CPU."""
    G = _check_style(G)
    if ws.shape != (G.num_ws, G.w_dim):
        raise GankitError(f"give one style code of shape ({G.num_ws}, {G.w_dim}); got {tuple(ws.shape)}")
    if draws < 1:
        raise GankitError(f"noise draws must be >= 1, got {draws}")
    maps = noise_maps(G, draws, generator, off)
    batch = ws.to(G.w_avg.device).unsqueeze(0).expand(draws, -1, -1)
    return G.synthesis(batch, noise=maps).cpu()


def pixel_std(images: torch.Tensor) -> torch.Tensor:
    """The per-pixel standard deviation over a stack of images (N, C, H, W) of one w (StyleGAN Fig. 4d), averaged
    over channels: (H, W). Uses the unbiased estimator; needs N >= 2."""
    if images.ndim != 4 or len(images) < 2:
        raise GankitError(f"the per-pixel standard deviation needs >= 2 images (N, C, H, W); got {tuple(images.shape)}")
    return images.double().std(dim=0).mean(dim=0)


def std_image(std: torch.Tensor) -> torch.Tensor:
    """A (1, 1, H, W) picture in [-1, 1] of a standard-deviation map, scaled so that its maximum is white."""
    top = float(std.max())
    scaled = std / top if top > 0 else std
    return (scaled * 2 - 1).float().view(1, 1, *std.shape)
