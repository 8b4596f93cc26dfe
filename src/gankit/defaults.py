"""Every default that more than one place reads, and the names of result keys, defined once.

The configuration (:mod:`gankit.config`), the Python API and the command line all read these, so a
default cannot differ between ``gankit eval`` and evaluation during training (torch-fidelity's
``defaults.py`` is the model). Result keys are constants shared by the printer, the logger and tests.
"""

from __future__ import annotations

# Data sets drawn on the fly in 2-D (the instability lab).
TOY_DATASETS = ("ring", "grid", "spiral")

# Objectives trained on MMD (the others are adversarial losses on logits).
MMD_LOSSES = ("gmmn", "mmdgan", "smmd")

# Metrics and their settings.
METRICS = ("fid", "kid", "is", "pr")
EVAL_METRICS = ("fid", "kid")
RESIZE = "tf1-bilinear"  # the resize of the original TensorFlow FID code
RESIZE_METHODS = ("tf1-bilinear", "pil-bicubic", "torch-bilinear")
FEATURES = "inception"
TRAINING_FEATURES = "auto"  # the data set's own classifier where there is one, else Inception
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
REFERENCE_RNG_SEED = 2020  # torch-fidelity's rng_seed: its KID subsets and IS shuffle
KID_SEED = REFERENCE_RNG_SEED
IS_SEED = REFERENCE_RNG_SEED
IS_SPLITS = 10
PR_K = 3
FID_BOOTSTRAP = 20
EVAL_BATCH_SIZE = 64
MAX_TRAINING_EVAL_REAL = 10_000  # real images used by evaluation during training, at most

# Result keys.
FID = "fid"
FID_CI_LOW, FID_CI_HIGH = "fid_ci_low", "fid_ci_high"
FID_INFINITY, FID_SLOPE = "fid_infinity", "fid_slope"
KID_MEAN, KID_STD = "kid_mean", "kid_std"
KID_CI_LOW, KID_CI_HIGH = "kid_ci_low", "kid_ci_high"
IS_MEAN, IS_STD = "is_mean", "is_std"
PRECISION, RECALL = "precision", "recall"
SAMPLE_ACCURACY, INTRA_FID = "sample_accuracy", "intra_fid"
N_REAL, N_FAKE = "n_real", "n_fake"
SETTINGS = "settings"

# Training statistics.
LOSS_D, LOSS_G = "loss_d", "loss_g"
GRAD_NORM_D, GRAD_NORM_G = "grad_norm_d", "grad_norm_g"
IMAGES_PER_S = "images_per_s"

# Sample grids: small images are enlarged (nearest neighbour, integer factor) to at least this width.
GRID_MIN_WIDTH = 512
