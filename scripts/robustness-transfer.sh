#!/usr/bin/env bash
# Transfer of discovery: run the offline evolve proposer once per model, searching only that model's
# aime24 store, then the robustness report of POLICY with the transfer matrix (each run's chosen
# controller on every model and benchmark of the held-out stores).
#   ROUNDS=2 SEEDS=20 POLICY=evo OUT=runs/transfer bash scripts/robustness-transfer.sh
# ROBUSTNESS_ARGS is passed on to `autotts robustness` (e.g. "--seeds 10 --conditions delta1000").
# Finished runs are reused; an interrupted one is resumed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
SEEDS=${SEEDS:-20}
POLICY=${POLICY:-evo}
OUT=${OUT:-runs/transfer}
AUTOTTS=${AUTOTTS:-.venv/bin/autotts}
runs=()
for model in Qwen3-0.6B Qwen3-1.7B Qwen3-4B Qwen3-8B; do
  run="$OUT/on-$model"
  if [ -f "$run/summary.json" ]; then
    echo "reusing $run"
  elif [ -d "$run" ]; then
    "$AUTOTTS" discover --resume "$run"
  else
    "$AUTOTTS" discover --rounds "$ROUNDS" --seeds "$SEEDS" --search-stores "$model/aime24" --no-heldout --out "$run"
  fi
  runs+=(--transfer "$run")
done
# shellcheck disable=SC2086  # ROBUSTNESS_ARGS is a list of words on purpose
"$AUTOTTS" robustness "$POLICY" "${runs[@]}" --out "$OUT/report" ${ROBUSTNESS_ARGS:-}
