#!/usr/bin/env bash
# One-call GPU check (issue 13): on a machine with a CUDA device and the project installed
# (pip install -e '.[test]'; this script installs nothing), runs
#   1. pytest -m gpu                       (CUDA extraction tests; they fail, not skip, here)
#   2. benchmarks/extract.py --gpu         (resnet34 / densenet121 / ViT-L/14, random weights,
#      batch sizes auto (probed), 256 and 1024, --decode cpu and gpu, --compile at the largest batch size,
#      on 2,048 generated COCO-sized JPEGs: items/s, GPU utilisation, pipeline / forward-only)
# and writes gpu_pytest.txt, gpu_bench.txt and gpu_bench.json under $OUT (default ./gpu-out).
# Budget: under 8 minutes on one H200 (the benchmark stops itself at 7 minutes).
#
#   bash benchmarks/gpu.sh            # on the GPU machine
#   bash benchmarks/gpu.sh --dry-run  # everything but CUDA, on CPU, tiny stand-in models
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=0
for a in "$@"; do
  case "$a" in
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown argument $a (use --dry-run)" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
JPEGS=${INFOGAUSS_BENCH_JPEGS:-$OUT/jpegs}
start=$(date +%s)

if [ "$DRY" = 1 ]; then
  echo "== dry run on CPU: pytest -m gpu (collected, skipped without CUDA) =="
  "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/extract/test_gpu.py 2>&1 | tee "$OUT/gpu_pytest.txt"
  echo "== dry run on CPU: extraction benchmark, tiny stand-ins =="
  "$PY" benchmarks/extract.py --gpu-dry-run --n 8 --batch-sizes auto,4,8 --dir "$JPEGS" \
    --models "${MODELS:-resnet34,vit-l14}" \
    --json "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/gpu_bench.txt"
else
  "$PY" - <<'PYEOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu.sh: no CUDA device visible to torch; use --dry-run on a CPU machine")
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PYEOF
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  echo "== pytest -m gpu =="
  set +e
  "$PY" -m pytest -q -m gpu -p no:cacheprovider 2>&1 | tee "$OUT/gpu_pytest.txt"
  rc_tests=${PIPESTATUS[0]}
  set -e
  echo "== extraction benchmark =="
  timeout 420 "$PY" benchmarks/extract.py --gpu --n "${N:-2048}" --batch-sizes auto,256,1024 \
    --dir "$JPEGS" --json "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/gpu_bench.txt" || true
  [ "${rc_tests:-0}" = 0 ] || echo "gpu.sh: pytest -m gpu FAILED (exit $rc_tests)"
fi
echo "gpu.sh: done in $(( $(date +%s) - start )) s; results in $OUT"
