# Sourced by the MNIST benchmark scripts (conditional_mnist.sh, stylegan_vs_dcgan.sh, stylegan_mnist.sh), so that
# their tables share one evaluation protocol: the first 10k MNIST training images (NPZ) fit the classifier whose
# features score samples against the 10k test images at 32x32. One thread per process by default: on a shared
# 2-core machine two OpenMP threads spin-wait and run many times slower.
NPZ=${NPZ:-../shared/assets/mnist/train-first10k.npz}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# evaluate_on_mnist_test FAKE PREFIX: FID, KID (20 subsets) and precision / recall of FAKE (a run or an .npz)
# against the test images; writes PREFIX.eval.json and PREFIX.eval.log and prints the log
evaluate_on_mnist_test() {
  gankit eval --real mnist-test@32 --fake "$1" --features "classifier:$NPZ" --metrics fid,kid,pr \
    --fid-bootstrap 0 --no-fid-infinity --kid-subsets 20 --quiet --json "$2.eval.json" > "$2.eval.log" 2>&1
  cat "$2.eval.log"
}
