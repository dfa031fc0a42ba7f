#!/usr/bin/env bash
# The first thing to run on a machine with an NVIDIA GPU (issue 6): builds the CUDA tree, runs every GPU
# test (ctest label `gpu`, and the CUDA pytest files when the project venv exists) and the GPU benchmarks,
# and writes the logs plus a summary to OUT (default out/gpu_check).
#   scripts/gpu_check.sh [OUT]
# Exit status: 0 when every GPU test passed, 1 when one failed, 3 when there is no CUDA device here.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/gpu_check}
BUILD=${BUILD:-build-gpu}
mkdir -p "$OUT"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >"$OUT/devices.txt" 2>&1; then
  echo "gpu_check: no CUDA device here (nvidia-smi finds none); nothing to check" | tee "$OUT/summary.md"
  exit 3
fi
# The device's compute capability picks the architecture to build for (e.g. 9.0 -> 90); 90 if unknown.
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
ARCH=${CUDA_ARCH:-${CC:-90}}
PY=.venv/bin/python
PYFLAGS=(-DPIANOGRAD_PYTHON=OFF)
[ -x "$PY" ] && PYFLAGS=(-DPIANOGRAD_PYTHON=ON "-DPython_EXECUTABLE=$PWD/$PY")

LAUNCHER=()
command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPIANOGRAD_CUDA=ON \
      "-DCMAKE_CUDA_ARCHITECTURES=$ARCH" "${LAUNCHER[@]}" "${PYFLAGS[@]}" >"$OUT/configure.log" 2>&1 ||
  { echo "gpu_check: configure failed (see $OUT/configure.log)"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" >"$OUT/build.log" 2>&1 ||
  { echo "gpu_check: build failed (see $OUT/build.log)"; exit 1; }

status=0
ctest --test-dir "$BUILD" -L gpu --output-on-failure -j 4 >"$OUT/ctest_gpu.log" 2>&1 || status=1
# The process groups (when Open MPI is installed): the one-rank run takes the NCCL path on this GPU.
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ctest --test-dir "$BUILD" -L distributed \
  --output-on-failure >"$OUT/ctest_distributed.log" 2>&1 || status=1
if [ -x "$PY" ]; then
  PYTHONPATH="$BUILD/python" "$PY" -m pytest -q tests/python/test_cuda.py tests/python/test_cuda_model.py \
    >"$OUT/pytest_cuda.log" 2>&1 || status=1
fi
"$BUILD/bench/cuda/pianograd_gpu_bench" >"$OUT/gpu_bench.txt" 2>&1 || status=1
"$BUILD/bench/cuda/dev_modal_scan" >"$OUT/dev_modal_scan.txt" 2>&1 || status=1

{
  echo "# GPU check ($(date -u +%Y-%m-%dT%H:%MZ), sm_$ARCH)"
  echo
  sed 's/^/    /' "$OUT/devices.txt"
  echo
  echo "ctest -L gpu: $(grep -E 'tests passed|tests failed' "$OUT/ctest_gpu.log" | tail -1)"
  [ -f "$OUT/pytest_cuda.log" ] && echo "pytest (CUDA files): $(tail -1 "$OUT/pytest_cuda.log")"
  echo
  echo "## pianograd_gpu_bench"
  echo
  sed 's/^/    /' "$OUT/gpu_bench.txt"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
exit $status
