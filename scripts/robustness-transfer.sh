#!/usr/bin/env bash
# Transfer of discovery: run the offline evolve proposer once per model (BY=model: that model's aime24
# store only) or once per benchmark (BY=benchmark: that benchmark on all four models), then the
# robustness report of POLICY with the transfer matrix: each run's chosen controller judged on every
# model and benchmark of the evaluation stores (targets among a run's own search stores are marked
# "in sample"; with BY=benchmark pass ROBUSTNESS_ARGS="--split all" so every benchmark is a target).
#   ROUNDS=2 SEEDS=20 POLICY=evo OUT=runs/transfer BY=model bash scripts/robustness-transfer.sh
# ROBUSTNESS_ARGS is passed on to `autotts robustness` (e.g. "--seeds 10 --conditions delta1000"),
# PROPOSER (default evolve) and PROPOSER_ARGS to `autotts discover`. The evolve proposer refuses the
# published held-out stores (aime25, hmmt25) as search stores by design, so BY=benchmark needs another
# proposer (e.g. PROPOSER=claude-code PROPOSER_ARGS="--max-usd 10").
# Finished runs are reused; an interrupted one is resumed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
SEEDS=${SEEDS:-20}
POLICY=${POLICY:-evo}
OUT=${OUT:-runs/transfer}
BY=${BY:-model}
PROPOSER=${PROPOSER:-evolve}
if [ "$BY" = benchmark ] && [ "$PROPOSER" = evolve ]; then
  echo "BY=benchmark searches aime25 and hmmt25, which the evolve proposer refuses (held-out by design);" \
    "choose another proposer, e.g. PROPOSER=claude-code" >&2
  exit 2
fi
AUTOTTS=${AUTOTTS:-.venv/bin/autotts}
models=(Qwen3-0.6B Qwen3-1.7B Qwen3-4B Qwen3-8B)
case "$BY" in
  model) sources=("${models[@]}") ;;
  benchmark) sources=(aime24 aime25 hmmt25) ;;
  *) echo "BY must be model or benchmark, got $BY" >&2; exit 2 ;;
esac
runs=()
for source in "${sources[@]}"; do
  run="$OUT/on-$source"
  if [ "$BY" = model ]; then
    stores=(--search-stores "$source/aime24")
  else
    stores=()
    for model in "${models[@]}"; do
      for bench in aime24 aime25 hmmt25; do  # the other benchmarks as held-out, so the split has no overlap
        if [ "$bench" = "$source" ]; then stores+=(--search-stores "$model/$bench"); else stores+=(--heldout-stores "$model/$bench"); fi
      done
    done
  fi
  if [ -f "$run/summary.json" ]; then
    echo "reusing $run"
  elif [ -d "$run" ]; then
    "$AUTOTTS" discover --resume "$run"
  else
    # shellcheck disable=SC2086  # PROPOSER_ARGS is a list of words on purpose
    "$AUTOTTS" discover --proposer "$PROPOSER" --rounds "$ROUNDS" --seeds "$SEEDS" "${stores[@]}" --no-heldout \
      --out "$run" ${PROPOSER_ARGS:-}
  fi
  runs+=(--transfer "$run")
done
# shellcheck disable=SC2086  # ROBUSTNESS_ARGS is a list of words on purpose
"$AUTOTTS" robustness "$POLICY" "${runs[@]}" --out "$OUT/report" ${ROBUSTNESS_ARGS:-}
