"""The checks that need a CUDA GPU (skipped without one; ``benchmarks/device_check.sh`` runs them on a GPU machine):
a checkpoint written by a CUDA run samples the same images on the GPU and on the CPU, bf16 autocast trains with
finite losses and float32 weights, and channels-last networks compute NCHW's logits on the GPU."""

import math

import pytest
import torch

from gankit.config import resolve
from gankit.models import build_discriminator, build_generator
from gankit.sampling import generate, load_generator
from gankit.training.logging import read_metrics
from gankit.training.loop import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY = [
    "data.resolution=8",
    "model.width=8",
    "model.z_dim=8",
    "train.batch_size=16",
    "train.steps=3",
    "train.device=cuda",
    "log.every=1",
    "log.progress=false",
    "log.tensorboard=false",
    "eval.every=0",
]


@pytest.fixture(autouse=True)
def full_fp32():
    """TF32 off, so that GPU and CPU float32 results agree to float32 rounding."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_a_cuda_checkpoint_samples_the_same_images_on_the_cpu(tmp_path):
    Trainer(resolve("digits", TINY), tmp_path).fit()
    on_gpu = generate(load_generator(tmp_path, device="cuda"), 32, seed=0)
    on_cpu = generate(load_generator(tmp_path, device="cpu"), 32, seed=0)
    assert on_gpu.device.type == "cpu" and on_gpu.shape == (32, 1, 8, 8)
    torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_trains_with_finite_losses_and_float32_weights(tmp_path):
    trainer = Trainer(resolve("digits", [*TINY, "train.precision=bf16"]), tmp_path)
    trainer.fit()
    records = [r for r in read_metrics(tmp_path) if "loss_d" in r]
    assert len(records) == 3 and all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in records)
    assert {p.dtype for p in trainer.G.parameters()} == {torch.float32}


@pytest.mark.parametrize("preset", ["cifar10-sngan", "mnist-stylegan"])
def test_channels_last_computes_the_same_logits_on_cuda(preset):
    config = resolve(preset, ["model.width=32", "model.d_width=32"] if preset == "cifar10-sngan" else [])
    shape = (3, 32, 32) if preset == "cifar10-sngan" else (1, 32, 32)
    torch.manual_seed(0)
    G, D = build_generator(config, shape).cuda().eval(), build_discriminator(config, shape).cuda().eval()
    z = torch.randn(8, config.model.z_dim, device="cuda")
    with torch.no_grad():
        nchw = D(G(z, noise_mode="const") if preset == "mnist-stylegan" else G(z))
        G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        nhwc = D(G(z, noise_mode="const") if preset == "mnist-stylegan" else G(z))
    torch.testing.assert_close(nhwc, nchw, rtol=1e-4, atol=1e-4)
