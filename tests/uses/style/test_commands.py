"""``gankit style mixing|truncation|noise|interpolate``, ``gankit project`` and ``gankit more-like`` on tiny runs,
checked against re-computations from the files they write (figure sizes, re-rendered reconstructions, PSNR by its
formula), and their one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gankit.cli import main
from gankit.imaging import enlargement
from gankit.sampling import load_generator

from .conftest import command


def _tiles(path, side: int) -> tuple[int, int]:
    """(rows, columns) of a grid of side-pixel images with 2-pixel padding."""
    height, width = np.asarray(Image.open(path)).shape[:2]
    return (height - 2) // (side + 2), (width - 2) // (side + 2)


def test_mixing_writes_the_paper_layout(style_run, tmp_path):
    numbers = command("style", "mixing", str(style_run), "--rows", "3", "--columns", "4", out=tmp_path)
    assert numbers["row_groups"] == ["coarse", "middle", "fine"]
    assert numbers["groups"] == {"coarse": [0, 1], "middle": [2, 3], "fine": [4, 5]}
    side = 16 * enlargement(5 * 16)
    assert _tiles(numbers["figure"], side) == (4, 5)


def test_style_only_commands_refuse_a_dcgan_run_in_one_line(dcgan_run, tmp_path, capsys):
    for name in ("mixing", "noise", "interpolate"):
        assert main(["style", name, str(dcgan_run), "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "needs a style generator" in err and err.count("\n") == 1


def test_truncation_is_generic_thresholds_for_a_dcgan_psi_for_a_style_run(dcgan_run, style_run, tmp_path):
    args = ["-n", "20", "--real-n", "50", "--features", "pixels", "--row-n", "2"]
    dcgan = command("style", "truncation", str(dcgan_run), *args, "--values", "inf,0.5", out=tmp_path / "d")
    assert dcgan["kind"] == "threshold" and [r["value"] for r in dcgan["curve"]] == [math.inf, 0.5]
    style = command("style", "truncation", str(style_run), *args, "--values", "1,0", out=tmp_path / "s")
    assert style["kind"] == "psi" and style["row_values"] == [1.0, 0.7, 0.5, 0.0]
    assert style["curve"][1]["recall"] == 0.0  # psi = 0: one image (up to noise) covers almost nothing
    assert (tmp_path / "s" / "truncation-curve.png").is_file()
    with pytest.warns(UserWarning, match="outside"):
        command("style", "truncation", str(style_run), "-n", "0", "--row-values", "1.5", out=tmp_path / "w")


def test_noise_reports_less_variation_without_noise(style_run, tmp_path):
    numbers = command("style", "noise", str(style_run), "--latents", "2", "--std-draws", "8", out=tmp_path)
    stds = numbers["mean_pixel_std"]
    assert stds["none"] == 0.0
    assert stds["all"] > stds["none"] and stds["fine only"] > 0 and stds["coarse only"] > 0


def test_interpolate_reports_ppl_in_z_and_w(style_run, tmp_path):
    numbers = command("style", "interpolate", str(style_run), "-n", "12", "--features", "pixels", out=tmp_path)
    assert [(r["features"], r["sampling"]) for r in numbers["ppl"]] == [("pixels", "full"), ("pixels", "end")]
    for row in numbers["ppl"]:
        assert row["ppl_z"] > 0 and row["ppl_w"] > 0
        assert row["ratio_w_over_z"] == pytest.approx(row["ppl_w"] / row["ppl_z"])


def _psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = ((a + 1) / 2).clamp(0, 1).double(), ((b + 1) / 2).clamp(0, 1).double()
    return 10 * torch.log10(1 / (a - b).square().flatten(1).mean(1))


def test_project_writes_latents_that_re_render_the_reconstructions(style_run, tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "x.png")
    args = ["project", str(style_run), str(tmp_path / "x.png"), "digits:0:2", "--steps", "15", "--features", "none"]
    numbers = command(*args, out=tmp_path / "out")
    assert numbers["images"] == ["x.png", "digits[0]", "digits[1]"] and numbers["space"] == "w"
    saved = load_file(tmp_path / "out" / "latents.safetensors")
    G = load_generator(style_run)
    noise = [saved[f"noise.{i}"] for i in range(len(G.noise_layers()))]
    with torch.no_grad():
        again = G.synthesis(saved["latents"][:, None].expand(-1, G.num_ws, -1), noise=noise)
    assert torch.allclose(again, saved["reconstructions"], atol=1e-4)
    assert torch.equal(saved["targets"][0, 0], torch.from_numpy(array).float() / 127.5 - 1)
    assert np.allclose(numbers["psnr"], _psnr(saved["reconstructions"], saved["targets"]).numpy(), atol=1e-3)


def test_project_inverts_dcgan_runs_in_z(dcgan_run, tmp_path):
    numbers = command("project", str(dcgan_run), "digits:3:5", "--steps", "10", "--features", "pixels", out=tmp_path)
    assert numbers["space"] == "z" and numbers["features"] == "pixels"
    saved = load_file(tmp_path / "latents.safetensors")
    G = load_generator(dcgan_run)
    with torch.no_grad():
        assert torch.allclose(G(saved["latents"]), saved["reconstructions"], atol=1e-5)
    assert len(numbers["feature_distance"]) == 2 and min(numbers["feature_distance"]) > 0


def test_project_refuses_a_colour_image_in_one_line(style_run, tmp_path, capsys):
    colour = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "c.png")
    assert main(["project", str(style_run), str(tmp_path / "c.png"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "(1, 16, 16)" in err and err.count("\n") == 1


def test_more_like_and_use_more_like_reach_the_same_code(style_run, tmp_path):
    common = ["--steps", "10", "--features", "none", "--radius", "0.3"]
    used = command(
        "use",
        "more-like",
        "--run",
        str(style_run),
        "--test",
        "digits",
        "-n",
        "2",
        "--draws",
        "3",
        *common,
        out=tmp_path / "use",
    )
    indices = [int(entry["image"].split("[")[1].rstrip("]")) for entry in used["images"]]
    direct = command(
        "more-like",
        str(style_run),
        *(f"digits:{i}:{i + 1}" for i in indices),
        "--n",
        "3",
        *common,
        out=tmp_path / "direct",
    )
    assert direct["mix_fine_from"] == 4  # the first fine style at 16x16
    for a, b in zip(used["images"], direct["images"], strict=True):
        assert a["pixel_near"] == pytest.approx(b["pixel_near"]) and len(a["pixel_near"]) == 3
        assert a["psnr"] == pytest.approx(b["psnr"])
    side = 16 * enlargement(5 * 16)
    assert _tiles(direct["figure"], side) == (2, 5)
