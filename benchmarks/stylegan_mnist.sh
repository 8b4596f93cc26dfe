#!/usr/bin/env bash
# The README's mnist-stylegan measurements: train the preset on MNIST's first 10k training images, then the
# latent-structure commands, projection of 100 held-out test images and "more like x".
# Usage: NPZ=path/to/train-first10k.npz bash benchmarks/stylegan_mnist.sh   (OUT for the folders)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/mnist_eval.sh  # NPZ and the thread default
OUT=${OUT:-runs/stylegan-mnist}
R=$OUT/mnist-stylegan
O=$OUT/results
mkdir -p "$O"
if [ -d "$R/checkpoints" ]; then
  gankit train --resume "$R" --quiet
else
  gankit train mnist-stylegan data.name=npz data.path="$NPZ" eval.every=0 --out "$R" --quiet
fi
F="classifier:$NPZ"
gankit sample "$R" -n 64 --out "$O/samples.png"
gankit style mixing "$R" --out "$O/mixing" --json "$O/mixing.json"
gankit style noise "$R" --out "$O/noise" --json "$O/noise.json"
gankit style truncation "$R" -n 2000 --features "$F" --out "$O/truncation" --json "$O/truncation.json"
gankit style interpolate "$R" -n 1000 --features "$F" --out "$O/interpolate" --json "$O/interpolate.json"
gankit project "$R" mnist-test:0:100 --steps 500 --features "$F" --out "$O/project" --json "$O/project.json"
gankit more-like "$R" mnist-test:100:116 --n 16 --steps 500 --features "$F" --out "$O/more-like" --json "$O/more-like.json"
