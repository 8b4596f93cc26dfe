"""The ``gankit`` command end to end: every preset for a few steps, sampling, errors, resume."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from gankit.config import preset_names
from gankit.data.named import dataset_folder
from gankit.runtime import checkpoint as checkpoint_io

FAST = ["train.steps=3", "log.every=1", "log.sample_every=3", "log.ckpt_every=3", "log.tensorboard=false"]


DOWNLOADING = ("mnist-", "fashion-", "cifar10-", "imagenet", "ffhq")


def presets_without_downloads():
    return [p for p in preset_names() if not p.startswith(DOWNLOADING)]


@pytest.mark.parametrize("preset", presets_without_downloads())
def test_every_preset_trains_a_few_steps(tmp_path, preset, capsys):
    assert main(["train", preset, *FAST, "train.batch_size=16", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "samples:" in out and "checkpoint:" in out
    assert (tmp_path / "checkpoints" / "step-000003.pt").is_file()
    assert (tmp_path / "samples" / "step-000003.png").is_file()


def test_mnist_dcgan_preset_on_the_real_test_split(tmp_path, assets):
    raw = dataset_folder("mnist") / "raw"
    raw.mkdir(parents=True)
    for path in (assets / "mnist").glob("t10k-*.gz"):
        shutil.copy(path, raw / path.name)
    args = ["train", "mnist-dcgan", *FAST, "data.split=test", "data.download=false", "model.width=8"]
    assert main([*args, "--out", str(tmp_path), "--quiet"]) == 0
    # 8 x 32 px per row is enlarged x2 to reach 512 px
    assert Image.open(tmp_path / "samples" / "step-000003.png").size == (8 * 66 + 2, 8 * 66 + 2)


@pytest.mark.parametrize(("preset", "folder"), [("mnist-biggan", "mnist"), ("fashion-biggan", "fashion-mnist")])
def test_conditional_biggan_presets_on_the_real_test_split(tmp_path, assets, preset, folder):
    raw = dataset_folder(folder) / "raw"
    raw.mkdir(parents=True)
    for path in (assets / folder).glob("t10k-*.gz"):
        shutil.copy(path, raw / path.name)
    args = ["train", preset, *FAST, "data.split=test", "data.download=false", "model.width=4", "model.d_width=4"]
    assert main([*args, "eval.every=0", "log.n_samples=30", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    width, height = Image.open(tmp_path / "run" / "samples" / "step-000003.png").size
    assert height > 3 * width  # one row per class: 10 rows of 3 samples
    run, out = str(tmp_path / "run"), str(tmp_path / "sevens.npz")
    assert main(["sample", run, "-n", "5", "--class", "7", "--truncation", "0.5", "--out", out]) == 0
    assert main(["sample", run, "-n", "5", "--class", "10", "--out", out]) == 2


@pytest.mark.parametrize("preset", [p for p in preset_names() if p.startswith(("cifar10", "imagenet", "ffhq"))])
def test_cifar10_presets_on_a_small_stand_in(tmp_path, preset):
    """The CIFAR-10 recipes (ResNet, spectral norm or gradient penalty, n_critic 5) on 32x32 RGB images
    the test writes, with narrow networks: the data set itself needs a download."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "cifar-like.npz", x=images, y=rng.integers(0, 10, 40))
    data = ["data.name=npz", f"data.path={tmp_path / 'cifar-like.npz'}", "model.width=16", "model.d_width=16"]
    if preset.startswith("imagenet"):  # the 128 px recipe at 32 px: attention at 64 does not exist there
        data += ["data.resolution=32", "biggan.g_attention=0", "biggan.d_attention=0", "train.accumulate=2"]
    if "stylegan" in preset:  # the paper-sized StyleGAN2 at 32 px with few maps
        data += ["data.resolution=32", "stylegan.channel_base=256", "stylegan.channel_max=16", "stylegan.w_dim=16"]
        data += ["stylegan.mbstd_group_size=4"]
    small = ["train.batch_size=8", "eval.every=0"]
    args = ["train", preset, *FAST, *data, *small, "--out", str(tmp_path / "run"), "--quiet"]
    assert main(args) == 0
    assert Image.open(tmp_path / "run" / "samples" / "step-000003.png").mode == "RGB"


