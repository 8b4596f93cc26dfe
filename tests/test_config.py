import pytest

from gankit.config import Config, apply_overrides, config_from_dict, load_preset, preset_names, resolve
from gankit.errors import GankitError

REQUIRED_PRESETS = {"ring-minimax", "ring-ns", "grid-ns", "digits", "mnist-dcgan"}


def test_required_presets_ship_and_load():
    assert set(preset_names()) >= REQUIRED_PRESETS
    for name in preset_names():
        config = load_preset(name)
        assert config.name == name
        assert config.description, f"preset {name} has no description"


def test_default_is_digits():
    assert resolve(None, []).data.name == "digits"


def test_overrides_are_parsed_as_yaml_and_typed():
    config = apply_overrides(Config(), ["train.steps=123", "ema.enabled=false", "optim.lr_g=1e-3", "data.name=ring"])
    assert config.train.steps == 123 and isinstance(config.train.steps, int)
    assert config.ema.enabled is False
    assert config.optim.lr_g == pytest.approx(1e-3)
    assert config.data.name == "ring"


def test_int_accepted_for_float():
    config = apply_overrides(Config(), ["optim.lr_d=1"])
    assert config.optim.lr_d == 1.0 and isinstance(config.optim.lr_d, float)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.stepz=5", "unknown config key 'train.stepz'; valid keys here: steps, batch_size"),
        ("trian.steps=5", "unknown config section 'trian'; valid sections: data, model"),
        ("train.steps=many", "train.steps: expected int, got 'many'"),
        ("train.steps=2.5", "train.steps: expected int, got 2.5"),
        ("ema.enabled=3", "ema.enabled: expected bool, got 3"),
        ("steps", "is not of the form section.key=value"),
    ],
)
def test_bad_overrides_name_the_problem(override, expected):
    with pytest.raises(GankitError, match=None) as info:
        apply_overrides(Config(), [override])
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(GankitError) as info:
        load_preset("digitz")
    assert "unknown preset 'digitz'" in str(info.value)
    assert "digits" in str(info.value) and "ring-ns" in str(info.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.batch_size=0", "train.batch_size must be >= 1"),
        ("optim.lr_decay=cosine", "optim.lr_decay must be one of"),
        ("ema.half_life_images=0", "ema.half_life_images must be > 0"),
        ("train.precision=fp16", "train.precision must be one of"),
    ],
)
def test_validation_ranges(override, message):
    with pytest.raises(GankitError, match=message.replace("[", r"\[").replace(")", r"\)")):
        resolve("digits", [override])


def test_round_trip_through_dict():
    config = resolve("ring-ns", ["train.steps=7"])
    assert config_from_dict(config.to_dict()) == config


def test_unknown_top_level_key_in_dict():
    with pytest.raises(GankitError, match="unknown config key 'bogus'"):
        config_from_dict({"bogus": 1})


@pytest.mark.parametrize(
    ("preset", "overrides", "message"),
    [
        ("digits-mmdgan", ["objective.r1=10"], "objective.r1 is set but objective.loss=mmdgan ignores it"),
        ("digits-gmmn", ["objective.gp=1"], "objective.gp is set but objective.loss=gmmn"),
        ("digits", ["mmd.kernel=gaussian"], "mmd.kernel is set but objective.loss=ns ignores it"),
        ("digits", ["model.depth=5"], "model.depth is set but model.arch=dcgan"),
        ("digits", ["biggan.shared_dim=64"], "biggan.shared_dim is set but model.arch=dcgan"),
        # a hybrid reads the generator-side keys of G's family and the discriminator-side ones of D's family
        (
            "mnist-stylegan",
            ["stylegan.mbstd_group_size=8"],
            "stylegan.mbstd_group_size is set but model.arch=stylegan2 with model.d_arch=dcgan ignores it",
        ),
        ("digits", ["model.d_arch=stylegan2", "stylegan.mixing_prob=0.5"], "stylegan.mixing_prob is set but"),
        ("digits", ["model.d_arch=biggan", "biggan.shared_dim=64"], "biggan.shared_dim is set but model.arch=dcgan"),
        ("ring-gmmn", ["model.d_arch=dcgan"], "model.d_arch is set but objective.loss=gmmn"),
        ("digits", ["model.d_arch=ssmlp"], "model.arch=ssmlp builds both networks of the K\\+1-class GAN"),
        ("digits", ["train.batch_size=30", "train.accumulate=4"], "not divisible by train.accumulate=4"),
    ],
)
def test_keys_the_family_ignores_are_refused(preset, overrides, message):
    with pytest.raises(GankitError, match=message):
        resolve(preset, overrides)


def test_a_discriminator_familys_keys_are_read_through_d_arch():
    config = resolve("digits", ["model.d_arch=stylegan2", "stylegan.mbstd_group_size=8", "stylegan.channel_max=64"])
    assert config.model.arch == "dcgan" and config.stylegan.mbstd_group_size == 8
    # a discriminator-side key of D's family is read; the shared ones too, whichever network is of the family
    config = resolve("digits", ["model.d_arch=biggan", "biggan.d_attention=8", "biggan.init=N02"])
    assert config.biggan.d_attention == 8 and config.biggan.init == "N02"
    with pytest.raises(GankitError, match="model.d_cond=auxiliary .* use model.d_cond=projection with the stylegan2"):
        resolve("digits", ["data.conditional=true", "model.d_arch=stylegan2", "model.d_cond=auxiliary"])


def test_ema_half_life_gives_the_per_step_decay():
    from gankit.config import EMAConfig

    ema = EMAConfig(half_life_images=10_000)
    assert ema.decay(32) ** (10_000 / 32) == pytest.approx(0.5, rel=1e-12)
    assert ema.decay(64) == pytest.approx(ema.decay(32) ** 2, rel=1e-12)


def test_a_v1_checkpoint_config_is_migrated():
    from gankit.config import config_from_checkpoint

    old = Config().to_dict()
    old["objective"].update(kernel="gaussian", bandwidths=[2.0])
    del old["mmd"]
    old["ema"] = {"enabled": True, "decay": 0.999, "start": 0}
    config = config_from_checkpoint({"config": old})
    assert config.mmd.kernel == "gaussian" and config.mmd.bandwidths == [2.0]
    assert config.ema.decay(config.train.batch_size) == pytest.approx(0.999, rel=1e-12)
