import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.models.base import count_parameters
from gankit.models.biggan import BigGANDiscriminator, BigGANGenerator
from gankit.nn.spectral_norm import apply_spectral_norm


def small_generator(**kwargs) -> BigGANGenerator:
    settings = dict(resolution=32, channels=3, z_dim=32, width=4, num_classes=5, shared_dim=8, hierarchical=True)
    return BigGANGenerator(**(settings | kwargs))


def block_io(G: BigGANGenerator, z: torch.Tensor, y: torch.Tensor) -> tuple[list, list]:
    """Each block's conditioning input and output, recorded by forward hooks."""
    conditions, outputs = [], []

    def record(_module, args, out) -> None:
        conditions.append(args[1])
        outputs.append(out)

    hooks = [block.register_forward_hook(record) for block in G.blocks]
    G(z, y)
    for hook in hooks:
        hook.remove()
    return conditions, outputs


def test_skip_z_each_block_receives_its_own_chunk_with_the_shared_embedding():
    torch.manual_seed(0)
    G = small_generator().eval()
    z, y = torch.randn(3, 32), torch.tensor([0, 4, 2])
    conditions, _ = block_io(G, z, y)
    assert G.chunk_size == 8 and len(conditions) == 3
    embedding = G.shared.weight[y]
    for k, cond in enumerate(conditions):
        torch.testing.assert_close(cond, torch.cat([embedding, z[:, 8 * (k + 1) : 8 * (k + 2)]], dim=1))
    # the first chunk, and only it, feeds the input linear layer
    first = []
    G.linear.register_forward_hook(lambda _m, args, _out: first.append(args[0]) and None)
    G(z, y)
    torch.testing.assert_close(first[0], z[:, :8])


@pytest.mark.parametrize("chunk", [0, 1, 2, 3])
def test_changing_one_chunk_changes_only_the_blocks_from_its_own_on(chunk):
    torch.manual_seed(1)
    G = small_generator().eval()
    z, y = torch.randn(2, 32), torch.tensor([1, 3])
    changed = z.clone()
    changed[:, 8 * chunk : 8 * (chunk + 1)] += 1.0
    _, before = block_io(G, z, y)
    _, after = block_io(G, changed, y)
    first_changed = max(chunk - 1, 0)  # chunk 0 enters at the input layer, chunk k >= 1 at block k - 1
    for k in range(3):
        if k < first_changed:
            assert torch.equal(before[k], after[k]), f"block {k} changed with chunk {chunk}"
        else:
            assert not torch.allclose(before[k], after[k]), f"block {k} unchanged with chunk {chunk}"


def test_without_hierarchy_every_block_gets_the_shared_embedding_and_per_class_tables_get_labels():
    torch.manual_seed(2)
    G = small_generator(hierarchical=False).eval()
    z, y = torch.randn(2, 32), torch.tensor([1, 3])
    conditions, _ = block_io(G, z, y)
    for cond in conditions:
        torch.testing.assert_close(cond, G.shared.weight[y])
    table = small_generator(shared_dim=0, hierarchical=False).eval()
    conditions, _ = block_io(table, z, y)
    assert all(torch.equal(cond, y) for cond in conditions) and table.shared is None


def test_projection_output_is_the_unconditional_head_plus_the_inner_product():
    torch.manual_seed(3)
    D = BigGANDiscriminator(32, 3, width=4, num_classes=7, attention_resolution=16)
    torch.nn.init.normal_(D.attention.gamma)
    x, y = torch.randn(6, 3, 32, 32), torch.tensor([0, 6, 3, 3, 1, 2])
    h = D.features(x)
    embedding = F.one_hot(y, 7).float() @ D.embed.weight.T  # row y of the class embedding
    expected = D.linear(h).squeeze(1) + (embedding * h).sum(1)
    torch.testing.assert_close(D(x, y), expected)
    # changing only the label moves the logit by exactly <e_y' - e_y, h>
    other = (y + 1) % 7
    shift = ((D.class_embedding(other) - D.class_embedding(y)) * h).sum(1)
    torch.testing.assert_close(D(x, other) - D(x, y), shift, rtol=1e-4, atol=1e-3)


def test_projection_embedding_is_spectrally_normalised_and_g_shared_embedding_is_not():
    torch.manual_seed(4)
    D = apply_spectral_norm(BigGANDiscriminator(32, 3, width=4, num_classes=7), n_power_iterations=30)
    D(torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))  # one training forward: 30 power iterations
    D.eval()
    sigma = torch.linalg.matrix_norm(D.class_embedding(torch.arange(7)), ord=2)
    assert sigma.item() == pytest.approx(1.0, rel=1e-3)
    G = apply_spectral_norm(small_generator())
    assert not hasattr(G.shared, "parametrizations") and hasattr(G.blocks[0].bn1.gain, "parametrizations")


