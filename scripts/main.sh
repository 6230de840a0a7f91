#!/usr/bin/env bash
# Set everything up and run the main job: two rounds of offline discovery (the LLM-free evolve
# proposer; no network, no API key), then the report of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
RUN="runs/main-$(date +%Y%m%d-%H%M%S)"
.venv/bin/autotts discover --rounds 2 --out "$RUN"
.venv/bin/autotts report "$RUN"
echo "report: $RUN/report/report.html"
