"""The training step as phases: resume exactness for every architecture x loss x regulariser, gradient
accumulation, lazy regularisation, labels end to end, statistics averaged over repeats."""

import pytest
import torch
from PIL import Image

from gankit.config import resolve
from gankit.objectives import Batch
from gankit.training.loop import Trainer
from gankit.training.phases import RunningStats, build_optimizer

ARCHS = {
    "mlp": ("ring-ns", ["model.width=16", "train.batch_size=16"]),
    "dcgan": ("digits", ["data.resolution=8", "model.width=8", "model.z_dim=8", "train.batch_size=16"]),
    "resnet": (
        "digits",
        ["data.resolution=32", "model.arch=resnet", "model.width=8", "model.z_dim=8", "train.batch_size=8"],
    ),
}
QUIET = ["log.progress=false", "log.tensorboard=false", "eval.every=0", "train.steps=3", "ema.start=1"]
REGULARISERS = {
    "gp": ["objective.gp=1.0"],
    "r1-lazy": ["objective.r1=1.0", "objective.reg_every=2"],
    "r2": ["objective.r2=1.0"],
    "sn": ["model.spectral_norm=true"],
    "noise": ["objective.noise_std=0.1", "objective.noise_anneal=10"],
}
MMD = {
    "gmmn": ["objective.loss=gmmn", "mmd.kernel=gaussian"],
    "mmdgan-gp": ["objective.loss=mmdgan", "model.d_out=4", "objective.gp=1.0"],
    "smmd-sn": ["objective.loss=smmd", "model.d_out=4", "model.spectral_norm=true"],
}
LOSSES = ("minimax", "ns", "hinge", "wasserstein")


def _case(a: int, arch: str, i: int, loss: str, r: int, reg: str):
    """Every architecture, loss and regulariser is in the quick suite at least once (a Latin-square cover:
    regulariser (a + i) mod 5); the full 60-run product is marked slow."""
    quick = r == (a + i) % len(REGULARISERS)
    marks = () if quick else (pytest.mark.slow,)
    return pytest.param(arch, [f"objective.loss={loss}", *REGULARISERS[reg]], id=f"{arch}-{loss}-{reg}", marks=marks)


STYLEGAN = [
    "model.arch=stylegan2",
    "model.z_dim=16",
    "stylegan.w_dim=16",
    "stylegan.mapping_layers=2",
    "stylegan.channel_base=256",
    "stylegan.channel_max=16",
]
BIGGAN = ["model.arch=biggan", "data.conditional=true", "model.z_dim=16", "biggan.shared_dim=8", "model.d_width=4"]
FAMILIES = {
    "stylegan2-r1-pl-mixing": [*STYLEGAN, "objective.r1=0.01", "objective.reg_every=2", "stylegan.pl_weight=2"],
    "biggan-hinge-sn-ortho": [*BIGGAN, "objective.loss=hinge", "model.spectral_norm=true", "objective.ortho=0.0001"],
}
CASES = [
    _case(a, arch, i, loss, r, reg)
    for a, arch in enumerate(ARCHS)
    for i, loss in enumerate(LOSSES)
    for r, reg in enumerate(REGULARISERS)
] + [pytest.param(arch, extra, id=f"{arch}-{name}") for arch in ARCHS for name, extra in MMD.items()]
CASES += [pytest.param("resnet", extra, id=name) for name, extra in FAMILIES.items()]
CASES += [pytest.param("dcgan", ["data.conditional=true", "model.d_cond=auxiliary", "objective.r1=1.0"], id="acgan-r1")]


def config_for(arch: str, extra: list[str]):
    preset, overrides = ARCHS[arch]
    return resolve(preset, [*overrides, *QUIET, *extra])


def assert_same_training_state(a: Trainer, b: Trainer) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    for key in ("G", "D", "G_ema"):
        for name, tensor in (sa[key] or {}).items():
            assert torch.equal(tensor, sb[key][name]), f"{key}.{name} differs"
    for player, optimizer in sa["optimizers"].items():
        for pid, slots in optimizer["state"].items():
            for slot, value in slots.items():
                assert torch.equal(
                    torch.as_tensor(value), torch.as_tensor(sb["optimizers"][player]["state"][pid][slot])
                )
    assert sa["stream"] == sb["stream"] and sa["schedulers"] == sb["schedulers"]


@pytest.mark.parametrize(("arch", "extra"), CASES)
def test_two_iterations_then_resume_match_a_straight_run_bit_for_bit(tmp_path, arch, extra):
    config = config_for(arch, extra)
    straight = Trainer(config, tmp_path / "straight")
    for _ in range(3):
        straight.train_step()
    straight_rng = torch.get_rng_state()

    first = Trainer(config, tmp_path / "parts")
    first.train_step()
    first.save_checkpoint()
    torch.manual_seed(12345)  # whatever happens to the global generator between the parts must not matter
    resumed = Trainer.resume(tmp_path / "parts")
    assert resumed.step == 1
    resumed.train_step()
    resumed.train_step()
    assert torch.equal(torch.get_rng_state(), straight_rng)
    assert_same_training_state(straight, resumed)


