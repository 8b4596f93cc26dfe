"""The classic Gaussian density models as gankit generators: x = mu_c + A_c u + s_c e, a deterministic function of
a standard normal latent, so that sampling, evaluation and the uses treat a fitted baseline like a trained GAN.

Every baseline of :mod:`gankit.baselines` is a mixture of linear-Gaussian components (Roweis & Ghahramani,
"A unifying review of linear Gaussian models", Neural Computation 1999): component c (chosen with probability
pi_c) is N(mu_c, A_c A_c^T + s_c^2 I). The full Gaussian has one component with A = its Cholesky factor and
s = 0; probabilistic PCA (Tipping & Bishop 1999, Eq. 2: x = W u + mu + e) has A = W (D x k) and s = sigma; a
Gaussian mixture has K components with A_c = the Cholesky factor of Sigma_c.

The latent z ~ N(0, I) of this generator is laid out as [z_0 (only when K > 1), u (m values), e (D values, only
when some s_c > 0)]. The component is c = the first index with Phi(z_0) < pi_1 + ... + pi_c (Phi the standard
normal CDF), so that c ~ Categorical(pi) whenever z_0 ~ N(0, 1); u and e enter linearly. Images are clamped
to [-1, 1], the range of a generator's tanh, as the baselines' own ``sample`` does.

Files: ``generator.safetensors`` in a run directory of ``gankit fit-baseline`` holds the tensors (float32) and a
JSON header (``gankit-generator``) with the kind, sample shape and the baseline it came from. Loading reads tensors
only; no code runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from gankit.errors import GankitError
from gankit.models.base import Generator

GENERATOR_FILE = "generator.safetensors"
HEADER_KEY = "gankit-generator"
FORMAT = "gankit-linear-gaussian-v1"


class LinearGaussianGenerator(Generator):
    """x = mu_c + A_c u + s_c e with c chosen by Phi(z_0) (module text); ``weights`` (K,), ``means`` (K, D),
    ``factors`` (K, D, m), ``noise_std`` (K,), samples of ``out_shape`` (prod = D)."""

    def __init__(
        self,
        weights: torch.Tensor,
        means: torch.Tensor,
        factors: torch.Tensor,
        noise_std: torch.Tensor,
        out_shape: tuple[int, ...],
        source: dict[str, Any] | None = None,
    ) -> None:
        count, dim = means.shape
        if weights.shape != (count,) or factors.ndim != 3 or factors.shape[:2] != (count, dim):
            raise GankitError(
                f"linear-Gaussian generator: weights {tuple(weights.shape)}, means {tuple(means.shape)} and factors "
                f"{tuple(factors.shape)} do not fit (K,), (K, D), (K, D, m)"
            )
        if noise_std.shape != (count,) or math.prod(out_shape) != dim:
            raise GankitError(f"linear-Gaussian generator: noise_std must be ({count},), out_shape hold {dim} values")
        if not bool((weights >= 0).all()) or abs(float(weights.sum()) - 1) > 1e-4:
            raise GankitError("linear-Gaussian generator: the component weights must be >= 0 and sum to 1")
        self.components, self.latent_dim = count, factors.shape[2]
        self.noisy = bool((noise_std > 0).any())
        z_dim = (1 if count > 1 else 0) + self.latent_dim + (dim if self.noisy else 0)
        super().__init__(z_dim, tuple(out_shape), 0)
        # fixed parameters (never trained): the latent searches and samplers find the device through parameters()
        self.weights = nn.Parameter(weights.float().clone(), requires_grad=False)
        self.means = nn.Parameter(means.float().clone(), requires_grad=False)
        self.factors = nn.Parameter(factors.float().clone(), requires_grad=False)
        self.noise_std = nn.Parameter(noise_std.float().clone(), requires_grad=False)
        self.source = dict(source or {})

    def split_latent(self, z: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """(z_0 or None, u, e or None): the component selector, the factor latent and the isotropic noise."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise GankitError(f"this generator takes latents of shape (N, {self.z_dim}); got {tuple(z.shape)}")
        start = 1 if self.components > 1 else 0
        selector = z[:, 0] if start else None
        u = z[:, start : start + self.latent_dim]
        e = z[:, start + self.latent_dim :] if self.noisy else None
        return selector, u, e

    def component(self, selector: torch.Tensor) -> torch.Tensor:
        """c = the first index whose cumulative weight exceeds Phi(z_0), for the (N,) selectors z_0."""
        uniform = 0.5 * (1 + torch.erf(selector.double() / math.sqrt(2)))
        cumulative = torch.cumsum(self.weights.double(), 0)
        return torch.searchsorted(cumulative, uniform, right=True).clamp_max(self.components - 1)

    def linear(self, z: torch.Tensor) -> torch.Tensor:
        """The unclamped (N, D) samples mu_c + A_c u + s_c e."""
        selector, u, e = self.split_latent(z)
        if selector is None:
            x = self.means[0] + u @ self.factors[0].T
            return x + self.noise_std[0] * e if e is not None else x
        c = self.component(selector)
        x = self.means[c] + torch.einsum("ndm,nm->nd", self.factors[c], u)
        return x + self.noise_std[c, None] * e if e is not None else x

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y)
        x = self.linear(z).view(len(z), *self.out_shape)
        return x.clamp(-1, 1) if len(self.out_shape) == 3 else x

    def sefa_weight(self) -> torch.Tensor:
        """The (D, z_dim) matrix of the map z -> x of a one-component model, [A, s I] (for SeFa, whose top
        directions are then the principal axes of the Gaussian); a mixture has one map per component."""
        if self.components > 1:
            raise GankitError("a Gaussian mixture has one linear map per component; SeFa needs a single first layer")
        dim = self.means.shape[1]
        blocks = [self.factors[0]]
        if self.noisy:
            blocks.append(self.noise_std[0] * torch.eye(dim, device=self.means.device))
        return torch.cat(blocks, 1)

    def first_hidden(self, z: torch.Tensor) -> torch.Tensor:
        """The model's only layer: the unclamped samples (N, D), for GANSpace."""
        return self.linear(z)

    def save(self, path: str | Path) -> Path:
        """Write the generator as ``.safetensors`` with its JSON header."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"format": FORMAT, "kind": "linear-gaussian", "shape": list(self.out_shape), "source": self.source}
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(tensors, str(path), metadata={HEADER_KEY: json.dumps(record)})
        return path


def load_linear_gaussian(path: str | Path) -> LinearGaussianGenerator:
    """A :class:`LinearGaussianGenerator` from its file; a missing, damaged or foreign file is a one-line error."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
        record = json.loads(metadata[HEADER_KEY])
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        problem = exc.__class__.__name__
        raise GankitError(f"{path} is not a readable gankit generator file ({problem}); fit it again") from exc
    if record.get("format") != FORMAT:
        raise GankitError(f"{path}: generator format {record.get('format')!r} is not {FORMAT!r}; fit it again")
    try:
        keys = ("weights", "means", "factors", "noise_std")
        return LinearGaussianGenerator(*(tensors[k] for k in keys), tuple(record["shape"]), record.get("source"))
    except KeyError as exc:
        raise GankitError(f"{path}: the generator file lacks {exc}; fit it again") from exc


def find_generator_file(source: str | Path) -> Path | None:
    """The ``generator.safetensors`` of a baseline run directory, or ``source`` itself if it is a ``.safetensors``
    file; None for anything else (a run of ``gankit train``, a checkpoint)."""
    source = Path(source)
    if source.is_dir():
        candidate = source / GENERATOR_FILE
        return candidate if candidate.is_file() and not (source / "checkpoints").is_dir() else None
    return source if source.is_file() and source.suffix == ".safetensors" else None
