#!/usr/bin/env bash
# One training stage of a photo recipe on one large GPU, end to end inside the device tool's 9-minute call:
# train from the compact data (`python -m training pack data/compact`, carried along; <= 40 MiB), bfloat16
# autocast, larger batches and crops than the CPU stages, and the run folder (best.pt of a few MiB,
# metrics.json, plots, train.log) written under $OUT to come back. Export and evaluation run back home.
#
#   training/gpu_stage.sh photo-denoise --init onnx_models/photo_denoise.onnx
#   training/gpu_stage.sh photo-sr-x2 --init onnx_models/photo_sr_x2.onnx --set lr=5e-4
#
# Environment: OUT (default runs/gpu), DATA (default data/compact), DEVICE (default cuda; cpu for the test),
# BUDGET_S (training seconds, default 420: leaves the call time to start, load and report).
set -euo pipefail
recipe=$1
shift
out=${OUT:-runs/gpu}
mkdir -p "$out"
case $recipe in
    photo-denoise) sets=(--set batch_size=64 --set crop_size=128 --set epoch_size=16384 --set lr=5e-4) ;;
    photo-sr-x2) sets=(--set batch_size=64 --set crop_size=192 --set epoch_size=16384 --set lr=1e-3) ;;
    *) echo "no GPU settings for recipe $recipe" >&2; exit 2 ;;
esac
amp=()
[ "${DEVICE:-cuda}" = cpu ] || amp=(--amp)
PYTHONUNBUFFERED=1 python -m training train "$recipe" --device "${DEVICE:-cuda}" "${amp[@]}" \
    --threads "$(nproc)" --data-dir "${DATA:-data/compact}" --out "$out" \
    --set time_budget_s="${BUDGET_S:-420}" "${sets[@]}" "$@" 2>&1 | tee "$out/train.log"