def ring(*extra):
    return resolve("ring-ns", ["model.width=16", "train.batch_size=32", *QUIET, *extra])


def flat_parameters(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


@pytest.mark.parametrize("extra", [[], ["objective.gp=1.0", "objective.noise_std=0.2"]], ids=["ns", "ns-gp-noise"])
def test_four_rounds_of_eight_equal_one_round_of_thirty_two(tmp_path, extra):
    one = Trainer(ring(*extra), tmp_path / "one")
    four = Trainer(ring("train.accumulate=4", *extra), tmp_path / "four")
    rounds = []
    original = four.objective.accumulate

    def counting(phase, G, D, batch, ctx):
        rounds.append((phase, len(batch), ctx.gain))
        return original(phase, G, D, batch, ctx)

    four.objective.accumulate = counting
    for _ in range(2):
        s1, s4 = one.train_step(), four.train_step()
    for a, b in ((one.G, four.G), (one.D, four.D)):
        torch.testing.assert_close(flat_parameters(b), flat_parameters(a), rtol=1e-6, atol=1e-7)
    assert s4["loss_d"].item() == pytest.approx(s1["loss_d"].item(), rel=1e-5)
    # the accumulation really ran in rounds: each phase of each iteration saw four batches of 8 at gain 1/4
    assert rounds == [(phase, 8, 0.25) for _ in range(2) for phase in ("D", "G") for _ in range(4)]


def test_stylegan_mixing_is_one_decision_per_step_however_the_batch_is_split(tmp_path):
    # One crossover and mix decision per optimizer step and the second latent drawn per sample: four rounds of
    # 4 see the draws one round of 16 sees. (Parameters are not compared: Adam's first step turns the float
    # noise of gradients near zero into whole steps of lr.)
    def recorded(*extra):
        config = resolve("digits", [*STYLEGAN, "data.resolution=8", "train.batch_size=16", *QUIET, *extra])
        trainer = Trainer(config, tmp_path / str(len(extra)))
        seen, original = [], trainer.G.mapping_with_mixing

        def recording(z, y=None, mixing_prob=0.9, update_w_avg=False, generator=None, draws=None):
            seen.append((draws.crossover_u, draws.mix_u, draws.z2.clone()))
            return original(z, y, mixing_prob, update_w_avg, generator, draws)

        trainer.G.mapping_with_mixing = recording
        for _ in range(2):
            trainer.train_step()
        return seen

    one, four = recorded(), recorded("train.accumulate=4")
    assert len(four) == 4 * len(one) == 4 * 2 * 2  # (D, G) phases x 2 iterations, each in 4 rounds
    for i, (crossover_u, mix_u, z2) in enumerate(one):
        rounds = four[4 * i : 4 * i + 4]
        assert all(r[0] == crossover_u and r[1] == mix_u for r in rounds)
        assert torch.equal(torch.cat([r[2] for r in rounds]), z2)
    assert len({d[0] for d in one}) == len(one)  # a new decision in every phase


def test_lazy_r1_is_its_own_phase_scaled_by_the_interval_with_scaled_adam(tmp_path):
    gamma, k = 10.0, 4
    trainer = Trainer(ring(f"objective.r1={gamma}", f"objective.reg_every={k}"), tmp_path)
    c = k / (k + 1)
    group = trainer.opt_d.param_groups[0]
    assert group["lr"] == pytest.approx(trainer.config.optim.lr_d * c, rel=1e-12)
    assert group["betas"] == pytest.approx((0.5**c, 0.999**c), rel=1e-12)
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(trainer.config.optim.lr_g, rel=1e-12)

    calls = []
    original = trainer.objective.accumulate

    def recording(phase, *args):
        calls.append((trainer.step, phase))
        return original(phase, *args)

    trainer.objective.accumulate = recording
    for _ in range(9):
        trainer.train_step()
    assert [step for step, phase in calls if phase == "D_reg"] == [0, 4, 8]

    # the gradient of the D_reg phase is that of (gamma / 2) * k * E||grad D(x)||^2
    phase = next(p for p in trainer.phases if p.spec.name == "D_reg")
    trainer.streams.start(trainer.step)
    batch = trainer._batch("all", None)
    phase.optimizer.step = lambda: None
    trainer._optimizer_step(phase, batch, RunningStats(), False)
    params = list(trainer.D.parameters())
    got = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in params]
    x = batch.real.detach().requires_grad_(True)
    (grad_x,) = torch.autograd.grad(trainer.D(x).sum(), x, create_graph=True)
    penalty = 0.5 * gamma * k * grad_x.pow(2).sum(1).mean()
    expected = torch.autograd.grad(penalty, params, allow_unused=True, materialize_grads=True)
    assert max(e.abs().max().item() for e in expected) > 0
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-8)


def test_loss_statistics_are_means_over_the_critic_steps(tmp_path):
    trainer = Trainer(ring("train.n_critic=3"), tmp_path)
    seen = []
    original = trainer.objective.accumulate

    def recording(phase, *args):
        stats = original(phase, *args)
        if phase == "D":
            seen.append(stats["loss_d"].item())
        return stats

    trainer.objective.accumulate = recording
    stats = trainer.train_step()
    assert len(seen) == 3 and len(set(seen)) == 3
    assert stats["loss_d"].item() == pytest.approx(sum(seen) / 3, rel=1e-6)


