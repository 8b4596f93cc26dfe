"""The StyleGAN objective's random draws: one mixing decision per step, second latents per sample of the global
batch, so that every process and accumulation round sees the rows a single process would."""

import torch

from gankit.config import ObjectiveConfig, StyleGANConfig
from gankit.models.stylegan import StyleGAN2Generator
from gankit.objectives import Batch, StepContext, StyleGANObjective
from gankit.objectives.base import StepRandom


def _recording_generator() -> tuple[StyleGAN2Generator, list]:
    """A small style generator and the list into which it records the mixing draws of each mapping."""
    G = StyleGAN2Generator(16, 1, 8, w_dim=16, mapping_layers=2, channel_base=64, channel_max=8)
    seen, original = [], G.mapping_with_mixing

    def recording(z, y=None, mixing_prob=0.9, update_w_avg=False, generator=None, draws=None):
        seen.append(draws)
        return original(z, y, mixing_prob, update_w_avg, generator, draws)

    G.mapping_with_mixing = recording
    return G, seen


def _draws_seen(offset: int, size: int, global_size: int = 16) -> list:
    G, seen = _recording_generator()
    objective = StyleGANObjective(ObjectiveConfig(), StyleGANConfig(mixing_prob=0.9))
    random = StepRandom(torch.Generator().manual_seed(7), global_size)
    random.start_round(offset, size)
    z = torch.randn(global_size, 16, generator=torch.Generator().manual_seed(1))[offset : offset + size]
    batch = Batch(real=torch.zeros(size, 1, 8, 8), y_real=None, z=z, y_fake=None)
    objective._fake(G, batch, StepContext(step=0, gain=1.0, random=random))
    return seen


def test_each_process_draws_its_own_rows_of_the_second_latent_and_shares_the_crossover():
    (whole,) = _draws_seen(0, 16)
    for rank in range(4):  # four processes of 4 rows, each with the step's generator seeded alike
        (part,) = _draws_seen(4 * rank, 4)
        assert (part.crossover_u, part.mix_u) == (whole.crossover_u, whole.mix_u)
        assert torch.equal(part.z2, whole.z2[4 * rank : 4 * rank + 4])


def test_the_path_length_phase_mixes_styles_with_the_first_rows_of_the_rounds_draws():
    """StyleGAN2-ADA's Gpl generates through the mixing run_G, so the path lengths are those of mixed styles."""
    G, seen = _recording_generator()
    objective = StyleGANObjective(ObjectiveConfig(), StyleGANConfig(mixing_prob=1.0, pl_weight=2.0, pl_batch_shrink=2))
    random = StepRandom(torch.Generator().manual_seed(7), 8)
    random.start_round(0, 8)
    batch = Batch(real=torch.zeros(8, 1, 8, 8), y_real=None, z=torch.randn(8, 16), y_fake=None)
    loss, stats = objective.loss("G_reg", G, None, batch, StepContext(step=0, gain=1.0, random=random))
    assert torch.isfinite(loss) and stats["path_length"] > 0
    (draws,) = seen
    expected = StepRandom(torch.Generator().manual_seed(7), 8)
    expected.start_round(0, 8)
    u = expected.shared_rand(2)
    assert (draws.crossover_u, draws.mix_u) == (float(u[0]), float(u[1]))
    assert torch.equal(draws.z2, expected.randn(16)[:4])
