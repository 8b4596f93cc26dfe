import itertools

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.models.base import count_parameters
from gankit.models.semisupervised import SALIMANS_WIDTHS, SemiSupervisedMLPDiscriminator


def images(n=16, size=28, seed=0):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def effective_weights(model):
    return [(layer.weight, layer.bias) for layer in [*model.hidden, model.head]]


def test_parameter_count_is_the_salimans_mnist_network():
    """784-1000-500-250-250-250-10, each layer with weight v, bias and one weight-norm scale g per unit."""
    sizes = [784, *SALIMANS_WIDTHS, 10]
    expected = sum(a * b + 2 * b for a, b in itertools.pairwise(sizes))
    assert count_parameters(SemiSupervisedMLPDiscriminator()) == expected


def test_without_noise_the_forward_is_the_relu_network_on_unit_range_inputs():
    model = SemiSupervisedMLPDiscriminator((1, 32, 32), out_features=7, widths=(20, 10), input_noise=0, hidden_noise=0)
    x = images(5, 32)
    h = (x.flatten(1) + 1) / 2
    layers = effective_weights(model)
    for weight, bias in layers[:-1]:
        h = F.relu(F.linear(h, weight, bias))
    assert torch.allclose(model.features(x), h, atol=1e-6)
    logits = model(x)
    assert logits.shape == (5, 7)
    assert torch.allclose(logits, F.linear(h, *layers[-1]), atol=1e-6)


def test_weights_are_normalised_rows_times_their_scale():
    model = SemiSupervisedMLPDiscriminator(widths=(12,))
    for layer in [*model.hidden, model.head]:
        g = layer.parametrizations.weight.original0
        assert torch.allclose(layer.weight.norm(dim=1, keepdim=True), g.abs(), rtol=1e-5)


def test_noise_only_while_training():
    model = SemiSupervisedMLPDiscriminator(widths=(30, 20))
    x = images(4)
    model.eval()
    assert torch.equal(model(x), model(x))
    assert torch.equal(model.features(x), model.features(x))
    model.train()
    assert not torch.allclose(model(x), model(x))
    # the features are the last ReLU output, before that layer's noise
    assert (model.features(x) >= 0).all()


def test_data_dependent_initialisation_standardises_every_pre_activation():
    model = SemiSupervisedMLPDiscriminator(widths=(40, 30, 20), input_noise=0, hidden_noise=0)
    x = images(64, seed=1)
    model.initialize(x)
    h = (x.flatten(1) + 1) / 2
    layers = effective_weights(model)
    for i, (weight, bias) in enumerate(layers):
        t = F.linear(h, weight, bias)
        assert torch.allclose(t.mean(0), torch.zeros(t.shape[1]), atol=1e-4)
        assert torch.allclose(t.std(0), torch.ones(t.shape[1]), atol=1e-4)
        if i < len(layers) - 1:
            h = F.relu(t)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: SemiSupervisedMLPDiscriminator(out_features=1), "K >= 2"),
        (lambda: SemiSupervisedMLPDiscriminator(widths=()), "hidden layer"),
        (lambda: SemiSupervisedMLPDiscriminator()(images(2, 32)), r"\(1, 28, 28\)"),
        (lambda: SemiSupervisedMLPDiscriminator().initialize(images(1)), "at least 2"),
    ],
)
def test_bad_input_is_a_one_line_error(call, message):
    with pytest.raises(GankitError, match=message):
        call()


def test_generator_is_salimans_mnist_generator_in_gankits_range():
    from gankit.config import resolve
    from gankit.models import build_discriminator, build_generator
    from gankit.models.semisupervised import SemiSupervisedMLPGenerator

    G = SemiSupervisedMLPGenerator(100, (1, 28, 28))
    assert [m.linear.weight.shape for m in G.hidden] == [(500, 100), (500, 500)]
    z = torch.randn(64, 100, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = G(z)
    assert x.shape == (64, 1, 28, 28) and float(x.min()) > -1 and float(x.max()) < 1
    # hidden layers: softplus of batch-normalised pre-activations plus a learned shift (zero at first)
    h = G.hidden[0].linear(z).detach()
    expected = F.softplus((h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5))
    with torch.no_grad():
        torch.testing.assert_close(G.hidden[0](z), expected, rtol=1e-4, atol=1e-5)
    config = resolve("mnist-ssgan", ["data.resolution=28", "semisupervised.classes=7"])
    assert build_discriminator(config, (1, 28, 28)).head.out_features == 7
    assert isinstance(build_generator(config, (1, 28, 28)), SemiSupervisedMLPGenerator)
    with pytest.raises(GankitError, match="unconditional"):
        build_discriminator(config, (1, 28, 28), num_classes=10)
