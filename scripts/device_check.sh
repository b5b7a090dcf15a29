#!/usr/bin/env bash
# One command on a GPU machine: install the GPU build of JAX, run the device-sensitive tests,
# time a Transformer step (1 device, and split over all GPUs when there are several) and the
# --quick grid, and print a small table.
#
#     bash scripts/device_check.sh            # results under $OUT (default /tmp/rexbench-device-check)
#
# JAX 0.10 publishes both "jax[cuda13]" (CUDA 13, NVIDIA driver >= 580) and "jax[cuda12]"
# (driver >= 525); the driver's CUDA version picks one. The extra is pinned to the jax
# version already installed, so the GPU plugin matches it. Skipped when JAX already sees a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/rexbench-device-check}
mkdir -p "$OUT"
PY=.venv/bin/python
[ -x "$PY" ] || python3 -m venv .venv
"$PY" -m pip install -q -e ".[test]"

gpus() { "$PY" -c 'import jax; print(sum(d.platform == "gpu" for d in jax.devices()))' 2>/dev/null || echo 0; }
if [ "$(JAX_PLATFORMS= gpus)" = 0 ]; then
    command -v nvidia-smi >/dev/null || { echo "device_check: no nvidia-smi: not a CUDA machine" >&2; exit 1; }
    cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -1)
    extra=$([ "${cuda:-0}" -ge 13 ] && echo cuda13 || echo cuda12)
    version=$("$PY" -c 'import jax; print(jax.__version__)')
    echo "device_check: driver CUDA ${cuda:-?}: pip install jax[$extra]==$version"
    "$PY" -m pip install -q "jax[$extra]==$version" \
        || { echo "device_check: pip install jax[$extra]==$version failed (no network?)" >&2; exit 1; }
fi
export JAX_PLATFORMS=cuda REXBENCH_JAX_CACHE=off
N=$(gpus)
[ "$N" -ge 1 ] || { echo "device_check: JAX sees no GPU after the install" >&2; exit 1; }
"$PY" -c 'import jax; print("device_check:", jax.__version__, jax.devices())'

timed() { local name=$1 t0=$SECONDS rc=0; shift; "$@" > "$OUT/$name.log" 2>&1 || rc=$?; echo "$name $((SECONDS - t0)) $rc" >> "$OUT/times"; }
: > "$OUT/times"

# Device-sensitive tests: golden first steps (rtol 1e-5) and seeds-together = alone (train),
# causality and cache = forward (models). test_scaleout.py forces its children onto CPU
# (virtual devices, loopback hosts), so it checks the code paths here, not the GPU.
timed tests "$PY" -m pytest -q -p no:cacheprovider tests/test_train.py tests/test_models.py tests/test_scaleout.py
timed step "$PY" scripts/bench_train.py --models transformer --seeds 5 --steps 20
if [ "$N" -gt 1 ]; then
    timed step_devices "$PY" scripts/bench_train.py --devices "$N" --models transformer --seeds 8 --steps 20
fi
rm -rf "$OUT/quick"
timed quick .venv/bin/rexbench reproduce --quick --out "$OUT/quick" --no-progress --no-checkpoints

echo
echo "| check | seconds | exit | detail |"
echo "|---|---|---|---|"
while read -r name secs rc; do
    case $name in
        tests) detail=$(tail -1 "$OUT/tests.log") ;;
        step*) detail=$(grep '^transformer |' "$OUT/$name.log" | head -1) ;;
        quick) detail=$(grep 'grid done' "$OUT/quick.log" | tail -1) ;;
    esac
    detail=${detail//|//}  # the table's own separator
    echo "| $name | $secs | $rc | ${detail:-see $OUT/$name.log} |"
done < "$OUT/times"
echo
echo "logs: $OUT/*.log"
