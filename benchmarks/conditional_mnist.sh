#!/usr/bin/env bash
# The README's conditional-MNIST table: equal steps for an unconditional DCGAN, conditional DCGANs (concat D,
# projection D, AC-GAN), cBN + projection in BigGAN blocks and the mnist-biggan preset, on MNIST's first 10k
# training images at 32x32; each evaluated on the 10k test images in the features of the classifier fitted on
# the same training images. Usage: NPZ=path/to/train-first10k.npz bash benchmarks/conditional_mnist.sh
# (NAMES="dcgan acgan" for some rows, STEPS, OUT). One thread per process: on a shared 2-core machine two OpenMP
# threads spin-wait and run many times slower.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-1500}
OUT=${OUT:-runs/conditional-mnist}
NPZ=${NPZ:-../shared/assets/mnist/train-first10k.npz}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
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
  gankit eval --real mnist-test@32 --fake "$OUT/$name" --features "classifier:$NPZ" --metrics fid,kid,pr \
    --fid-bootstrap 0 --no-fid-infinity --kid-subsets 20 --quiet --json "$OUT/$name.eval.json" > "$OUT/$name.eval.log" 2>&1
  echo "$name eval $(($(date +%s) - start)) s" | tee -a "$OUT/times.txt"
  cat "$OUT/$name.eval.log"
done
python benchmarks/conditional_mnist_table.py "$OUT"
