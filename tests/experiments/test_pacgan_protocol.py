"""PacGAN's Table 1 protocol: presets, paper constants, summary against the paper, a tiny end-to-end run."""

import argparse
import math

import pytest
import torch

from gankit.config import resolve
from gankit.errors import GankitError
from gankit.experiments import mixtures, pacgan_protocol
from gankit.models import MaxoutMLPDiscriminator, MaxoutMLPGenerator, PackedDiscriminator, count_parameters
from gankit.training.loop import Trainer


def test_presets_are_the_authors_protocol():
    for data, std in (("ring", 0.01), ("grid", 0.05)):
        config = resolve(f"{data}-pacgan", pacgan_protocol.protocol_overrides(3, 0))
        assert config.data.std == std and config.train.batch_size == 300 and config.model.pack == 3
        assert config.train.steps == 400 * 100_000 // 100
        assert (config.optim.lr_g, config.optim.lr_d, config.optim.beta1) == (1e-4, 1e-4, 0.8)
        trainer = Trainer(config, "unused")
        G, D = trainer.G, trainer.D
        assert isinstance(G, MaxoutMLPGenerator) and isinstance(D, PackedDiscriminator)
        assert isinstance(D.inner, MaxoutMLPDiscriminator)
        # parameter counts from the layer table: G 2 -> 4 x 400 (no bias, BN scale and shift) -> 2;
        # D (3 x 2) -> 3 x maxout(200 units x 5 pieces) -> 1
        g = 2 * 400 + 3 * 400 * 400 + 4 * 2 * 400 + 400 * 2 + 2
        d = (6 * 1000 + 1000) + 2 * (200 * 1000 + 1000) + 201
        assert count_parameters(G) == g and count_parameters(D) == d


def test_linear_maxout_is_the_maximum_over_pieces():
    torch.manual_seed(0)
    D = MaxoutMLPDiscriminator(2, width=3, hidden=1, pieces=4)
    layer = D.net[0]
    x = torch.randn(5, 2)
    pre = x @ layer.linear.weight.T + layer.linear.bias
    expected = torch.stack([pre[:, u * 4 : (u + 1) * 4].max(1).values for u in range(3)], dim=1)
    torch.testing.assert_close(layer(x), expected)


def test_paper_constants_are_table_1():
    assert pacgan_protocol.PAPER_TABLE_1[("ring", 1)] == ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09))
    assert pacgan_protocol.PAPER_TABLE_1[("grid", 4)] == ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01))
    assert len(pacgan_protocol.PAPER_TABLE_1) == 8


def test_summary_uses_standard_errors_and_flags_differences_beyond_the_papers_std():
    rows = [
        {"data": "ring", "pack": 1, "steps": 5, "modes_covered": m, "high_quality": 0.982, "reverse_kl": 0.45}
        for m in (8, 8, 7, 7)
    ]
    (entry,) = pacgan_protocol.summarise(rows)
    assert entry["modes_covered"] == 7.5
    assert entry["modes_covered_se"] == pytest.approx(math.sqrt(1 / 3) / 2)
    # 7.5 - 6.3 = 1.2 < 0.5 sqrt(10) = 1.58: within the paper's spread; high quality in percent
    assert not entry["modes_covered_differs"] and entry["high_quality"] == pytest.approx(98.2)
    rows[0]["reverse_kl"] = rows[1]["reverse_kl"] = 1.5
    (entry,) = pacgan_protocol.summarise(rows)
    assert entry["reverse_kl_differs"]  # mean 0.975, 0.525 away > 0.09 sqrt(10) = 0.285
    assert "**!**" in pacgan_protocol.markdown([entry])


def test_tiny_run_prints_our_table_next_to_the_papers(tmp_path, capsys):
    args = argparse.Namespace(
        out=str(tmp_path), data="ring", packs="1,2", seeds=1, first_seed=0, steps=2, quick=False, protocol="pacgan"
    )
    result = mixtures.run(args)
    assert [r["method"] for r in result["rows"]] == ["GAN", "PacGAN2"]
    table = (tmp_path / "pacgan.md").read_text()
    assert "| ring | PacGAN2 | 1 x 2 |" in table and "6.3 +- 0.5" in table and "7.9 +- 0.1" in table
    assert "| ring | GAN |" in capsys.readouterr().out


def test_bad_options():
    base = dict(out="x", data="ring", seeds=1, first_seed=0, steps=1, quick=False, protocol="pacgan")
    with pytest.raises(GankitError, match="--packs"):
        mixtures.run(argparse.Namespace(packs="1,5", **base))
    with pytest.raises(GankitError, match="unknown data set"):
        mixtures.run(argparse.Namespace(packs="1", **{**base, "data": "spiral"}))


def test_an_interrupted_protocol_resumes_without_training_finished_runs_again(tmp_path, monkeypatch):
    """Each run is in pacgan.csv as soon as it ends; the same command trains only what is missing (a torn last
    line included) and prints the same table; runs split over invocations end in one table."""
    args = argparse.Namespace(
        out=str(tmp_path), data="ring", packs="1,2", seeds=2, first_seed=0, steps=2, quick=False, protocol="pacgan"
    )
    first = mixtures.run(args)
    trained = []
    real = pacgan_protocol.train_and_measure

    def counting(data, pack, seed, steps=None):
        trained.append((data, pack, seed))
        return real(data, pack, seed, steps)

    monkeypatch.setattr(pacgan_protocol, "train_and_measure", counting)
    again = mixtures.run(args)
    assert trained == [] and again["summary"] == first["summary"]
    csv_path = tmp_path / "pacgan.csv"
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 5  # header and the four runs
    csv_path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # torn last write
    mixtures.run(args)
    assert trained == [("ring", 2, 1)]
    assert len(pacgan_protocol.finished_runs(csv_path)) == 4  # the new row did not join the torn line
    mixtures.run(argparse.Namespace(**{**vars(args), "first_seed": 2, "seeds": 1}))
    assert trained == [("ring", 2, 1), ("ring", 1, 2), ("ring", 2, 2)]
    merged = mixtures.run(argparse.Namespace(**{**vars(args), "seeds": 3}))
    assert len(trained) == 3 and {e["seeds"] for e in merged["summary"]} == {3}
    longer = mixtures.run(argparse.Namespace(**{**vars(args), "packs": "1", "seeds": 1, "steps": 3}))
    assert trained[-1] == ("ring", 1, 0) and longer["rows"][0]["steps"] == 3  # other steps: another run


def test_a_foreign_csv_is_refused_with_the_fix(tmp_path):
    (tmp_path / "pacgan.csv").write_text("method,score\nGAN,1\n")
    args = argparse.Namespace(
        out=str(tmp_path), data="ring", packs="1", seeds=1, first_seed=0, steps=2, quick=False, protocol="pacgan"
    )
    with pytest.raises(GankitError, match="not a pacgan.csv of this version .*--out"):
        mixtures.run(args)
