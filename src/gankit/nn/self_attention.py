"""Self-attention block of SAGAN (Zhang, Goodfellow, Metaxas & Odena, ICML 2019, Sec. 3), as BigGAN uses it.

For a feature map x with N = H * W positions (Zhang et al., eq. 1-3):

    f(x) = W_f x,  g(x) = W_g x,  h(x) = W_h x               (1x1 convolutions)
    beta_{j,i} = softmax_i( f(x_i)^T g(x_j) )                 (how much position j attends to i)
    o_j = W_v ( sum_i beta_{j,i} h(x_i) )
    y = gamma * o + x,  gamma initialised to 0.

Channel reductions follow the released SAGAN / BigGAN code (Brock et al., ICLR 2019; BigGAN-PyTorch's
``layers.Attention``): queries and keys have C/8 channels, values C/2, and W_v maps C/2 back to C;
none of the four convolutions has a bias. With ``pool=True`` (BigGAN's choice) keys and values are
max-pooled 2x2 first, so each query attends to N/4 positions and the cost drops four-fold. The
convolutions are ``nn.Conv2d`` so that spectral norm applies to them as in both papers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError


class SelfAttention2d(nn.Module):
    """SAGAN self-attention on (N, C, H, W) feature maps; the identity at initialisation (gamma = 0).

    Args:
        channels: C.
        key_reduction: queries/keys get C // key_reduction channels (8 in SAGAN and BigGAN).
        value_reduction: values get C // value_reduction channels (2 in BigGAN; the SAGAN paper's eq. uses C).
        pool: max-pool keys and values 2x2 (BigGAN); H and W must then be even.
    """

    def __init__(self, channels: int, key_reduction: int = 8, value_reduction: int = 2, pool: bool = True) -> None:
        super().__init__()
        # max(., 1): a zero reduction reaches the one-line error below, not a ZeroDivisionError
        self.key_channels = channels // max(key_reduction, 1)
        self.value_channels = channels // max(value_reduction, 1)
        if key_reduction < 1 or value_reduction < 1 or self.key_channels < 1 or self.value_channels < 1:
            raise GankitError(
                f"self-attention on {channels} channels with reductions {key_reduction} (keys) and "
                f"{value_reduction} (values) leaves no channels; use at least {max(key_reduction, value_reduction)} "
                "channels at the attention resolution (raise the width)"
            )
        self.channels, self.pool = channels, pool
        self.query = nn.Conv2d(channels, self.key_channels, 1, bias=False)
        self.key = nn.Conv2d(channels, self.key_channels, 1, bias=False)
        self.value = nn.Conv2d(channels, self.value_channels, 1, bias=False)
        self.out = nn.Conv2d(self.value_channels, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise GankitError(f"self-attention expects (N, {self.channels}, H, W), got {tuple(x.shape)}")
        if self.pool and (x.shape[2] % 2 or x.shape[3] % 2):
            raise GankitError(
                f"self-attention with 2x2 pooling needs even height and width, got {tuple(x.shape[2:])}; "
                "attend at another resolution or pass pool=False"
            )

    def _attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The attention map beta (N, H*W, M) and the values (N, C_v, M)."""
        self._check(x)
        queries, keys, values = self.query(x).flatten(2), self.key(x), self.value(x)
        if self.pool:
            keys, values = F.max_pool2d(keys, 2), F.max_pool2d(values, 2)
        beta = torch.softmax(queries.transpose(1, 2) @ keys.flatten(2), dim=-1)
        return beta, values.flatten(2)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """beta (N, H*W, M): row j is the softmax over the M key positions (M = H*W/4 when pooling)."""
        return self._attention(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + gamma * W_v (values weighted by the attention map), of the same shape as x."""
        beta, values = self._attention(x)
        attended = (values @ beta.transpose(1, 2)).view(len(x), self.value_channels, *x.shape[2:])
        return x + self.gamma * self.out(attended)
