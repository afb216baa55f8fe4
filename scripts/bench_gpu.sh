#!/usr/bin/env bash
# Benchmark figures on a lent NVIDIA GPU (device machine: python3 holds a CUDA torch, no
# registry). Carry `.comfyui` (the host) and `.whl` (wheels the image lacks: av, torchsde,
# trampoline, made by `scripts/bench_gpu.sh --wheels` here), then run this in the repo root:
#   run(command="bash scripts/bench_gpu.sh", carry=[".comfyui", ".whl"], timeout_s=420)
# and, in a second call (each SDXL run first builds 2.6 G random weights on the CPU):
#   run(command="bash scripts/bench_gpu.sh --families", carry=[".comfyui", ".whl"], timeout_s=560)
# Logs go to $OUT (or out/bench). Not yet run on a GPU: expected a few minutes on an H100.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--wheels" ]; then  # here, with registry access: the wheels to carry
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl av==18.1.0 torchsde==0.2.6 trampoline==0.1.2
  exit
fi

PY=${PY:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/.comfyui:$PWD/.comfyui/custom_nodes:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
out=${OUT:-out/bench}
mkdir -p "$out"
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi") | tee "$out/gpu.txt"

bench() {  # name, then bench.run arguments
  local name=$1; shift
  echo "== python -m bench.run $*" | tee "$out/$name.log"
  # One failing run must not cost the others their figures.
  $PY -m bench.run "$@" 2>&1 | grep -v "torchaudio missing" | tee -a "$out/$name.log" \
    || echo "== $name FAILED" | tee -a "$out/$name.log"
}
if [ "${1:-}" = "--families" ]; then
  # SD2.x 768-v and SDXL at their native sizes; SDXL's PBSI peak with and without activation checkpointing
  bench sd2_768 --model sd2 --preset default --size 768
  bench sdxl1024 --model sdxl --preset default --size 1024
  bench sdxl1024_probe --model sdxl --preset probe --size 1024
  bench sdxl1024_probe_ckpt --model sdxl --preset probe --size 1024 --activation-checkpointing
  exit
fi
bench quick --quick                                        # sanity, and warms caches
bench default512 --preset default --size 512 --calibrate 3  # the paper's setting, host dtype
bench default512_bf16 --preset default --size 512 --dtype bf16
bench fast512 --preset fast --size 512
bench default256 --preset default --size 256