def test_sample_png_npz_folder(tmp_path):
    run = tmp_path / "run"
    main(["train", "digits", *FAST, "model.width=8", "--out", str(run), "--quiet"])
    assert main(["sample", str(run), "-n", "10", "--out", str(tmp_path / "grid.png")]) == 0
    assert main(["sample", str(run), "-n", "10", "--out", str(tmp_path / "s.npz"), "--seed", "3"]) == 0
    checkpoint = checkpoint_io.list_checkpoints(run / "checkpoints")[-1]
    assert main(["sample", str(checkpoint), "-n", "10", "--out", str(tmp_path / "again.npz"), "--seed", "3"]) == 0
    assert main(["sample", str(run), "-n", "4", "--out", str(tmp_path / "pngs"), "--no-ema"]) == 0
    with np.load(tmp_path / "s.npz") as a, np.load(tmp_path / "again.npz") as b:
        assert a["x"].shape == (10, 16, 16, 1) and a["x"].dtype == np.uint8
        np.testing.assert_array_equal(a["x"], b["x"])
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 4
    assert Image.open(tmp_path / "grid.png").size[0] > 16


def test_sample_is_independent_of_batching(tmp_path):
    from gankit.sampling import generate, load_generator

    run = tmp_path / "run"
    main(["train", "digits", *FAST, "model.width=8", "--out", str(run), "--quiet"])
    G = load_generator(run)
    np.testing.assert_array_equal(generate(G, 9, seed=1, batch_size=2).numpy(), generate(G, 9, seed=1).numpy())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "digitz"], "unknown preset 'digitz'; valid presets:"),
        (["train", "digits", "train.stepz=3"], "unknown config key 'train.stepz'"),
        (["train", "model.arch=vit", "train.steps=1"], "unknown model.arch 'vit'; valid architectures"),
        (["train", "digits", "train.steps=abc"], "train.steps: expected int"),
        (["sample", "/nonexistent/run", "--out", "x.png"], "no such run directory or checkpoint"),
    ],
)
def test_errors_are_one_line(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "out")] if argv[0] == "train" else argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_resume_extends_a_finished_run(tmp_path, capsys):
    main(["train", "ring-ns", *FAST, "--out", str(tmp_path), "--quiet"])
    assert main(["train", "--resume", str(tmp_path), "train.steps=5", "--quiet"]) == 0
    assert checkpoint_io.list_checkpoints(tmp_path / "checkpoints")[-1].name == "step-000005.pt"
    assert main(["train", "ring-ns", *FAST, "--out", str(tmp_path)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_experiment_command_writes_json(tmp_path, capsys):
    import json

    out = tmp_path / "dirac.json"
    assert main(["experiment", "dirac", "--out", str(tmp_path), "--steps", "50", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["experiment"] == "dirac" and len(result["rows"]) == 12
    assert "r1" in capsys.readouterr().out


def test_console_script_presets_table():
    result = subprocess.run(
        [sys.executable, "-m", "gankit", "presets"], capture_output=True, text=True, check=True, timeout=120
    )
    lines = result.stdout.splitlines()
    assert len(lines) == len(preset_names())
    assert any(line.startswith("digits") and "(default)" in line for line in lines)


def test_eval_writes_every_number_and_setting(tmp_path, capsys):
    import json

    run = tmp_path / "run"
    main(["train", "digits", *FAST, "model.width=8", "eval.every=0", "--out", str(run), "--quiet"])
    out = tmp_path / "eval.json"
    args = ["eval", "--real", "digits@16", "--fake", str(run), "--features", "pixels", "--metrics", "fid,kid,pr"]
    assert main([*args, "--kid-subset-size", "500", "--kid-subsets", "5", "--quiet", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert f"FID {result['fid']:.4f}" in printed and f"KID {result['kid_mean']:.6f}" in printed
    for key in ("fid", "fid_ci_low", "fid_infinity", "kid_mean", "kid_std", "kid_ci_low", "precision", "recall"):
        assert isinstance(result[key], float), key
    assert result["n_real"] == result["n_fake"] == 1797
    assert result["fake"]["kind"] == "generator" and result["fake"]["latent_seed"] == 0
    assert result["settings"]["extractor"] == "pixels" and result["settings"]["kid_subsets"] == 5
    assert result["settings"]["gankit_version"]


def test_eval_errors_are_one_line(tmp_path, capsys):
    assert main(["eval", "--real", "digits", "--fake", "nothing-here", "--features", "pixels"]) == 2
    assert "unknown source 'nothing-here'" in capsys.readouterr().err
    assert main(["eval", "--real", "digits", "--fake", "digits", "--features", "pixels", "--n", "50"]) == 2
    assert "--kid-subset-size" in capsys.readouterr().err


def _classifier_outputs(images):
    from gankit.metrics.features.extractors import build_extractor

    extractor = build_extractor("classifier:digits", tuple(images.shape[1:]), None, "tf1-bilinear", "cpu")
    return extractor(images)


def test_eval_of_labelled_images_reports_the_classifier_accuracy_and_near_zero_for_wrong_labels(tmp_path, capsys):
    import json

    from gankit.data.images import load_digits

    images, labels = load_digits(16)
    right, wrong = tmp_path / "right.npz", tmp_path / "wrong.npz"
    np.savez(right, x=images.numpy(), y=labels.numpy())
    np.savez(wrong, x=images.numpy(), y=((labels + 1) % 10).numpy())
    results = []
    for fake in (right, wrong):
        out = tmp_path / f"{fake.stem}.json"
        args = ["eval", "--real", "digits@16", "--fake", str(fake), "--features", "classifier:digits"]
        assert main([*args, "--metrics", "fid", "--no-fid-infinity", "--fid-bootstrap", "0", "--json", str(out)]) == 0
        results.append(json.loads(out.read_text()))
    printed = capsys.readouterr().out
    _, logits = _classifier_outputs(images)
    accuracy = int((logits.argmax(1) == labels).sum()) / len(labels)
    assert results[0]["sample_accuracy"] == pytest.approx(accuracy, abs=1e-9) and accuracy > 0.9
    assert results[1]["sample_accuracy"] < 0.1
    assert "sample accuracy" in printed and "intra-FID" in printed
    assert results[0]["intra_fid"] == pytest.approx(0.0, abs=1e-3)  # each class against itself


@pytest.mark.filterwarnings("ignore:FID from")
def test_eval_of_a_conditional_run_scores_the_samples_against_the_classes_they_were_drawn_for(tmp_path, capsys):
    import json

    import torch

    from gankit.data.images import load_digits
    from gankit.imaging import to_uint8
    from gankit.metrics.fid import fid
    from gankit.sampling import draw_labels, generate, load_generator

    run = tmp_path / "run"
    train = ["train", "digits", *FAST, "model.width=8", "data.conditional=true", "eval.every=0"]
    assert main([*train, "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "eval.json"
    args = ["eval", "--real", "digits@16", "--fake", str(run), "--features", "classifier:digits", "--n", "500"]
    options = ["--metrics", "fid,kid,pr", "--kid-subsets", "5", "--kid-subset-size", "200", "--fid-bootstrap", "0"]
    options.append("--no-fid-infinity")
    assert main([*args, *options, "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert "per-class KID" in capsys.readouterr().out
    # the oracle: the same samples and real subset, scored here class by class
    G = load_generator(run)
    labels = draw_labels(G, 500, 0)
    features, logits = _classifier_outputs(to_uint8(generate(G, 500, 0, labels=labels)))
    assert result["sample_accuracy"] == pytest.approx(int((logits.argmax(1) == labels).sum()) / 500, abs=1e-12)
    assert np.array(result["sample_confusion"]).sum() == 500
    real_images, real_labels = load_digits(16)
    keep = torch.randperm(len(real_images), generator=torch.Generator().manual_seed(0))[:500]
    real_features, _ = _classifier_outputs(real_images[keep])
    per_class = [fid(real_features[real_labels[keep] == c], features[labels == c]) for c in range(10)]
    assert result["intra_fid"] == pytest.approx(sum(per_class) / 10, rel=1e-6)
    assert 0 <= result["classwise_recall"] <= 1 and len(result["per_class_recall"]) == 10
    assert result["per_class_kid_ci"][0] <= result["per_class_kid_mean"] <= result["per_class_kid_ci"][1]
