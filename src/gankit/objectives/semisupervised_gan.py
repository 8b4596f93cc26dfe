"""The K+1-class GAN with feature matching (Salimans et al., NeurIPS 2016, "Improved techniques for training
GANs", Sec. 3.1 and 5) as a training objective of gankit's one loop (``objective.loss=ssgan``).

Phases: ``D`` (``n_critic`` repeats; each a fresh real batch and latents) and ``G`` (fresh latents, the D phase's
real batch). D's loss is L_supervised + w L_unsupervised (Sec. 5): the K-class cross-entropy on a mini-batch of
the labelled examples plus -E log D(x) - E log(1 - D(G(z))) on the real (unlabelled) batch and the generated one,
with D(x) = Z / (Z + 1), Z = sum_k exp l_k(x) (:mod:`gankit.objectives.semisupervised`). G's loss is feature
matching, ||E f(x) - E f(G(z))||^2 over D's last hidden layer f (Sec. 3.1), divided by the number of features
(the mean over features, as the authors' released code takes it): the same Adam steps as the paper's sum, on a
scale that the loop's divergence monitor does not mistake for divergence.

Labelled examples. The objective holds the fixed labelled set (``semisupervised.labels_per_class`` images of each
class, chosen from the training data with ``semisupervised.label_seed`` by :func:`gankit.data.labelled_subset`,
the same images the supervised-only baseline sees) and draws its labelled mini-batch itself: row i of a D step's
global batch takes labelled example floor(u_i * n) with u_i from the step's objective stream (``ctx.random``,
named seed ``objective/<iteration>``), i.e. uniformly with replacement, one per row, so the draw is the same
whatever the accumulation rounds or processes and a resumed run is bit-identical. (Salimans et al.'s code cycles
through seeded permutations of the labelled set instead.) The unlabelled batch is the loop's real batch, drawn
from the whole training set (labelled images included, as in the paper).

Initialisation. Before D's first step the objective runs D's data-dependent initialisation (Salimans & Kingma
2016) on that step's real batch when D has ``initialize`` (the paper's recipe); the flag is in the checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gankit.config import Config, DataConfig
from gankit.errors import GankitError
from gankit.imaging import from_uint8
from gankit.objectives.base import Batch, Objective, PhaseSpec, StepContext
from gankit.objectives.semisupervised import (
    feature_matching_loss,
    predict,
    supervised_loss,
    unsupervised_loss,
)


def load_labelled_set(data: DataConfig, per_class: int, seed: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The labelled examples of the training data of ``data``: uint8 images and their int64 labels, ``per_class``
    of each of ``classes`` classes chosen with ``seed``; a data set without labels, or with another number of
    classes, is a one-line error."""
    from gankit.data import load_image_dataset
    from gankit.data.labelled import labelled_subset

    dataset, found = load_image_dataset(data)
    images, labels = getattr(dataset, "images", None), getattr(dataset, "labels", None)
    if images is None or labels is None:
        raise GankitError(
            f"objective.loss=ssgan needs labelled training data; data set '{data.name}' has none "
            "(use mnist, an .npz with y, ...)"
        )
    if found != classes:
        raise GankitError(
            f"the data have {found} classes but semisupervised.classes={classes}; set semisupervised.classes={found}"
        )
    chosen = labelled_subset(labels, per_class, seed)
    return images[chosen], labels[chosen]


class SemiSupervisedGANObjective(Objective):
    """Salimans et al.'s K+1-class discriminator objective with feature matching for G (module text).

    ``labelled`` (uint8 or [-1, 1] float images, int64 labels) overrides the set chosen from ``config.data``."""

    name = "ssgan"

    def __init__(self, config: Config, labelled: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        section = config.semisupervised
        if labelled is None:
            labelled = load_labelled_set(config.data, section.labels_per_class, section.label_seed, section.classes)
        images, labels = labelled
        if len(images) != len(labels) or len(images) == 0:
            raise GankitError(f"the labelled set needs one label per image; got {len(images)} and {len(labels)}")
        self.images = from_uint8(images) if images.dtype == torch.uint8 else images.float()
        self.labels = labels.long()
        self.unsupervised_weight = section.unsupervised_weight
        self.initialized = False

    def phases(self, n_critic: int) -> list[PhaseSpec]:
        """D (``n_critic`` repeats), then G on fresh latents with the last real batch."""
        return [PhaseSpec("D", "D", repeats=n_critic), PhaseSpec("G", "G", draws="latents")]

    def labelled_batch(self, ctx: StepContext, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """One labelled example per row of this round, drawn uniformly with replacement from the step's stream."""
        u = ctx.random.rand(1)[:, 0].cpu()
        index = (u * len(self.labels)).long().clamp_max(len(self.labels) - 1)
        return self.images[index].to(device), self.labels[index].to(device)

    def loss(
        self, phase: str, G: nn.Module, D: nn.Module | None, batch: Batch, ctx: StepContext
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D: L_supervised + w L_unsupervised; G: feature matching (module text)."""
        if D is None or not callable(getattr(D, "features", None)):
            raise GankitError("objective.loss=ssgan needs a discriminator with features(x): use model.arch=ssmlp")
        if phase == "D":
            if not self.initialized and callable(getattr(D, "initialize", None)):
                D.initialize(batch.real)
            self.initialized = True
            with torch.no_grad(), ctx.autocast():
                fake = G(batch.z, batch.y_fake).float()
            x_l, y_l = self.labelled_batch(ctx, batch.real.device)
            with ctx.autocast():
                labelled_logits, real_logits, fake_logits = (D(x).float() for x in (x_l, batch.real, fake))
            supervised = supervised_loss(labelled_logits, y_l)
            unsupervised = unsupervised_loss(real_logits, fake_logits)
            loss = supervised + self.unsupervised_weight * unsupervised
            stats = {
                "loss_d": loss,
                "loss_supervised": supervised,
                "loss_unsupervised": unsupervised,
                "labelled_error": (predict(labelled_logits) != y_l).float().mean(),
                "d_real": torch.logsumexp(real_logits, 1).mean(),
                "d_fake": torch.logsumexp(fake_logits, 1).mean(),
            }
            return loss, stats
        if phase == "G":
            with ctx.autocast():
                fake = G(batch.z, batch.y_fake)
                with torch.no_grad():
                    real_features = D.features(batch.real).float()
                fake_features = D.features(fake).float()
            loss = feature_matching_loss(real_features, fake_features) / real_features[0].numel()
            return loss, {"loss_g": loss}
        raise GankitError(f"the ssgan objective has no phase '{phase}'")

    def state_dict(self) -> dict[str, Any]:
        """Whether D's data-dependent initialisation has run."""
        return {"initialized": self.initialized}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.initialized = bool(state.get("initialized", True))
