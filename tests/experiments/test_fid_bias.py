"""gankit experiment fid-bias on small sizes: FID's bias shrinks like 1/n and extrapolates to ~0, KID
stays at 0 within its spread."""

from __future__ import annotations

import json

from gankit.cli import main
from gankit.experiments import fid_bias


def test_gaussian_fid_bias_follows_one_over_n_and_kid_is_centred():
    rows = fid_bias.gaussian_rows(dim=16, sizes=[1000, 2000, 4000, 8000], repeats=4, seed=0)
    fids = [r["fid_mean"] for r in rows]
    assert fids == sorted(fids, reverse=True) and fids[-1] > 0
    # the mean term alone is 2d/n in expectation: FID must exceed it
    assert all(r["fid_mean"] > 2 * 16 / r["n"] for r in rows)
    fit = fid_bias.extrapolate(rows)
    assert abs(fit["fid_infinity"]) < 0.05 * fids[0]  # the bias at n = 1000 is (almost) all removed
    for r in rows:
        assert abs(r["kid_mean"]) < 4 * max(r["kid_std"], 1e-6) + 1e-4


def test_the_command_writes_table_plot_and_json(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["experiment", "fid-bias", "--out", str(out), "--json", str(tmp_path / "r.json"), "--dim", "8"]
    assert main([*args, "--sizes", "500,1000,2000", "--digit-sizes", "200,400", "--repeats", "2"]) == 0
    printed = capsys.readouterr().out
    assert "FID_inf =" in printed and (out / "fid-bias.png").is_file()
    numbers = json.loads((tmp_path / "r.json").read_text())
    digits = numbers["digits-classifier-128d"]["rows"]
    assert [r["n"] for r in digits] == [200, 400] and digits[0]["fid_mean"] > digits[1]["fid_mean"]
