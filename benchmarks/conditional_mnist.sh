#!/usr/bin/env bash
# The README's conditional-MNIST table: equal steps for an unconditional DCGAN, conditional DCGANs (concat D,
# projection D, AC-GAN), cBN + projection in BigGAN blocks and the mnist-biggan preset, on MNIST's first 10k
# training images at 32x32; each evaluated on the 10k test images in the features of the classifier fitted on
# the same training images. Usage: NPZ=path/to/train-first10k.npz bash benchmarks/conditional_mnist.sh
# (NAMES="dcgan acgan" for some rows, STEPS, OUT). The evaluation: benchmarks/mnist_eval.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/mnist_eval.sh
STEPS=${STEPS:-1500}
OUT=${OUT:-runs/conditional-mnist}
mkdir -p "$OUT"
DATA="data.name=npz data.path=$NPZ data.resolution=32 train.steps=$STEPS eval.every=0 log.tensorboard=false"
declare -A RUNS=(
  [dcgan]="mnist-dcgan model.width=32"
  [cdcgan-concat]="mnist-dcgan model.width=32 data.conditional=true model.d_cond=concat"
  [cdcgan-projection]="mnist-dcgan model.width=32 data.conditional=true model.d_cond=projection"
  [acgan]="mnist-dcgan model.width=32 data.conditional=true model.d_cond=auxiliary"
  [cbn-projection]="mnist-biggan biggan.shared_dim=0 biggan.hierarchical=false objective.ortho=0"
  [biggan]="mnist-biggan"
)
for name in ${NAMES:-dcgan cdcgan-concat cdcgan-projection acgan cbn-projection biggan}; do
  set -- ${RUNS[$name]}
  preset=$1
  shift
  start=$(date +%s)
  gankit train "$preset" $DATA "$@" --out "$OUT/$name" --quiet > "$OUT/$name.train.log" 2>&1
  echo "$name train $(($(date +%s) - start)) s" | tee -a "$OUT/times.txt"
  start=$(date +%s)
  evaluate_on_mnist_test "$OUT/$name" "$OUT/$name"
  echo "$name eval $(($(date +%s) - start)) s" | tee -a "$OUT/times.txt"
done
python benchmarks/conditional_mnist_table.py "$OUT"
