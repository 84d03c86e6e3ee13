#!/usr/bin/env bash
# The GPU checks of issue 25 in one go, about 10 minutes of one H100 at the defaults:
#   - simve timing of SimVE and SimCLR on the FashionMNIST and CIFAR10 subsets (steps/s, phases, bare step);
#   - SimVE and SimCLR trained EPOCHS epochs in fp32 and in bf16 (--precision bf16), with their curves
#     (steps/s and validation content against the CPU figures of docs/results.md#timing);
#   - time to 75 % validation content of the default SimVE on FashionMNIST, one seed;
#   - a 1-GPU torchrun run (the DDP path: NCCL, SyncBatchNorm) of SimCLR on CIFAR10.
# Everything goes under OUT (default results/timing/gpu); a failing step stops the script with its error.
# Dry run on a CPU, in about two minutes: DEVICE=cpu EPOCHS=1 LIMIT=300 bash scripts/gpu_check.sh
set -euo pipefail
DATA_ROOT=${DATA_ROOT:-../shared/data}
OUT=${OUT:-results/timing/gpu}
DEVICE=${DEVICE:-cuda}
EPOCHS=${EPOCHS:-5}
LIMIT=${LIMIT:-}
PYTHON=${PYTHON:-python}
limit=${LIMIT:+--limit $LIMIT}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
for data in fashionmnist cifar10; do
  $PYTHON -m simve timing --data "$data" --data-root "$DATA_ROOT" $limit --models simve,simclr --device "$DEVICE" \
    --batch-size 256 --no-scaling --no-eval --out "$OUT/timing-$data"
  for model in simve simclr; do
    for precision in fp32 bf16; do
      $PYTHON -m simve train --model "$model" --data "$data" --data-root "$DATA_ROOT" $limit --epochs "$EPOCHS" \
        --batch-size 256 --device "$DEVICE" --precision "$precision" --curve --out "$OUT/runs/$data-$model-$precision"
    done
  done
done
$PYTHON -m simve timing --data fashionmnist --data-root "$DATA_ROOT" $limit --models simve --device "$DEVICE" \
  --to-accuracy 0.75 --seeds 1 --max-epochs 40 --out "$OUT/time-to-accuracy"
$PYTHON -m torch.distributed.run --standalone --nproc_per_node 1 -m simve train --model simclr --data cifar10 \
  --data-root "$DATA_ROOT" $limit --epochs 1 --batch-size 256 --device "$DEVICE" --out "$OUT/runs/torchrun-simclr"
for run in "$OUT"/runs/*/; do  # one line a run: its steps/s over the whole run and its last validation content reading
  $PYTHON - "$run" <<'PY'
import sys
from simve.evaluate.curve import curve_points
from simve.train import read_curve, read_metrics
last = [r for r in read_metrics(sys.argv[1]) if "train_loss" in r][-1]
curve = curve_points(read_curve(sys.argv[1]))
content = f"{100 * curve[-1]['content']:.1f} % val content at epoch {curve[-1]['epoch']}" if curve else "no curve"
print(f"{sys.argv[1]}: {last['step'] / last['time']:.1f} steps/s over {last['step']} steps, {content}")
PY
done
