import argparse

from gankit.experiments import disjoint


def test_minimax_gradient_vanishes_while_the_others_do_not(tmp_path):
    """Arjovsky & Bottou 2017, Thm. 2.4 / Fig. 2: with D near optimal on disjoint supports,
    grad E log(1 - D(G(z))) -> 0; the non-saturating and WGAN-GP gradients stay large."""
    result = disjoint.run(argparse.Namespace(out=str(tmp_path), steps=300, seeds=1, batch=128))
    table = result["table"]
    assert table["minimax"]["300"] < 0.05 * table["minimax"]["1"]
    assert table["ns"]["300"] > table["ns"]["1"]
    assert table["wgan-gp"]["300"] > 100 * table["minimax"]["300"]
    assert (tmp_path / "disjoint.png").is_file()
