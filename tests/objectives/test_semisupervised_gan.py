"""The K+1-class GAN objective in the training loop: D's loss against the explicit K+1-class softmax on the
labelled rows it draws, feature matching, labelled draws independent of accumulation, the shared labelled subset,
a few steps through the one training loop, and the config checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.config import DataConfig, resolve
from gankit.data.images import load_digits
from gankit.data.labelled import labelled_subset
from gankit.errors import GankitError
from gankit.models.semisupervised import SemiSupervisedMLPDiscriminator, SemiSupervisedMLPGenerator
from gankit.objectives import build_objective
from gankit.objectives.base import Batch, StepContext, StepRandom
from gankit.objectives.semisupervised_gan import SemiSupervisedGANObjective, load_labelled_set
from gankit.runtime import checkpoint as checkpoint_io
from gankit.training.loop import Trainer

TINY = [
    "data.name=digits",
    "data.resolution=8",
    "train.batch_size=20",
    "train.steps=4",
    "log.every=1",
    "log.sample_every=4",
    "log.ckpt_every=4",
    "log.progress=false",
    "log.tensorboard=false",
    "model.z_dim=8",
]


def setup(seed=0):
    torch.manual_seed(seed)
    config = resolve("mnist-ssgan", TINY)
    images, labels = load_digits(8)
    chosen = labelled_subset(labels, 2, seed=5)
    objective = SemiSupervisedGANObjective(config, (images[chosen], labels[chosen]))
    G = SemiSupervisedMLPGenerator(8, (1, 8, 8), widths=(16, 16))
    D = SemiSupervisedMLPDiscriminator((1, 8, 8), out_features=10, widths=(32, 16))
    real = images[:12].float() / 127.5 - 1
    batch = Batch(real, None, torch.randn(12, 8, generator=torch.Generator().manual_seed(seed)), None)
    return objective, G.eval(), D.eval(), batch, images[chosen], labels[chosen]


def k_plus_one_log_softmax(logits):
    return F.log_softmax(torch.cat([logits, torch.zeros(len(logits), 1)], 1), dim=1)


def test_d_loss_is_the_explicit_k_plus_one_objective_on_the_drawn_labelled_rows():
    objective, G, D, batch, images, labels = setup()
    objective.initialized = True
    loss, stats = objective.loss("D", G, D, batch, StepContext.standalone(12, seed=3))
    u = torch.rand((12, 1), generator=torch.Generator().manual_seed(3))[:, 0]
    index = (u * len(labels)).long()
    x_l, y_l = images[index].float() / 127.5 - 1, labels[index]
    with torch.no_grad():
        labelled = k_plus_one_log_softmax(D(x_l))
        real = k_plus_one_log_softmax(D(batch.real))
        fake = k_plus_one_log_softmax(D(G(batch.z)))
    supervised = -(labelled.gather(1, y_l[:, None])[:, 0] - torch.logsumexp(labelled[:, :-1], 1)).mean()
    unsupervised = -torch.log1p(-real[:, -1].exp()).mean() - fake[:, -1].mean()
    assert float(stats["loss_supervised"].detach()) == pytest.approx(float(supervised), rel=1e-5)
    assert float(stats["loss_unsupervised"].detach()) == pytest.approx(float(unsupervised), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(float(supervised + unsupervised), rel=1e-5)


def test_g_loss_is_feature_matching_and_reaches_g_only_through_its_samples():
    objective, G, D, batch, _, _ = setup()
    loss, _ = objective.loss("G", G, D, batch, StepContext.standalone(12))
    with torch.no_grad():
        expected = ((D.features(batch.real).mean(0) - D.features(G(batch.z)).mean(0)) ** 2).mean()
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-5)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.out.parameters())


def test_labelled_draws_do_not_depend_on_accumulation_rounds():
    objective, *_ = setup()
    whole = StepRandom(torch.Generator().manual_seed(7), 8)
    x_all, y_all = objective.labelled_batch(StepContext(0, 1.0, whole), torch.device("cpu"))
    halves = StepRandom(torch.Generator().manual_seed(7), 8)
    parts = []
    for offset in (0, 4):
        halves.start_round(offset, 4)
        parts.append(objective.labelled_batch(StepContext(0, 0.5, halves), torch.device("cpu")))
    assert torch.equal(torch.cat([p[1] for p in parts]), y_all)
    assert torch.equal(torch.cat([p[0] for p in parts]), x_all)
    # over many draws every labelled example is used about equally often
    counts = torch.bincount(objective.labelled_batch(StepContext.standalone(20000, 1), torch.device("cpu"))[1])
    assert torch.equal(counts > 1500, torch.ones(10, dtype=torch.bool))


def test_the_labelled_set_is_the_supervised_baselines():
    config = resolve("mnist-ssgan", [*TINY, "semisupervised.labels_per_class=3", "semisupervised.label_seed=4"])
    objective = build_objective(config)
    images, labels = load_digits(8)
    chosen = labelled_subset(labels, 3, seed=4)
    assert torch.equal(objective.labels, labels[chosen])
    assert torch.equal(objective.images, images[chosen].float() / 127.5 - 1)


def test_first_d_step_runs_the_data_dependent_initialisation_once():
    objective, G, D, batch, _, _ = setup()
    D.train()
    reference = copy.deepcopy(D)
    torch.manual_seed(5)  # the noise layers draw from torch's global generator, as in the loop
    reference.initialize(batch.real)
    torch.manual_seed(5)
    objective.loss("D", G, D, batch, StepContext.standalone(12))
    assert objective.initialized and objective.state_dict() == {"initialized": True}
    for mine, theirs in zip(D.state_dict().values(), reference.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)
    objective.loss("D", G, D, batch.with_latents(batch.z * 2, None), StepContext.standalone(12, seed=9))
    for mine, theirs in zip(D.state_dict().values(), reference.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)  # not initialised again


def test_a_few_steps_through_the_training_loop(tmp_path):
    trainer = Trainer(resolve("mnist-ssgan", TINY), tmp_path)
    result = trainer.fit()
    state = checkpoint_io.load(result.checkpoint)
    assert state["objective"] == {"initialized": True} and state["config"]["objective"]["loss"] == "ssgan"
    assert np.isfinite(trainer.train_step()["loss_supervised"].item())
    assert trainer.D.head.out_features == 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.arch=dcgan"], "go together"),
        (["objective.loss=ns"], "go together"),
        (["data.conditional=true"], "unconditional"),
        (["objective.gp=1.0"], "objective.gp is set"),
        (["semisupervised.classes=1"], "semisupervised.classes must be"),
    ],
)
def test_config_errors(overrides, message):
    with pytest.raises(GankitError, match=message):
        resolve("mnist-ssgan", [*TINY, *overrides])


def test_data_errors():
    with pytest.raises(GankitError, match="semisupervised.classes=10"):
        build_objective(resolve("mnist-ssgan", [*TINY, "semisupervised.classes=3"]))
    with pytest.raises(GankitError, match="fewer than per_class"):
        build_objective(resolve("mnist-ssgan", [*TINY, "semisupervised.labels_per_class=500"]))
    with pytest.raises(GankitError, match="semisupervised section"):
        resolve("digits", ["semisupervised.label_seed=3"])


def test_phases_state_and_the_d_statistics():
    objective, G, D, batch, _, _ = setup()
    assert [(p.name, p.player, p.repeats, p.draws) for p in objective.phases(3)] == [
        ("D", "D", 3, "all"),
        ("G", "G", 1, "latents"),
    ]
    assert objective.initialized is False
    objective.load_state_dict({"initialized": False})
    assert objective.initialized is False
    objective.load_state_dict({})  # a checkpoint from before the flag: D was initialised long ago
    assert objective.initialized is True
    _, stats = objective.loss("D", G, D, batch, StepContext.standalone(12, seed=3))
    assert set(stats) == {"loss_d", "loss_supervised", "loss_unsupervised", "labelled_error", "d_real", "d_fake"}
    index = (torch.rand((12, 1), generator=torch.Generator().manual_seed(3))[:, 0] * len(objective.labels)).long()
    with torch.no_grad():
        labelled_logits = D(objective.images[index])
        error = (labelled_logits.argmax(1) != objective.labels[index]).float().mean()
        d_real, d_fake = torch.logsumexp(D(batch.real), 1).mean(), torch.logsumexp(D(G(batch.z)), 1).mean()
    assert error.item() != 0.5  # so that the error and its complement differ
    assert stats["labelled_error"].item() == pytest.approx(error.item())
    assert stats["d_real"].item() == pytest.approx(d_real.item(), rel=1e-5)
    assert stats["d_fake"].item() == pytest.approx(d_fake.item(), rel=1e-5)
    assert stats["loss_d"].item() == pytest.approx(
        (stats["loss_supervised"] + stats["loss_unsupervised"]).item(), rel=1e-6
    )


def test_every_labelled_example_is_drawn_and_float_images_are_kept():
    images = torch.linspace(-1, 1, 7 * 4).reshape(7, 1, 2, 2)  # float images in [-1, 1]: used as they are
    original = images.clone()  # from_uint8 of a float32 tensor would divide the caller's tensor itself in place
    objective = SemiSupervisedGANObjective(resolve("mnist-ssgan", TINY), (images, torch.arange(7)))
    assert torch.equal(objective.images, original) and torch.equal(images, original)
    x, y = objective.labelled_batch(StepContext.standalone(5000, 2), torch.device("cpu"))
    assert torch.equal(torch.bincount(y, minlength=7) > 500, torch.ones(7, dtype=torch.bool))
    assert torch.equal(x, images[y])
    one = SemiSupervisedGANObjective(resolve("mnist-ssgan", TINY), (images[:1], torch.tensor([3])))
    assert one.labels.tolist() == [3]


class FeaturesOnly(torch.nn.Module):
    """A K-class discriminator with ``features`` but no data-dependent initialisation."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(64, 6)
        self.head = torch.nn.Linear(6, 10)

    def features(self, x):
        return torch.tanh(self.body(x.flatten(1)))

    def forward(self, x):
        return self.head(self.features(x))


