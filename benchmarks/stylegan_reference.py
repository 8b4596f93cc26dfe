"""gankit's StyleGAN2 generator and discriminator against NVlabs' stylegan2-ada-pytorch, block by block.

Builds both implementations at one configuration, copies gankit's weights into the reference networks (by name;
nothing of the reference is copied into gankit) and prints the largest absolute difference of the mapping
output, of each synthesis block's features and image, and of the discriminator's logits, for one batch with the
noise inputs switched off. The reference's up-sampling convolutions run with ``flip_weight=False``
(``conv2d_resample``: a true convolution of the up-sampled map), gankit's with a correlation as in every other
layer, so their kernels are copied flipped; the two are the same function family (the kernels are learned).

    git clone https://github.com/NVlabs/stylegan2-ada-pytorch /tmp/stylegan2-ada-pytorch
    python benchmarks/stylegan_reference.py --reference /tmp/stylegan2-ada-pytorch [--resolution 32 --channels 1]

Runs on the CPU (the reference falls back to its plain PyTorch ops without a CUDA compiler). Its ``dnnlib``
imports ``requests`` for downloads it does not make here; the script stands in an empty module when
``requests`` is not installed.
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import torch

from gankit.models.stylegan import StyleGAN2Discriminator, StyleGAN2Generator


def _import_reference(path: Path):
    if not (path / "training" / "networks.py").is_file():
        sys.exit(f"error: {path} is not a stylegan2-ada-pytorch checkout (no training/networks.py); pass --reference")
    try:
        import requests  # noqa: F401
    except ImportError:
        sys.modules["requests"] = types.ModuleType("requests")
    sys.path.insert(0, str(path))
    from training import networks

    return networks


def reference_generator_state(G: StyleGAN2Generator, mapping_layers: int) -> dict[str, torch.Tensor]:
    """gankit's generator weights under the reference's names (up-sampling kernels flipped, see the module doc)."""
    sd = G.state_dict()
    out = {"synthesis.b4.const": sd["blocks.0.const"]}
    for i, block in enumerate(G.blocks):
        r = block.resolution
        for j, name in enumerate(["conv1"] if r == 4 else ["conv0", "conv1"]):
            p = f"blocks.{i}.convs.{j}"
            weight = sd[f"{p}.conv.weight"]
            out[f"synthesis.b{r}.{name}.weight"] = weight.flip(2, 3) if name == "conv0" else weight
            out[f"synthesis.b{r}.{name}.bias"] = sd[f"{p}.bias"]
            out[f"synthesis.b{r}.{name}.affine.weight"] = sd[f"{p}.conv.affine.weight"]
            out[f"synthesis.b{r}.{name}.affine.bias"] = sd[f"{p}.conv.affine.bias"]
        out[f"synthesis.b{r}.torgb.weight"] = sd[f"blocks.{i}.torgb.conv.weight"]
        out[f"synthesis.b{r}.torgb.bias"] = sd[f"blocks.{i}.torgb.bias"]
        out[f"synthesis.b{r}.torgb.affine.weight"] = sd[f"blocks.{i}.torgb.conv.affine.weight"]
        out[f"synthesis.b{r}.torgb.affine.bias"] = sd[f"blocks.{i}.torgb.conv.affine.bias"]
    for i in range(mapping_layers):
        out[f"mapping.fc{i}.weight"] = sd[f"mapping_network.layers.{i}.weight"]
        out[f"mapping.fc{i}.bias"] = sd[f"mapping_network.layers.{i}.bias"]
    return out


def reference_discriminator_state(D: StyleGAN2Discriminator, resolution: int) -> dict[str, torch.Tensor]:
    """gankit's discriminator weights under the reference's names."""
    sd = D.state_dict()
    out = {f"b{resolution}.fromrgb.weight": sd["from_rgb.weight"], f"b{resolution}.fromrgb.bias": sd["from_rgb.bias"]}
    r = resolution
    for i in range(len(D.blocks)):
        for name in ("conv0", "conv1"):
            out[f"b{r}.{name}.weight"] = sd[f"blocks.{i}.{name}.weight"]
            out[f"b{r}.{name}.bias"] = sd[f"blocks.{i}.{name}.bias"]
        out[f"b{r}.skip.weight"] = sd[f"blocks.{i}.skip.weight"]
        r //= 2
    for name in ("conv", "fc", "out"):
        out[f"b4.{name}.weight"] = sd[f"{name}.weight"]
        out[f"b4.{name}.bias"] = sd[f"{name}.bias"]
    return out


def _load(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load ``state``; every parameter of the reference must be set, except its noise strengths (one scalar per
    layer there, one per channel in gankit as in StyleGAN 2019; the comparison runs without noise)."""
    result = module.load_state_dict(state, strict=False)
    parameters = dict(module.named_parameters())
    missing = [k for k in result.missing_keys if k in parameters and not k.endswith("noise_strength")]
    if missing or result.unexpected_keys:
        sys.exit(f"error: weight names do not match: unset {missing}, unknown {result.unexpected_keys}")


