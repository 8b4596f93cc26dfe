"""Forward + backward time of the StyleGAN2 generator and discriminator, per configuration.

For each configuration (the proposed ``mnist-stylegan`` preset's networks, and the CIFAR-10 / FFHQ-256
networks of the paper's configs), prints parameter counts and the best-of-``--repeats`` wall time of one
generator forward+backward (mapping + synthesis, random noise, grad of the mean squared output) and one
discriminator forward+backward (grad of the mean logit, inputs requiring grad as in R1), with the modulated
convolutions fused (one grouped convolution) and not fused (scaled shared-kernel convolution). The same
measurement for the DCGAN networks of the ``mnist-dcgan`` preset (z 100, width 64, 32x32) is printed first, as
a yardstick from the same run.

    python benchmarks/stylegan_models.py [--configs mnist,cifar10] [--batch 32] [--threads 2] [--repeats 5]
                                         [--fused both|true|false] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from gankit.models.base import count_parameters
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.stylegan import StyleGAN2Discriminator, StyleGAN2Generator

CONFIGS = {
    # the proposed mnist-stylegan preset: 32 feature maps at every resolution, a 2-layer mapping
    "mnist": dict(channels=1, resolution=32, z_dim=64, w_dim=64, mapping_layers=2, channel_base=1024, channel_max=32),
    "mnist-64": dict(
        channels=1, resolution=32, z_dim=64, w_dim=64, mapping_layers=2, channel_base=1024, channel_max=64
    ),
    # StyleGAN2-ADA's "cifar" config (Karras et al. 2020b): 512 maps at every resolution, 2-layer mapping
    "cifar10": dict(
        channels=3, resolution=32, z_dim=512, w_dim=512, mapping_layers=2, channel_base=32768, channel_max=512
    ),
    # StyleGAN2-ADA's "paper256" config: channel_base 16384 (fmaps 0.5), 8-layer mapping
    "ffhq256": dict(
        channels=3, resolution=256, z_dim=512, w_dim=512, mapping_layers=8, channel_base=16384, channel_max=512
    ),
}


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="mnist", help=f"comma-separated among {', '.join(CONFIGS)}")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fused", default="both", choices=["both", "true", "false"], help="modulated conv paths")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"batch {args.batch}, {args.threads} threads, device {device}, best of {args.repeats}")
    G, D = DCGANGenerator(100, 1, 32, 64).to(device), DCGANDiscriminator(1, 32, 64).to(device)
    z, x = torch.randn(args.batch, 100, device=device), torch.randn(args.batch, 1, 32, 32, device=device)
    t_g = best_time(lambda: G(z).square().mean().backward(), args.repeats)
    t_d = best_time(lambda: D(x.requires_grad_(True)).mean().backward(), args.repeats)
    print(
        f"{'dcgan':10s} {'':11s} G {count_parameters(G):>10,d} params {t_g * 1000:8.1f} ms | "
        f"D {count_parameters(D):>10,d} params {t_d * 1000:8.1f} ms"
    )
    for name in args.configs.split(","):
        cfg = dict(CONFIGS[name])
        d_cfg = {k: cfg[k] for k in ("channels", "resolution", "channel_base", "channel_max")}
        D = StyleGAN2Discriminator(**d_cfg).to(device)
        z = torch.randn(args.batch, cfg["z_dim"], device=device)
        x = torch.randn(args.batch, cfg["channels"], cfg["resolution"], cfg["resolution"], device=device)

        def d_step(D=D, x=x) -> None:
            D(x.requires_grad_(True)).mean().backward()
            if device.type == "cuda":
                torch.cuda.synchronize()

        t_d = best_time(d_step, args.repeats)
        for fused in {"both": (True, False), "true": (True,), "false": (False,)}[args.fused]:
            G = StyleGAN2Generator(**cfg, fused_modconv=fused).to(device)

            def g_step(G=G, z=z) -> None:
                G(z).square().mean().backward()
                if device.type == "cuda":
                    torch.cuda.synchronize()

            t_g = best_time(g_step, args.repeats)
            print(
                f"{name:10s} fused={fused!s:5s} G {count_parameters(G):>10,d} params {t_g * 1000:8.1f} ms | "
                f"D {count_parameters(D):>10,d} params {t_d * 1000:8.1f} ms"
            )


if __name__ == "__main__":
    main()
