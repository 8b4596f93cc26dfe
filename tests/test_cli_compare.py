"""``gankit eval --compare A B --real R``: the relative similarity test (Bounliphone et al. 2016) from the command
line. Its calibration (Type-I error over 200 repeats of two equal sources) is checked on the function in
tests/metrics/test_compare.py; here the wiring: known order, both directions, equal sources, errors."""

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from sklearn.datasets import load_digits

from gankit.cli import main

FAST = ["--features", "pixels", "--metrics", "fid,kid", "--kid-subsets", "5", "--kid-subset-size", "200"]
FAST += ["--fid-bootstrap", "0", "--no-fid-infinity", "--quiet", "--no-cache"]


@pytest.fixture
def sources(tmp_path):
    """Real digits, held-out sharp digits and the same held-out digits blurred (sigma 1 pixel), as uint8 .npz."""
    images = load_digits().images[np.random.default_rng(0).permutation(1797)]
    as_uint8 = lambda a: (a * 255 / 16).round().clip(0, 255).astype(np.uint8)  # noqa: E731
    held_out = images[600:1200]
    paths = {}
    for name, x in (
        ("real", images[:600]),
        ("sharp", held_out),
        ("blurred", np.stack([gaussian_filter(i, 1.0) for i in held_out])),
    ):
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], x=as_uint8(x))
    return paths


def run(capsys, real, a, b, json_path):
    assert main(["eval", "--real", str(real), "--compare", str(a), str(b), *FAST, "--json", str(json_path)]) == 0
    return capsys.readouterr().out, json.loads(json_path.read_text())


def test_sharp_digits_beat_their_blurred_copy_in_both_orders(sources, capsys, tmp_path):
    out, result = run(capsys, sources["real"], sources["sharp"], sources["blurred"], tmp_path / "ab.json")
    test = result["relative_similarity"]
    assert test["p_value"] < 1e-3 and test["difference"] < 0
    assert result["a"]["fid"] < result["b"]["fid"] and result["a"]["kid_mean"] < result["b"]["kid_mean"]
    assert f"{sources['sharp']} is closer to the real data" in out
    assert f"FID {result['a']['fid']:.4f}" in out and f"FID {result['b']['fid']:.4f}" in out
    assert f"p({sources['sharp']} closer) = {test['p_value']:.3g}" in out
    _, swapped = run(capsys, sources["real"], sources["blurred"], sources["sharp"], tmp_path / "ba.json")
    assert swapped["relative_similarity"]["p_value"] > 1 - 1e-3
    assert swapped["relative_similarity"]["difference"] == pytest.approx(-test["difference"], rel=1e-9)


def test_equal_sources_give_no_verdict(sources, capsys, tmp_path):
    out, result = run(capsys, sources["real"], sources["sharp"], sources["sharp"], tmp_path / "aa.json")
    assert result["relative_similarity"]["difference"] == 0 and result["relative_similarity"]["p_value"] == 0.5
    assert "no significant difference" in out


def test_fake_or_compare_not_both(sources, capsys):
    real, sharp = str(sources["real"]), str(sources["sharp"])
    assert main(["eval", "--real", real, "--fake", sharp, "--compare", sharp, sharp, *FAST]) == 2
    assert "either --fake SOURCE or --compare A B" in capsys.readouterr().err
    assert main(["eval", "--real", real, *FAST]) == 2
    assert "either --fake SOURCE or --compare A B" in capsys.readouterr().err
    assert main(["eval", "--real", real, "--compare", sharp, "nothing-here", *FAST]) == 2
    assert "unknown source 'nothing-here'" in capsys.readouterr().err