def _perturb_biases(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Zero-initialised biases would hide a bias applied in the wrong place: give them random values."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.add_(0.3 * torch.randn(p.shape, generator=generator))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="a stylegan2-ada-pytorch checkout")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--z-dim", type=int, default=64)
    parser.add_argument("--mapping-layers", type=int, default=2)
    parser.add_argument("--channel-base", type=int, default=1024)
    parser.add_argument("--channel-max", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    networks = _import_reference(args.reference)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    sizes = dict(channel_base=args.channel_base, channel_max=args.channel_max)
    G = StyleGAN2Generator(
        args.z_dim, args.channels, args.resolution, w_dim=args.z_dim, mapping_layers=args.mapping_layers, **sizes
    )
    _perturb_biases(G, g)
    ref_G = networks.Generator(
        z_dim=args.z_dim,
        c_dim=0,
        w_dim=args.z_dim,
        img_resolution=args.resolution,
        img_channels=args.channels,
        mapping_kwargs=dict(num_layers=args.mapping_layers),
        synthesis_kwargs=dict(architecture="skip", **sizes),
    )
    _load(ref_G, reference_generator_state(G, args.mapping_layers))
    z = torch.randn(args.batch, args.z_dim, generator=g)
    with torch.no_grad():
        ws, ref_ws = G.mapping(z), ref_G.mapping(z, None)
        print(f"mapping ws: max |diff| {(ws - ref_ws).abs().max():.2e} (max |ws| {ref_ws.abs().max():.2f})")
        x = img = ref_x = ref_img = None
        w_index = 0
        for block in G.blocks:
            n = len(block.convs)
            x, img = block(x, img, ws[:, w_index : w_index + n + 1], "none", [None] * n)
            ref_block = getattr(ref_G.synthesis, f"b{block.resolution}")
            ref_x, ref_img = ref_block(ref_x, ref_img, ref_ws[:, w_index : w_index + n + 1], noise_mode="none")
            w_index += n
            print(
                f"synthesis {block.resolution:>4}x{block.resolution:<4} features max |diff| "
                f"{(x - ref_x).abs().max():.2e} (max {ref_x.abs().max():.2f}), image max |diff| "
                f"{(img - ref_img).abs().max():.2e} (max {ref_img.abs().max():.2f})"
            )
        D = StyleGAN2Discriminator(args.channels, args.resolution, **sizes)
        _perturb_biases(D, g)
        ref_D = networks.Discriminator(c_dim=0, img_resolution=args.resolution, img_channels=args.channels, **sizes)
        _load(ref_D, reference_discriminator_state(D, args.resolution))
        images = torch.randn(args.batch, args.channels, args.resolution, args.resolution, generator=g)
        logits, ref_logits = D(images).flatten(), ref_D(images, None).flatten()
        diff = (logits - ref_logits).abs().max()
        print(f"discriminator logits: max |diff| {diff:.2e} (max {ref_logits.abs().max():.2f})")


if __name__ == "__main__":
    main()
