#!/usr/bin/env bash
# The GPU check in one command (< 8 minutes): see benchmarks/gpu_run.py.
#   bash benchmarks/gpu_run.sh              # on a machine with a CUDA GPU (CuPy and torch CUDA installed)
#   bash benchmarks/gpu_run.sh --dry-run    # anywhere: the same steps on the CPU at tiny sizes
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD:$PWD/adapters${PYTHONPATH:+:$PYTHONPATH}"
out="${OUT:-.}"
exec timeout 470 "$PY" benchmarks/gpu_run.py --json "$out/gpu_run.json" "$@"
