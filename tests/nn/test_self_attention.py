import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.nn.self_attention import SelfAttention2d


def explicit_attention(block: SelfAttention2d, x: torch.Tensor) -> torch.Tensor:
    """Zhang et al. 2019, eq. 1-3, one output position at a time (slow, written from the paper)."""
    n, _, h, w = x.shape
    q = F.conv2d(x, block.query.weight)
    k, v = F.conv2d(x, block.key.weight), F.conv2d(x, block.value.weight)
    if block.pool:
        k, v = F.max_pool2d(k, 2), F.max_pool2d(v, 2)
    out = torch.zeros(n, v.shape[1], h * w)
    for b in range(n):
        keys, values = k[b].flatten(1), v[b].flatten(1)  # (c_k, M), (c_v, M)
        for j in range(h * w):
            scores = torch.stack([q[b].flatten(1)[:, j] @ keys[:, i] for i in range(keys.shape[1])])
            weights = torch.exp(scores - scores.max())
            weights = weights / weights.sum()
            out[b, :, j] = sum(weights[i] * values[:, i] for i in range(keys.shape[1]))
    o = F.conv2d(out.view(n, -1, h, w), block.out.weight)
    return x + block.gamma * o


@pytest.mark.parametrize("pool", [True, False])
def test_matches_the_papers_equations_position_by_position(pool):
    torch.manual_seed(0)
    block = SelfAttention2d(16, pool=pool)
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(2, 16, 4, 4)
    y = block(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, explicit_attention(block, x), rtol=1e-4, atol=1e-5)


def test_channel_reductions_and_attention_rows_sum_to_one():
    torch.manual_seed(1)
    block = SelfAttention2d(32)
    assert block.query.out_channels == block.key.out_channels == 4 and block.value.out_channels == 16
    beta = block.attention_map(torch.randn(3, 32, 8, 6))
    assert beta.shape == (3, 48, 12)  # 48 query positions, 12 pooled key positions
    assert (beta >= 0).all()
    torch.testing.assert_close(beta.sum(-1), torch.ones(3, 48))
    unpooled = SelfAttention2d(32, pool=False).attention_map(torch.randn(2, 32, 4, 4))
    assert unpooled.shape == (2, 16, 16)
    torch.testing.assert_close(unpooled.sum(-1), torch.ones(2, 16))


def test_gamma_zero_is_the_identity_and_gamma_is_learned():
    torch.manual_seed(2)
    block = SelfAttention2d(16)
    x = torch.randn(2, 16, 4, 4, requires_grad=True)
    assert block.gamma.item() == 0.0
    y = block(x)
    assert torch.equal(y, x)
    y.square().sum().backward()
    assert block.gamma.grad is not None and block.gamma.grad.abs() > 0


def test_bad_input():
    with pytest.raises(GankitError, match="leaves no channels"):
        SelfAttention2d(4)
    with pytest.raises(GankitError, match="even height and width"):
        SelfAttention2d(16)(torch.randn(1, 16, 5, 4))
    with pytest.raises(GankitError, match=r"expects \(N, 16, H, W\)"):
        SelfAttention2d(16)(torch.randn(1, 8, 4, 4))


def test_smallest_valid_sizes_and_the_parameters():
    block = SelfAttention2d(1, key_reduction=1, value_reduction=1)  # one channel each is enough
    assert block.key_channels == block.value_channels == 1
    x = torch.randn(1, 1, 2, 2)
    assert torch.equal(block(x), x)
    # 1x1 convolutions without biases (a key bias would only shift every score of a query alike), and gamma
    names = sorted(name for name, _ in SelfAttention2d(16).named_parameters())
    assert names == ["gamma", "key.weight", "out.weight", "query.weight", "value.weight"]


@pytest.mark.parametrize(("keys", "values"), [(0, 2), (2, 0), (-1, 2), (2, -1)])
def test_reductions_below_one_are_a_one_line_error(keys, values):
    with pytest.raises(GankitError, match=f"reductions {keys} \\(keys\\) and {values} \\(values\\) leaves no channels"):
        SelfAttention2d(16, key_reduction=keys, value_reduction=values)


def test_error_messages_in_full():
    with pytest.raises(
        GankitError,
        match=r"^self-attention on 4 channels with reductions 8 \(keys\) and 2 \(values\) "
        r"leaves no channels; use at least 8 channels at the attention resolution \(raise the width\)$",
    ):
        SelfAttention2d(4)
    with pytest.raises(
        GankitError,
        match=r"^self-attention with 2x2 pooling needs even height and width, got \(5, 4\); "
        r"attend at another resolution or pass pool=False$",
    ):
        SelfAttention2d(16)(torch.randn(1, 16, 5, 4))