def test_a_discriminator_without_initialize_and_the_one_line_errors():
    objective, G, _, batch, images, labels = setup()
    objective.loss("D", G, FeaturesOnly(), batch, StepContext.standalone(12))
    assert objective.initialized
    message = r"^objective\.loss=ssgan needs a discriminator with features\(x\): use model\.arch=ssmlp$"
    for D in (None, torch.nn.Linear(64, 10)):
        with pytest.raises(GankitError, match=message):
            objective.loss("D", G, D, batch, StepContext.standalone(12))
    with pytest.raises(GankitError, match=r"^the ssgan objective has no phase 'D_reg'$"):
        objective.loss("D_reg", G, FeaturesOnly(), batch, StepContext.standalone(12))
    config = resolve("mnist-ssgan", TINY)
    with pytest.raises(GankitError, match=r"^the labelled set needs one label per image; got 20 and 19$"):
        SemiSupervisedGANObjective(config, (images, labels[:-1]))
    with pytest.raises(GankitError, match=r"^the labelled set needs one label per image; got 0 and 0$"):
        SemiSupervisedGANObjective(config, (images[:0], labels[:0]))


UNLABELLED = (
    r"^objective\.loss=ssgan needs labelled training data; data set '{}' has none "
    r"\(use mnist, an \.npz with y, \.\.\.\)$"
)


