#!/usr/bin/env bash
# The GPU check, one script for a borrowed GPU machine that has torch but no network and no gankit install: the tests
# that need CUDA (tests/test_gpu.py), the benchmarks with --device cuda, and a short training run on the GPU. Each
# part has its own time limit so that one slow part cannot eat the others' time; a part whose peer library is not
# importable there (torch-fidelity for benchmarks/metrics.py) is skipped with a line saying so. Everything printed
# also goes to $OUT/device-check.txt; the README's GPU table is copied from it, with the GPU's name.
# Usage, from the repository root: bash benchmarks/device_check.sh        (OUT, ASSETS: the offline assets folder)
# Extra pure-Python peers can travel in .device-deps/ (for example a copy of torch_fidelity/ from a venv).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.device-deps${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:-runs/device-check}
ASSETS=${ASSETS:-shared/assets}
[ -d "$ASSETS" ] || ASSETS=../shared/assets
export GANKIT_TEST_ASSETS="$ASSETS" GANKIT_HOME="$OUT/gankit-home"
mkdir -p "$OUT"
LOG="$OUT/device-check.txt"
: > "$LOG"

part() {  # part SECONDS COMMAND...: run with a time limit, print and log its output and exit status
  local limit=$1
  shift
  echo "== $* (limit ${limit} s)" | tee -a "$LOG"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  echo "== exit ${PIPESTATUS[0]} after $((SECONDS - start)) s" | tee -a "$LOG"
}

part 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
part 30 python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))"
part 120 python -m pytest -q -p no:cacheprovider tests/test_gpu.py
part 150 python benchmarks/train_step.py --device cuda --only dcgan32,sngan32,stylegan32 --iters 10
part 60 python benchmarks/memory_format.py --device cuda
if python -c "import torch_fidelity" 2> /dev/null; then
  part 180 python benchmarks/metrics.py --device cuda --batches 20
else
  echo "== benchmarks/metrics.py skipped: torch-fidelity is not importable here (put it in .device-deps/)" | tee -a "$LOG"
fi
part 120 python -m gankit train digits train.device=cuda train.steps=2000 --out "$OUT/digits-cuda" --quiet
