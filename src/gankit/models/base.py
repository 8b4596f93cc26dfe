"""What every generator and discriminator in gankit shares: latent sampling and class conditioning.

Labels are an optional input everywhere (``forward(z, y=None)``, ``forward(x, y=None)``) so that
conditional models plug into the same loop; an unconditional model given labels, or a conditional one
given none, is an error rather than a silent guess. Two conditioning schemes live here because every
architecture can use them:

- the generator's input is ``[z, onehot(y)]`` (Mirza & Osindero 2014, "Conditional GANs": "just add a
  class label as input to G and D");
- the discriminator either sees the label as extra constant input planes (``conditioning="concat"``,
  Mirza & Osindero 2014) or adds the projection term ``<embed(y), phi(x)>`` to its output
  (``conditioning="projection"``, Miyato & Koyama, ICLR 2018, eq. 3), where ``phi(x)`` is the
  penultimate feature vector; or it does not see the label at all and classifies instead: an auxiliary
  classifier ``classifier(phi(x))`` gives K class logits beside the adversarial logit
  (``conditioning="auxiliary"``, AC-GAN, Odena, Olah & Shlens, ICML 2017, Sec. 3), and the objective adds
  the log-likelihood of the correct class (:mod:`gankit.objectives.gan`). Such a discriminator returns
  (N, 1 + K): column 0 is the adversarial logit (:func:`adversarial_logits`), the rest the class logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.nn.truncation import truncated_normal

D_CONDITIONING = ("projection", "concat", "auxiliary")


def adversarial_logits(output: torch.Tensor) -> torch.Tensor:
    """The real-vs-fake logits (N,) of a discriminator's output: the output itself, or column 0 of an
    auxiliary-classifier discriminator's (N, 1 + K) output (AC-GAN, Odena et al. 2017)."""
    return output if output.ndim == 1 else output[:, 0]


def class_logits(output: torch.Tensor) -> torch.Tensor:
    """The K class logits (N, K) of an auxiliary-classifier discriminator's (N, 1 + K) output (AC-GAN)."""
    if output.ndim != 2 or output.shape[1] < 2:
        raise GankitError(
            f"this discriminator gives no class logits (output shape {tuple(output.shape)}); AC-GAN needs "
            "model.d_cond=auxiliary"
        )
    return output[:, 1:]


class LabelledModule(nn.Module):
    """A module whose forward takes optional class labels; ``num_classes == 0`` means unconditional."""

    def __init__(self, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes

    def check_labels(self, y: torch.Tensor | None) -> None:
        """Raise if labels are given to an unconditional model, missing for a conditional one, or out of range."""
        if self.num_classes == 0 and y is not None:
            raise GankitError(f"{type(self).__name__} is unconditional; call it without labels")
        if self.num_classes > 0:
            if y is None:
                raise GankitError(f"{type(self).__name__} is conditional on {self.num_classes} classes; pass labels y")
            if y.dtype not in (torch.int64, torch.int32) or y.ndim != 1:
                raise GankitError(f"labels must be a 1-D integer tensor, got {y.dtype} of shape {tuple(y.shape)}")


class Generator(LabelledModule):
    """Base class: maps latent codes ``z`` (N, z_dim) and optional labels ``y`` to samples.

    A conditional subclass sizes its first layer with :attr:`input_dim` and feeds it :meth:`condition`."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(num_classes)
        self.z_dim = z_dim
        self.out_shape = tuple(out_shape)

    @property
    def input_dim(self) -> int:
        """Width of the first layer's input: z_dim, plus the one-hot label of a conditional model."""
        return self.z_dim + self.num_classes

    def condition(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """``z``, or ``[z, onehot(y)]`` for a conditional model (Mirza & Osindero 2014)."""
        self.check_labels(y)
        if self.num_classes == 0:
            return z
        return torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None, device=None, truncation: float | None = None
    ) -> torch.Tensor:
        """Draw ``n`` latent codes from the standard normal prior N(0, I), or from the normal truncated at
        ``truncation`` (values beyond it redrawn: BigGAN's truncation trick, Brock et al. 2019, Sec. 3.1)."""
        where = generator.device if generator else None
        if truncation is None:
            z = torch.randn(n, self.z_dim, generator=generator, device=where)
        else:
            z = truncated_normal((n, self.z_dim), truncation, generator)
        return z.to(device) if device is not None else z


class Discriminator(LabelledModule):
    """Base class: maps samples ``x`` and optional labels ``y`` to one real-valued logit per sample, or,
    with ``out_features`` > 1, to a feature vector per sample (the critic of an MMD GAN)."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        num_classes: int = 0,
        out_features: int = 1,
        conditioning: str = "projection",
    ) -> None:
        super().__init__(num_classes)
        if conditioning not in D_CONDITIONING:
            raise GankitError(f"unknown model.d_cond '{conditioning}'; valid: {', '.join(D_CONDITIONING)}")
        if num_classes and conditioning in ("projection", "auxiliary") and out_features != 1:
            raise GankitError(
                f"the {conditioning} discriminator has one adversarial output; use model.d_cond=concat for MMD critics"
            )
        self.in_shape = tuple(in_shape)
        self.out_features = out_features
        self.conditioning = conditioning if num_classes else "none"
        self.embed: nn.Linear | None = None
        self.classifier: nn.Linear | None = None

    @property
    def input_channels(self) -> int:
        """Channels (or vector width) of the first layer: the data's, plus one per class with concat conditioning."""
        return self.in_shape[0] + (self.num_classes if self.conditioning == "concat" else 0)

    def condition_input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """``x``, or ``x`` with the one-hot label appended as constant planes (images) or entries (vectors)."""
        self.check_labels(y)
        if self.conditioning != "concat":
            return x
        onehot = F.one_hot(y, self.num_classes).to(x.dtype)
        if x.ndim == 2:
            return torch.cat([x, onehot], dim=1)
        planes = onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return torch.cat([x, planes], dim=1)

    def init_projection(self, feature_dim: int) -> None:
        """Create the label's layer for ``feature_dim``-d penultimate features: the class embedding of the
        projection discriminator (a bias-free linear map of the one-hot label, so that spectral normalisation
        applies to it), or the auxiliary classifier of AC-GAN (a linear map to K class logits)."""
        if self.conditioning == "projection":
            self.embed = nn.Linear(self.num_classes, feature_dim, bias=False)
            nn.init.xavier_uniform_(self.embed.weight)
        elif self.conditioning == "auxiliary":
            self.classifier = nn.Linear(feature_dim, self.num_classes)

    def class_embedding(self, y: torch.Tensor) -> torch.Tensor:
        """embed(y) (N, C): column y of the projection layer's (spectrally normalised, if so) weight."""
        return self.embed.weight.T[y]

    def output(
        self, h: torch.Tensor, features: torch.Tensor | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(N, out_features) -> (N,) logits when there is one output, else the (N, k) features; a projection
        discriminator adds ``<embed(y), features>`` (Miyato & Koyama 2018, eq. 3); an auxiliary-classifier
        discriminator returns (N, 1 + K): the logit, then ``classifier(features)`` (Odena et al. 2017)."""
        h = h.flatten(1)
        if features is not None and self.embed is not None:
            h = h + (self.class_embedding(y) * features.flatten(1)).sum(1, keepdim=True)
        if features is not None and self.classifier is not None:
            return torch.cat([h, self.classifier(features.flatten(1))], dim=1)
        return h.squeeze(1) if self.out_features == 1 else h


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (what papers report as the model's size)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