def test_a_data_set_without_labels_is_a_one_line_error(tmp_path):
    """An .npz without ``y`` (images, no labels) and an image folder (neither images nor labels as tensors) are
    refused with the message, not with the class-count error or an AttributeError."""
    x = np.random.default_rng(0).integers(0, 256, (6, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "unlabelled.npz", x=x)
    config = DataConfig(name="npz", path=str(tmp_path / "unlabelled.npz"), resolution=8)
    with pytest.raises(GankitError, match=UNLABELLED.format("npz")):
        load_labelled_set(config, 1, 0, 10)
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(x[i]).save(folder / f"{i}.png")
    with pytest.raises(GankitError, match=UNLABELLED.format("folder")):
        load_labelled_set(DataConfig(name="folder", path=str(folder), resolution=8), 1, 0, 10)
    # the same .npz with labels is accepted: one image of each of the 3 classes
    np.savez(tmp_path / "labelled.npz", x=x, y=np.array([0, 1, 2, 0, 1, 2]))
    images, labels = load_labelled_set(
        DataConfig(name="npz", path=str(tmp_path / "labelled.npz"), resolution=8), 1, 0, 3
    )
    assert sorted(labels.tolist()) == [0, 1, 2] and images.dtype == torch.uint8 and images.shape == (3, 1, 8, 8)


def test_the_labelled_rows_are_moved_to_the_requested_device():
    """``labelled_batch(ctx, device)`` puts images and labels on ``device`` (``meta`` here, which a CPU machine has
    too): the same rows as on the CPU, only elsewhere."""
    objective, *_ = setup()
    x, y = objective.labelled_batch(StepContext.standalone(6, seed=4), torch.device("meta"))
    x_cpu, y_cpu = objective.labelled_batch(StepContext.standalone(6, seed=4), torch.device("cpu"))
    assert x.device.type == "meta" and y.device.type == "meta"
    assert x.shape == x_cpu.shape and y.shape == y_cpu.shape and x.dtype == x_cpu.dtype and y.dtype == y_cpu.dtype
