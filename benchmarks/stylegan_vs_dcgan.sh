#!/usr/bin/env bash
# The README's StyleGAN2 / DCGAN / SNGAN table: each model trained for the same wall-clock budget on MNIST's first
# 10k training images at 32x32, then evaluated on the 10k test images in the features of the classifier fitted on
# the same training images (FID, KID, precision / recall), with the same number of samples.
# The budget becomes steps per model from a short calibration run of that model (its logged images per second),
# so that every model gets about BUDGET seconds of training; times.txt says the seconds each one took. Each model is
# evaluated twice, its EMA generator (the run) and its raw one (10,000 samples of `gankit sample --no-ema`), and its
# class coverage is counted (benchmarks/class_coverage.py). The evaluation: benchmarks/mnist_eval.sh.
# Usage: NPZ=path/to/train-first10k.npz BUDGET=600 bash benchmarks/stylegan_vs_dcgan.sh   (NAMES, OUT)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/mnist_eval.sh
BUDGET=${BUDGET:-600}
OUT=${OUT:-runs/stylegan-vs-dcgan}
mkdir -p "$OUT"
DATA="data.name=npz data.path=$NPZ data.resolution=32 eval.every=0 log.tensorboard=false"
declare -A RUNS=(
  [stylegan2]="mnist-stylegan"
  [stylegan2-own-d]="mnist-stylegan model.d_arch=stylegan2 optim.lr_d=0.0025"
  [dcgan]="mnist-dcgan"
  [sngan]="mnist-dcgan model.d_norm=none model.spectral_norm=true objective.loss=hinge optim.beta1=0.0 optim.beta2=0.9 train.n_critic=2"
)
# steps per second = the logged images_per_s / the real images one iteration draws (the loop's own count)
STEPS_FROM_RATE='
import json, sys
from pathlib import Path
import yaml
from gankit.config import config_from_dict
from gankit.objectives import build_objective
from gankit.training.phases import real_images_per_iteration
run, budget = Path(sys.argv[1]), float(sys.argv[2])
config = config_from_dict(yaml.safe_load((run / "config.yaml").read_text()))
images = real_images_per_iteration(build_objective(config).phases(config.train.n_critic), config.train.batch_size)
rate = [json.loads(line) for line in (run / "metrics.jsonl").open() if "images_per_s" in line][-1]["images_per_s"]
print(max(1, round(budget * rate / images)))
'
for name in ${NAMES:-stylegan2 stylegan2-own-d dcgan sngan}; do
  set -- ${RUNS[$name]}
  preset=$1
  shift
  rm -rf "$OUT/$name.calibrate"
  gankit train "$preset" $DATA "$@" train.steps=40 log.every=20 log.sample_every=1000 log.ckpt_every=1000 \
    --out "$OUT/$name.calibrate" --quiet > /dev/null 2>&1
  steps=$(python -c "$STEPS_FROM_RATE" "$OUT/$name.calibrate" "$BUDGET")
  echo "$name: $steps steps for a budget of $BUDGET s" | tee -a "$OUT/times.txt"
  start=$(date +%s)
  gankit train "$preset" $DATA "$@" train.steps="$steps" log.ckpt_every="$steps" --out "$OUT/$name" --quiet \
    > "$OUT/$name.train.log" 2>&1
  echo "$name train $(($(date +%s) - start)) s" | tee -a "$OUT/times.txt"
  evaluate_on_mnist_test "$OUT/$name" "$OUT/$name"
  gankit sample "$OUT/$name" -n 10000 --no-ema --out "$OUT/$name-raw.npz" > /dev/null
  evaluate_on_mnist_test "$OUT/$name-raw.npz" "$OUT/$name-raw"
  python benchmarks/class_coverage.py "$OUT/$name" --classifier "$NPZ" | tee "$OUT/$name.coverage.txt"
done