@pytest.mark.parametrize(
    ("resolution", "z_dim", "attention"), [(32, 128, 16), (64, 120, 32), (128, 120, 64), (32, 80, 0)]
)
def test_shapes_range_and_attention_placement(resolution, z_dim, attention):
    torch.manual_seed(5)
    G = BigGANGenerator(resolution, 3, z_dim, width=8, num_classes=3, shared_dim=4, attention_resolution=attention)
    D = BigGANDiscriminator(resolution, 3, width=8, num_classes=3, attention_resolution=attention)
    y = torch.tensor([0, 2])
    x = G(G.sample_latent(2), y)
    assert x.shape == (2, 3, resolution, resolution) and x.abs().max() <= 1
    assert D(x, y).shape == (2,)
    if not attention:
        assert G.attention is None and D.attention is None
        return
    grids = []
    for net in (G, D):
        net.attention.register_forward_hook(lambda _m, args, _o: grids.append(args[0].shape[-2:]) and None)
    D(G(G.sample_latent(2), y), y)
    assert grids == [(attention, attention)] * 2


def test_grayscale_and_unconditional_discriminator_features():
    G = small_generator(channels=1)
    assert G(torch.randn(2, 32), torch.tensor([0, 1])).shape == (2, 1, 32, 32)
    critic = BigGANDiscriminator(32, 1, width=4, num_classes=0, out_features=16)
    assert critic.embed is None and critic(torch.randn(3, 1, 32, 32)).shape == (3, 16)


# Counts of the reference code instantiated with the same settings (see the module docstring).
BIGGAN_PYTORCH_CIFAR = (4_304_387, 4_207_361)  # scripts/launch_cifar_ema.sh: ch 64, z 128, no shared, no hier
STUDIOGAN_CIFAR = (9_416_196, 2_415_170)  # src/configs/CIFAR10/BigGAN.yaml: z 80, shared 128, conv dims 96, attention
BIGGAN_PYTORCH_64 = (31_842_820, 19_558_082)  # G_arch/D_arch[64], ch 64, shared 128, hier, z 120, attention 32
BIGGAN_PYTORCH_128 = (70_433_988, 87_982_370)  # scripts/launch_BigGAN_bs256x8.sh: ch 96, z 120, attention 64


def test_parameter_counts_match_the_reference_implementations():
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        G = BigGANGenerator(32, 3, 128, 64, 10, shared_dim=0, hierarchical=False, init="N02")
        assert (count_parameters(G), count_parameters(BigGANDiscriminator(32, 3, 64, 10))) == BIGGAN_PYTORCH_CIFAR
        G = BigGANGenerator(32, 3, 80, 96, 10, shared_dim=128, hierarchical=True, attention_resolution=16)
        D = BigGANDiscriminator(32, 3, 48, 10, attention_resolution=16)
        assert (count_parameters(G), count_parameters(D)) == STUDIOGAN_CIFAR
        G = BigGANGenerator(64, 3, 120, 64, 10, 128, True, 32)
        D = BigGANDiscriminator(64, 3, 64, 10, 32)
        assert (count_parameters(G), count_parameters(D)) == BIGGAN_PYTORCH_64
        G = BigGANGenerator(128, 3, 120, 96, 1000, 128, True, 64)
        D = BigGANDiscriminator(128, 3, 96, 1000, 64)
        assert (count_parameters(G), count_parameters(D)) == BIGGAN_PYTORCH_128


def test_initialisations():
    torch.manual_seed(6)
    G = small_generator(init="ortho")
    w = G.blocks[0].conv1.weight.flatten(1)  # (16, 144): orthonormal rows
    torch.testing.assert_close(w @ w.T, torch.eye(16), atol=1e-5, rtol=0)
    assert G.blocks[0].conv1.bias.abs().sum() == 0
    G = small_generator(init="N02")
    assert G.blocks[0].conv1.weight.std().item() == pytest.approx(0.02, rel=0.1)


def test_bad_input_is_a_one_line_error():
    with pytest.raises(GankitError, match="class-conditional"):
        small_generator(num_classes=0)
    with pytest.raises(GankitError, match="multiple of 4: use 28 or 32"):
        small_generator(z_dim=30)
    with pytest.raises(GankitError, match="set shared_dim > 0"):
        small_generator(shared_dim=0)
    with pytest.raises(GankitError, match=r"one of \[8, 16, 32\]"):
        small_generator(attention_resolution=4)
    with pytest.raises(GankitError, match="data.resolution"):
        small_generator(resolution=48)
    with pytest.raises(GankitError, match="unknown BigGAN initialisation"):
        small_generator(init="kaiming")
    with pytest.raises(GankitError, match="one logit"):
        BigGANDiscriminator(32, 3, 4, num_classes=3, out_features=8)
    G = small_generator()
    with pytest.raises(GankitError, match=r"\[0, 4\]"):
        G(torch.randn(2, 32), torch.tensor([0, 5]))
    with pytest.raises(GankitError, match=r"shape \(N, 32\)"):
        G(torch.randn(2, 31), torch.tensor([0, 1]))
    D = BigGANDiscriminator(32, 3, 4, num_classes=3)
    with pytest.raises(GankitError, match=r"\[0, 2\]"):
        D(torch.randn(2, 3, 32, 32), torch.tensor([-1, 1]))
    with pytest.raises(GankitError, match=r"shape \(N, 3, 32, 32\)"):
        D(torch.randn(2, 1, 32, 32), torch.tensor([0, 1]))