def conditional_digits(*extra):
    return resolve(
        "digits",
        [
            "data.conditional=true",
            "data.resolution=8",
            "model.width=8",
            "model.z_dim=8",
            "train.batch_size=20",
            "log.n_samples=30",
            *QUIET,
            *extra,
        ],
    )


def test_conditional_run_passes_labels_to_both_networks_and_writes_a_class_sorted_grid(tmp_path):
    trainer = Trainer(conditional_digits(), tmp_path)
    assert trainer.num_classes == 10 and trainer.G.num_classes == 10 and trainer.D.embed is not None
    seen = {"G": [], "D": []}
    for name, module in (("G", trainer.G), ("D", trainer.D)):
        module.register_forward_pre_hook(lambda m, args, key=name: seen[key].append(args[1]))
    trainer.train_step()
    assert seen["G"] and all(y is not None and y.dtype == torch.long for y in seen["G"])
    assert seen["D"] and all(y is not None for y in seen["D"])
    # fake labels follow the data's label distribution, not a constant
    assert len(torch.unique(torch.cat(seen["G"]))) > 3
    assert torch.equal(trainer.fixed_y, torch.arange(10).repeat_interleave(3))
    path = trainer.save_samples()
    width, height = Image.open(path).size
    factor = -(-512 // (3 * 8))
    assert (width, height) == (3 * (8 * factor + 2) + 2, 10 * (8 * factor + 2) + 2)


def test_conditional_needs_labels_and_the_checkpoint_keeps_the_class_count(tmp_path):
    from gankit.errors import GankitError

    trainer = Trainer(conditional_digits(), tmp_path)
    trainer.train_step()
    trainer.save_checkpoint()
    with pytest.raises(GankitError, match="trained with 10 classes, this run has 0"):
        Trainer.resume(tmp_path, ["data.conditional=false"])
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.new("L", (8, 8), color=40 * i).save(folder / f"{i}.png")
    unlabelled = ["data.name=folder", f"data.path={folder}", "data.conditional=true", "train.batch_size=2"]
    with pytest.raises(GankitError, match="data.conditional=true needs labels, and data set 'folder' has none"):
        Trainer(resolve("digits", unlabelled), tmp_path / "run")


def test_evaluate_and_save_samples_work_outside_fit(tmp_path):
    trainer = Trainer(
        resolve("digits", ["data.resolution=8", "model.width=8", *QUIET, "eval.features=pixels", "eval.n=200"]),
        tmp_path,
    )
    trainer.train_step()
    path = trainer.save_samples()
    assert path.is_file()
    result = trainer.evaluate()
    assert result["n_fake"] == 200 and result["fid"] > 0
    assert (tmp_path / "eval.jsonl").is_file()


def test_batch_split_keeps_rows_and_offsets():
    batch = Batch(torch.arange(8.0)[:, None], torch.arange(8), torch.arange(8.0)[:, None] + 10, None, offset=8)
    parts = batch.split(4)
    assert [p.offset for p in parts] == [8, 10, 12, 14]
    assert torch.equal(torch.cat([p.real for p in parts]), batch.real) and parts[1].y_fake is None


def test_unknown_optimizer_is_refused():
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="unknown optim.name 'sgd'; valid optimizers: adam, rmsprop"):
        build_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], 0.1, (0.5, 0.9))


def test_generate_refuses_labels_for_an_unconditional_generator():
    from gankit.errors import GankitError
    from gankit.sampling import generate

    trainer = Trainer(resolve("digits", ["data.resolution=8", "model.width=8", *QUIET]), "unused")
    with pytest.raises(GankitError, match="labels were given for an unconditional generator"):
        generate(trainer.G, 4, labels=torch.zeros(4, dtype=torch.long))


def test_images_per_second_counts_the_real_batches_an_iteration_draws():
    """images_per_s counts fresh real batches: a lazy R1 phase reuses D's batch and G draws latents only, so
    StyleGAN2's phases (D, D_reg every 16, G, G_reg every 4) draw one batch per iteration; n_critic D steps draw
    n_critic batches; a generator-only objective (GMMN) draws one for G."""
    from gankit.objectives import build_objective
    from gankit.objectives.base import PhaseSpec
    from gankit.training.phases import real_images_per_iteration

    stylegan = resolve("mnist-stylegan", QUIET)
    specs = build_objective(stylegan).phases(stylegan.train.n_critic)
    assert [s.name for s in specs] == ["D", "D_reg", "G", "G_reg"]
    assert real_images_per_iteration(specs, 32) == 32
    sngan = resolve("cifar10-sngan", QUIET)
    assert real_images_per_iteration(build_objective(sngan).phases(sngan.train.n_critic), 64) == 5 * 64
    assert real_images_per_iteration([PhaseSpec("G", "G")], 50) == 50
    assert real_images_per_iteration([PhaseSpec("D", "D", interval=4)], 8) == 2
