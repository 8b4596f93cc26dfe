import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.nn.conditional_bn import ConditionalBatchNorm2d


def test_one_class_equals_batch_norm_with_that_class_affine_parameters():
    torch.manual_seed(0)
    x = torch.randn(8, 5, 4, 4) * 3 + 1
    cbn = ConditionalBatchNorm2d(5, num_classes=1)
    plain = nn.BatchNorm2d(5, affine=False)
    labels = torch.zeros(8, dtype=torch.long)
    # fresh: gain 1, bias 0, i.e. batch norm without affine parameters, in train and in eval mode
    torch.testing.assert_close(cbn(x, labels), plain(x))
    torch.testing.assert_close(cbn.bn.running_mean, plain.running_mean)
    with torch.no_grad():
        cbn.gain.weight.normal_()
        cbn.bias.weight.normal_()
    affine = nn.BatchNorm2d(5)
    with torch.no_grad():
        affine.weight.copy_(1 + cbn.gain.weight[0])
        affine.bias.copy_(cbn.bias.weight[0])
    torch.testing.assert_close(cbn(x, labels), affine(x))
    affine.running_mean.copy_(cbn.bn.running_mean)
    affine.running_var.copy_(cbn.bn.running_var)
    cbn.eval(), affine.eval()
    torch.testing.assert_close(cbn(x, labels), affine(x))


def test_constant_zero_conditioning_vector_is_plain_batch_norm():
    torch.manual_seed(1)
    x = torch.randn(6, 4, 3, 3)
    cbn = ConditionalBatchNorm2d(4, cond_dim=7)
    nn.init.normal_(cbn.gain.weight)
    nn.init.normal_(cbn.bias.weight)  # any weights: a zero vector gives gain 1, bias 0 (no bias terms)
    torch.testing.assert_close(cbn(x, torch.zeros(6, 7)), nn.BatchNorm2d(4, affine=False)(x))


def test_linear_conditioning_matches_explicit_formula():
    torch.manual_seed(2)
    x, c = torch.randn(6, 4, 3, 3), torch.randn(6, 7)
    cbn = ConditionalBatchNorm2d(4, cond_dim=7)
    nn.init.normal_(cbn.gain.weight)
    nn.init.normal_(cbn.bias.weight)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normalised = (x - mean) / torch.sqrt(var + 1e-5)
    gain = 1 + c @ cbn.gain.weight.T
    bias = c @ cbn.bias.weight.T
    torch.testing.assert_close(cbn(x, c), normalised * gain[:, :, None, None] + bias[:, :, None, None])


def test_different_classes_give_different_outputs_and_same_class_same_output():
    torch.manual_seed(3)
    cbn = ConditionalBatchNorm2d(3, num_classes=4)
    nn.init.normal_(cbn.gain.weight)
    nn.init.normal_(cbn.bias.weight)
    x = torch.randn(1, 3, 2, 2).repeat(4, 1, 1, 1)  # four copies of one input
    cbn.eval()
    out = cbn(x, torch.tensor([0, 1, 2, 2]))
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])
    torch.testing.assert_close(out[2], out[3])


def test_bad_input_is_a_one_line_error():
    with pytest.raises(GankitError, match="exactly one of num_classes"):
        ConditionalBatchNorm2d(3, num_classes=2, cond_dim=4)
    with pytest.raises(GankitError, match="exactly one of num_classes"):
        ConditionalBatchNorm2d(3)
    cbn = ConditionalBatchNorm2d(3, num_classes=2)
    with pytest.raises(GankitError, match=r"labels must lie in \[0, 1\]"):
        cbn(torch.randn(2, 3, 2, 2), torch.tensor([0, 2]))
    with pytest.raises(GankitError, match="integer labels"):
        cbn(torch.randn(2, 3, 2, 2), torch.tensor([0.0, 1.0]))
    with pytest.raises(GankitError, match=r"expects \(N, 3, H, W\)"):
        cbn(torch.randn(2, 4, 2, 2), torch.tensor([0, 1]))
    with pytest.raises(GankitError, match=r"shape \(2, 5\)"):
        ConditionalBatchNorm2d(3, cond_dim=5)(torch.randn(2, 3, 2, 2), torch.randn(2, 4))


def test_eps_and_momentum_reach_the_batch_norm_and_only_the_condition_has_parameters():
    torch.manual_seed(4)
    x = torch.randn(5, 2, 3, 3) * 0.2 + 3
    cbn = ConditionalBatchNorm2d(2, cond_dim=1, eps=0.1, momentum=0.5)  # one conditioning dimension is allowed
    assert sorted(name for name, _ in cbn.named_parameters()) == ["bias.weight", "gain.weight"]
    out = cbn(x, torch.zeros(5, 1))
    mean = x.mean(dim=(0, 2, 3))
    var = x.var(dim=(0, 2, 3), unbiased=False)
    # eps = 0.1 is large against var ~ 0.04: the normalised values change a lot with it
    expected = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 0.1)
    torch.testing.assert_close(out, expected)
    # running mean after one step: (1 - momentum) * 0 + momentum * batch mean
    torch.testing.assert_close(cbn.bn.running_mean, 0.5 * mean)


def test_the_one_of_two_error_names_both_options():
    with pytest.raises(
        GankitError,
        match=r"^conditional batch norm needs exactly one of num_classes \(a table per "
        r"class\) or cond_dim \(a linear map of a vector\); got num_classes=0, cond_dim=0$",
    ):
        ConditionalBatchNorm2d(3)
